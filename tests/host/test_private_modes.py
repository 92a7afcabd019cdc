"""Issue 15: the gateway home, its store (with the SQLite -wal and -shm files serve makes)
and node identity directories are private whatever the umask: directories 0700, files
0600. Through the installed command, under umask 022."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.installed_cli import assert_exit, xinlian
from support.processes import GatewayProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def wide_paths(root: Path) -> list[str]:
    """Every path under ``root`` (and root) not 0700 (directory) or 0600 (file)."""
    wide = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            wide.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return wide


def test_init_serve_and_enroll_leave_only_private_files(tmp_path: Path, umask_022: None) -> None:
    home = tmp_path / "gateway"
    assert_exit(xinlian("gateway", "init", "--home", str(home)), 0)
    assert (home / "gateway.db").exists() and (home / "config.json").exists()
    assert wide_paths(home) == []
    gateway = GatewayProcess(home).start()  # its log file is made under umask 022
    try:
        ca = home / "ca" / "ca.pem"
        token = gateway.admit("city_platform", "fz-platform")  # a write: the WAL file exists
        out = tmp_path / "nodes" / "fz-platform"
        enrolled = xinlian(
            "node", "enroll", "--gateway", gateway.enroll_address,
            "--token", token, "--ca", str(ca), "--out", str(out),
        )  # fmt: skip
        assert_exit(enrolled, 0)
        assert sorted(p.name for p in out.iterdir()) == [
            "ca.pem", "identity.json", "node.key", "node.pem",
        ]  # fmt: skip
        assert wide_paths(out) == []
        assert (home / "gateway.db-wal").exists()
        assert wide_paths(home) == []
    finally:
        gateway.stop()
    assert wide_paths(home) == []
