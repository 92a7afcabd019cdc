"""Build the Go test tools under tests/tools offline, in GOPATH mode, against the
golang.org/x/mod sources of the Debian package ``golang-golang-x-mod-dev``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

GO = shutil.which("go")
GOPATH = os.environ.get("XINLIAN_TEST_GOPATH", "/usr/share/gocode")


def build_go_tool(source: Path, out: Path) -> Path:
    """``go build`` of ``source`` into ``out``; fails the test with Go's output."""
    assert GO is not None
    binary = out / source.parent.name
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
        [GO, "build", "-o", str(binary), str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        f"building {source} failed (is golang-golang-x-mod-dev installed, "
        f"GOPATH={GOPATH}?):\n{result.stderr}"
    )
    return binary
