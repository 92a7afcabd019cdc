"""Build one of the Go cross-check tools of tests/tools offline, in GOPATH mode, against
the Debian packages ``golang-go`` and ``golang-golang-x-mod-dev`` (sources under
/usr/share/gocode/src, or ``XINLIAN_TEST_GOPATH``). Tests using it are skipped only when
``go`` is not on PATH; a missing x/mod fails the build, so a broken CI image is noticed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

GO = shutil.which("go")
TOOLS = Path(__file__).resolve().parents[1] / "tools"
GOPATH = os.environ.get("XINLIAN_TEST_GOPATH", "/usr/share/gocode")
BUILD_TIMEOUT_S = 180


def build_go_tool(name: str, out: Path) -> Path:
    """``tests/tools/<name>/main.go`` built into ``out``; the binary's path."""
    assert GO is not None
    binary = out / name
    env = {
        **os.environ,
        "GOPATH": GOPATH,
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "GOCACHE": str(out / "gocache"),
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "CGO_ENABLED": "0",
    }
    result = subprocess.run(
        [GO, "build", "-o", str(binary), str(TOOLS / name / "main.go")],
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (
        f"building tests/tools/{name} failed (is golang-golang-x-mod-dev installed, "
        f"GOPATH={GOPATH}?):\n{result.stderr}"
    )
    return binary
