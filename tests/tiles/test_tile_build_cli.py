"""``xinlian gateway tiles build``: builds the tiles of a ledger without them, with
progress on stderr, resumably; a second run has nothing to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.ledger_helpers import verify
from tile_seed import seed

from gateway.host.home import init_home
from gateway.store import schema
from gateway.store.db import Store
from gateway.store.ledger_tiles import build_tiles, tiled_size
from xinlian.exit_codes import ExitCode
from xinlian_cli.main import cli, run


def test_build_command(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw")
    store = Store(config.database_url)
    try:
        seed(config, store, [70_000, 70_001])
        store.write(lambda c: c.execute(schema.ledger_tiles.delete()))
        # an earlier run stopped after two chunks
        build_tiles(store.write, store.dialect, 20_000, chunk=10_000)
        assert store.read(tiled_size) == 20_000
    finally:
        store.close()
    runner = CliRunner()
    result = runner.invoke(cli, ["gateway", "tiles", "build", "--home", str(config.home)])
    assert result.exit_code == 0, result.output
    assert "tiles built: they cover 70001 entries (were 20000)" in result.stdout
    assert "tiles: 70001/70001 entries (100 %)" in result.stderr
    again = runner.invoke(cli, ["gateway", "tiles", "build", "--home", str(config.home), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {
        "before": 70_001,
        "tiled_size": 70_001,
        "checkpoint_size": 70_001,
    }
    store = Store(config.database_url)
    try:
        report = verify(config, store)
        assert report.ok and report.tiled_size == 70_001 and not report.notices
    finally:
        store.close()


def test_build_on_a_home_that_is_not_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["gateway", "tiles", "build", "--home", str(tmp_path)]) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
