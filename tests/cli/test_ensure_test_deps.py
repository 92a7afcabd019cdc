"""scripts/ensure_test_deps.sh (run by ``make test`` and ``.ci/run``): which packages it
finds missing, and what it does about them, on a PATH made for the test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure_test_deps.sh"
TOOLS = ("make", "go", "promtool", "haproxy", "chromium", "chromedriver")


def _run(
    tmp: Path, present: tuple[str, ...], apt_get: str, *, font: bool = True
) -> subprocess.CompletedProcess[str]:
    """The script with only ``present`` of the tools on PATH (plus what the script itself
    runs), PostgreSQL and golang.org/x/mod present, and the CJK font if ``font``."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "ls", "id", "env"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    for tool in present:
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    initdb = tmp / "pg" / "initdb"
    initdb.parent.mkdir()
    initdb.write_text("")
    x_mod = tmp / "x-mod"
    x_mod.mkdir()
    cjk = tmp / "NotoSansCJK-Regular.ttc"
    if font:
        cjk.write_text("")
    env = {
        "PATH": str(bin_dir),
        "PG_GLOB": str(tmp / "pg" / "initd*"),
        "GO_X_MOD_DIR": str(x_mod),
        "APT_GET": apt_get,
        "CJK_FONT_GLOB": str(cjk),
    }
    return subprocess.run(
        [str(bin_dir / "bash"), str(SCRIPT)], capture_output=True, text=True, env=env, check=False
    )


def test_nothing_missing_exits_0(tmp_path: Path) -> None:
    result = _run(tmp_path, TOOLS, apt_get="no-such-apt-get")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_without_apt_it_prints_the_exact_install_command(tmp_path: Path) -> None:
    result = _run(tmp_path, ("make", "promtool", "chromium"), apt_get="no-such-apt-get")
    assert result.returncode == 1
    assert "sudo apt-get install -y golang-go haproxy chromium-driver" in result.stderr


def test_a_missing_cjk_font_is_named(tmp_path: Path) -> None:
    result = _run(tmp_path, TOOLS, apt_get="no-such-apt-get", font=False)
    assert result.returncode == 1
    assert "sudo apt-get install -y fonts-noto-cjk" in result.stderr


def test_as_root_with_apt_it_installs_what_is_missing(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        result = _run(tmp_path, ("make",), apt_get="no-such-apt-get")
        expected = "sudo apt-get install -y golang-go prometheus haproxy chromium chromium-driver"
        assert expected in result.stderr
        return
    log = tmp_path / "apt.log"
    fake = tmp_path / "fake-apt-get"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    fake.chmod(0o755)
    result = _run(tmp_path, ("make", "go", "promtool", "chromedriver"), apt_get=str(fake))
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq haproxy chromium"]


def test_make_names_python3_venv_when_venv_fails(tmp_path: Path) -> None:
    """Debian's system Python without python3-venv: `make demo` says what to install."""
    venv = tmp_path / "venv"
    result = subprocess.run(
        ["make", "-C", str(SCRIPT.parents[1]), f"VENV={venv}", "PYTHON=/bin/false", "demo"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "sudo apt-get install -y python3-venv" in result.stderr
    assert not venv.exists()  # no half-made environment left for the next run
