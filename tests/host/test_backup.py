"""`xinlian gateway backup`: a consistent, verifiable copy of the SQLite store taken
while the gateway keeps writing; never over an existing file; PostgreSQL refused with
the tools to use instead."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from support.harness import Gateway
from support.ledger_helpers import checkpoint, seed_batch, tax_records, verify

from gateway.host.config import GatewayConfig
from gateway.store import schema
from gateway.store.db import Store, sqlite_url
from xinlian.errors import AlreadyExists, FailedPrecondition
from xinlian_cli.main import cli

pytestmark = pytest.mark.integration


def _backup(home: Path, out: Path) -> object:
    return CliRunner().invoke(cli, ["gateway", "backup", "--home", str(home), "--out", str(out)])


def test_backup_while_writing_verifies(gateway: Gateway, tmp_path: Path) -> None:
    store, config = gateway.runtime.store, gateway.config
    dept = gateway.enroll_node("department", "tax-bureau", categories=("tax",))
    seed_batch(store, dept, "b-0", "tax", tax_records(50))
    checkpoint(config, store)
    # a writer keeps committing batches (records, batch rows, ledger entries) meanwhile
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        while not stop.is_set():
            n = len(written) + 1
            seed_batch(store, dept, f"b-{n}", "tax", tax_records(20, prefix=f"w{n}-"))
            written.append(n)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 3:
            thread.join(0.01)
        out = tmp_path / "copy.db"
        result = _backup(config.home, out)
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not Path(f"{out}-wal").exists()  # a self-contained file

    copy = Store(sqlite_url(out))
    try:
        report = verify(config, copy)
        assert report.ok, report.problems
        size, entries, batches = copy.read(
            lambda c: (
                c.execute(select(schema.ledger_head.c.size)).scalar_one(),
                c.execute(select(func.count()).select_from(schema.ledger_entries)).scalar_one(),
                c.execute(select(func.count()).select_from(schema.batches)).scalar_one(),
            )
        )
    finally:
        copy.close()
    # one consistent state: the head, the entries and the batches agree
    assert size == entries
    assert 1 + 3 <= batches <= 1 + len(written)
    assert f"ledger size {size}" in result.output  # type: ignore[attr-defined]


def test_backup_never_overwrites(gateway: Gateway, tmp_path: Path) -> None:
    out = tmp_path / "exists.db"
    out.write_bytes(b"precious")
    result = _backup(gateway.config.home, out)
    assert isinstance(result.exception, AlreadyExists)  # type: ignore[attr-defined]
    assert "never overwrites" in str(result.exception)  # type: ignore[attr-defined]
    assert out.read_bytes() == b"precious"


def test_backup_of_postgres_names_the_tools(tmp_path: Path) -> None:
    home = tmp_path / "gw"
    home.mkdir()
    config = GatewayConfig(home=home, db_url="postgresql+psycopg://gw@db.invalid/xinlian")
    config.save()
    result = _backup(home, tmp_path / "copy.db")
    assert isinstance(result.exception, FailedPrecondition)  # type: ignore[attr-defined]
    assert "pg_basebackup" in str(result.exception)  # type: ignore[attr-defined]
    assert not (tmp_path / "copy.db").exists()
