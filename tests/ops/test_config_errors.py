"""A bad ``log_format`` or ``ops_listen`` (in config.json or as a ``serve`` option) ends
the installed command with exit code 2 (USAGE) and one line naming the key and what is
wanted: no traceback, no "this is a bug"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.installed_cli import assert_exit, xinlian

from gateway.host.config import CONFIG_FILE
from gateway.host.home import init_home
from xinlian.exit_codes import ExitCode


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("key", "value", "wanted"),
    [
        ("log_format", "xml", "one of text, json"),
        ("ops_listen", "9464", "HOST:PORT"),
        ("readiness_max_checkpoint_age_s", -1.0, "a positive number"),
    ],
)
def test_bad_key_in_config_json(tmp_path: Path, key: str, value: object, wanted: str) -> None:
    home = tmp_path / "gw"
    init_home(home)
    path = home / CONFIG_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data[key] = value
    path.write_text(json.dumps(data), encoding="utf-8")

    for command in (["gateway", "config"], ["gateway", "serve"]):
        result = xinlian(*command, "--home", str(home))
        assert_exit(result, ExitCode.USAGE)
        line = _one_line(result.stderr)
        assert line.startswith(f"error: {key} (config.json") and wanted in line, line
        assert "bug" not in line


def test_bad_ops_listen_option(tmp_path: Path) -> None:
    home = tmp_path / "gw"
    init_home(home)
    result = xinlian("gateway", "serve", "--home", str(home), "--ops-listen", "localhost:http")
    assert_exit(result, ExitCode.USAGE)
    line = _one_line(result.stderr)
    assert "ops_listen" in line and "--ops-listen" in line and "HOST:PORT" in line, line
