#!/usr/bin/env bash
# What `make test` needs beyond Python, and what .ci/run installs: one list.
#   - PostgreSQL server binaries (initdb), for the tests on PostgreSQL;
#   - Go and golang.org/x/mod, to check our checkpoints with the standard sumdb/note verifier;
#   - promtool (Debian's prometheus) for deploy/prometheus, haproxy for deploy/haproxy.cfg;
#   - a CJK font (Debian's fonts-noto-cjk) for the monthly report's Chinese chart labels;
#   - chromium and chromium-driver, for the console's browser tests and the demo's screenshots;
#   - make.
# Missing packages are installed when running as root with apt-get; otherwise the script
# prints the exact command to run and exits 1.
# Environment (for tests): PG_GLOB (where initdb is looked for), GO_X_MOD_DIR, APT_GET,
# CJK_FONT_GLOB (where the Noto CJK font is looked for).
set -euo pipefail

pg_glob="${PG_GLOB:-/usr/lib/postgresql/*/bin/initdb}"
x_mod_dir="${GO_X_MOD_DIR:-/usr/share/gocode/src/golang.org/x/mod}"
apt_get="${APT_GET:-apt-get}"
cjk_font_glob="${CJK_FONT_GLOB:-/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc}"

need=()
# shellcheck disable=SC2086 # the glob is meant to expand
ls $pg_glob >/dev/null 2>&1 || need+=(postgresql)
command -v make >/dev/null 2>&1 || need+=(make)
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d "$x_mod_dir" ] || need+=(golang-golang-x-mod-dev)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
# shellcheck disable=SC2086 # the glob is meant to expand
ls $cjk_font_glob >/dev/null 2>&1 || need+=(fonts-noto-cjk)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v "$apt_get" >/dev/null 2>&1; then
  echo "installing the test dependencies: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "$apt_get" update -qq
  "$apt_get" install -y -qq "${need[@]}"
  exit 0
fi

echo "make test needs packages that are not installed: ${need[*]}" >&2
echo "install them (Debian/Ubuntu) with:" >&2
echo "  sudo apt-get install -y ${need[*]}" >&2
exit 1
