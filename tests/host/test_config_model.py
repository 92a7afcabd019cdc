"""The gateway's one settings model (issue 15, item 3): every key from config.json or
XINLIAN_*, the environment winning; a bad value or an unknown key named at start, exit 2,
one line; docs/configuration.md generated from the model; secrets never shown or saved."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support.installed_cli import XINLIAN, assert_exit, xinlian

from gateway.host.config import CONFIG_FILE, GatewayConfig
from gateway.host.home import init_home
from xinlian.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Pw-0f-the-DB-91x"


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def _set(home: Path, **values: object) -> None:
    path = home / CONFIG_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(values)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_unknown_key_is_named_with_the_close_match(tmp_path: Path) -> None:
    home = init_home(tmp_path / "gw").home
    _set(home, retention_day=30)
    for command in ("config", "serve", "migrate"):
        result = xinlian("gateway", command, "--home", str(home))
        assert_exit(result, ExitCode.USAGE)
        line = _one_line(result.stderr)
        assert "retention_day" in line and "did you mean 'retention_days'" in line, line


def test_wrong_type_is_named_at_start(tmp_path: Path) -> None:
    home = init_home(tmp_path / "gw").home
    _set(home, checkpoint_interval_s="ten")
    for command in ("config", "serve"):
        result = xinlian("gateway", command, "--home", str(home))
        assert_exit(result, ExitCode.USAGE)
        line = _one_line(result.stderr)
        assert line.startswith("error: checkpoint_interval_s (config.json"), line
        assert "'ten'" in line


@pytest.mark.parametrize(("key", "value"), [("checkpoint_interval_s", 0), ("node_cert_days", 0)])
def test_out_of_range_is_named(tmp_path: Path, key: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"^error: {key} "):
        GatewayConfig(home=tmp_path, **{key: value})


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = init_home(tmp_path / "gw").home
    _set(home, retention_days=200, log_format="text")
    monkeypatch.setenv("XINLIAN_RETENTION_DAYS", "365")
    monkeypatch.setenv("XINLIAN_SERVER_HOSTS", '["gw.example"]')
    config = GatewayConfig.load(home, log_format="json")
    assert config.retention_days == 365
    assert config.server_hosts == ("gw.example",)
    assert config.log_format == "json"  # an option wins over both
    monkeypatch.setenv("XINLIAN_RETENTION_DAYS", "a year")
    with pytest.raises(ValueError, match=r"retention_days .*XINLIAN_RETENTION_DAYS"):
        GatewayConfig.load(home)


def test_log_level_is_a_choice(tmp_path: Path) -> None:
    home = init_home(tmp_path / "gw").home
    result = xinlian("gateway", "serve", "--home", str(home), "--log-level", "verbose")
    assert_exit(result, ExitCode.USAGE)
    assert "verbose" in result.stderr and "info" in result.stderr.lower()
    assert "debug" in result.stderr.lower()


def test_busy_port_is_one_line(tmp_path: Path) -> None:
    home = init_home(tmp_path / "gw").home
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = xinlian(
            "gateway", "serve", "--home", str(home), "--listen", f"127.0.0.1:{port}",
            "--ops-listen", "", "--log-level", "WARNING",
        )  # fmt: skip
    assert_exit(result, ExitCode.FAILED)
    line = result.stderr.strip().splitlines()[-1]  # after gRPC's own log line
    assert f"cannot listen on 127.0.0.1:{port}" in line, line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_home_is_one_line(tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir(mode=0o500)
    result = xinlian("gateway", "init", "--home", str(parent / "gw"))
    assert_exit(result, ExitCode.FAILED)
    assert "Permission denied" in _one_line(result.stderr)


def test_home_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = xinlian("gateway", "init", "--home", str(blocker / "gw"))
    assert_exit(result, ExitCode.FAILED)
    assert _one_line(result.stderr) == f"error: Not a directory: {blocker / 'gw'}"


def test_configuration_doc_is_generated_from_the_model() -> None:
    script = ROOT / "scripts" / "gen_config_doc.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], cwd=ROOT, check=False, env={**os.environ}
    )
    assert result.returncode == 0, "docs/configuration.md is stale: run scripts/gen_config_doc.py"
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for key in GatewayConfig.model_fields:
        assert key == "home" or f"`{key}`" in doc


def test_db_url_from_a_file_and_never_shown(tmp_path: Path) -> None:
    home = init_home(tmp_path / "gw").home
    url = f"postgresql+psycopg://gw:{PASSWORD}@db.invalid/xinlian"
    (home / "db.url").write_text(url + "\n")
    _set(home, db_url_file="db.url")
    config = GatewayConfig.load(home)
    assert config.database_url == url
    assert PASSWORD not in repr(config) and PASSWORD not in json.dumps(config.redacted())
    shown = xinlian("gateway", "config", "--home", str(home))
    assert_exit(shown, 0)
    assert PASSWORD not in shown.stdout and "db.url" in shown.stdout


@pytest.mark.postgres
def test_password_in_environment_never_reaches_a_file(tmp_path: Path, pg_url: str) -> None:
    from support.processes import GatewayProcess

    assert pg_url.startswith("postgresql+psycopg://postgres@")
    url = pg_url.replace("://postgres@", f"://postgres:{PASSWORD}@")  # trust: accepted
    home = tmp_path / "gateway"
    env = {**os.environ, "XINLIAN_DB_URL": url}
    init = subprocess.run(
        [str(XINLIAN), "gateway", "init", "--home", str(home)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    assert PASSWORD not in init.stdout + init.stderr
    saved = json.loads((home / CONFIG_FILE).read_text())["db_url"]
    assert saved == pg_url  # the URL without its password
    gateway = GatewayProcess(home, db_url=url)
    gateway.start()
    try:
        gateway.enroll("department", "hf-1", ("housing_fund",))
    finally:
        gateway.stop()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
