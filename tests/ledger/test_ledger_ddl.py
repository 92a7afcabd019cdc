"""Revision 0004: on SQLite the indexed ledger columns are generated from the body.

The expected definition verify compares with is the one a migration makes; upgrading
from 0003 keeps every value (pruned rows included, their summary built from the stored
columns), downgrading restores exactly the 0003 table; an edited column or a body the
columns cannot be read from stops the upgrade; the officers' searches still use the
indexes. PostgreSQL only gains the ``summary`` column: its values are checked too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, select, text, update
from support.ledger_helpers import checkpoint, verify

from audit.entry import Action, Entry, Outcome
from gateway.flows.trace import SearchFilter, search
from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from gateway.store import migrate, schema
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from gateway.store.dialect import SQLITE, dialect_of
from gateway.store.ledger_ddl import (
    INDEXED_COLUMNS,
    SQLITE_LEDGER_TABLE,
    definition_difference,
    normalized,
)
from gateway.store.timeutil import to_us
from xinlian.clock import SystemClock
from xinlian.errors import FailedPrecondition

CODE = "91350100MA2Y00013X"
# times the body's format and time_us must agree on: before 1970, the year 1, the last
# microsecond of the year 9999, a leap day
TIMES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2024, 2, 29, 8, 30, 0, 123456, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]
SINCE, UNTIL = datetime(1969, 1, 1, tzinfo=UTC), datetime(1971, 1, 1, tzinfo=UTC)
ACTORS = ["bank-1", "银行-二", 'quote"actor', "back\\slash", "emoji \U0001f642"]


@dataclass
class Ledger:
    config: GatewayConfig
    store: Store
    seeded: list[int]
    """Indices of the entries written here (the home's own come first)."""


@pytest.fixture
def ledger(db_url: str, tmp_path: Path) -> Iterator[Ledger]:
    """Entries with tricky values and times, every other one pruned, a checkpoint."""
    config = init_home(tmp_path / "gw", db_url=db_url)
    store = Store(config.database_url)

    def work(conn: Connection, ledger: LedgerTx) -> list[int]:
        return [
            ledger.append(
                Entry(
                    action=Action.QUERY,
                    time=when,
                    actor=ACTORS[i],
                    actor_kind="institution",
                    outcome=Outcome.OK,
                    trace_id=f"trace-{i}",
                    credit_code=CODE if i % 2 == 0 else None,
                    subject=None if i % 3 else f"subject-{i}",
                    details={"note": '"action":"x"'},
                )
            )
            for i, when in enumerate(TIMES)
        ]

    try:
        seeded = commit_now(store, SystemClock(), work)
        checkpoint(config, store)
        _prune(store, seeded[::2])
        yield Ledger(config, store, seeded)
    finally:
        store.close()


def _prune(store: Store, indices: list[int]) -> None:
    t = schema.ledger_entries
    store.write(
        lambda c: c.execute(
            update(t).where(t.c.idx.in_(indices)).values(**dialect_of(c).prune_values())
        )
    )


def _rows(store: Store) -> list[tuple[Any, ...]]:
    """Every row: index, leaf hash, body, the indexed columns."""
    t = schema.ledger_entries.c
    columns = [t.idx, t.leaf_hash, t.body, *(getattr(t, c) for c in INDEXED_COLUMNS)]
    query = select(*columns).order_by(t.idx)
    return [tuple(row) for row in store.read(lambda c: c.execute(query).all())]


def _forget_schema(store: Store) -> None:
    """Drop the pooled connections: one that has not read the schema since the
    migration compiles against the table it knew (SQLite refuses an UPDATE of a column
    that was generated before re-reading the schema). ``xinlian gateway migrate`` runs
    in a process of its own."""
    store.engine.dispose()


def _definitions(store: Store) -> dict[str, str]:
    """SQLite: the stored definitions of the table and of its indexes, by name."""
    query = text("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'ledger_entries'")
    return {str(n): str(s) for n, s in store.read(lambda c: c.execute(query).all())}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_expected_definition_is_the_migrated_one(db_url: str) -> None:
    """``SQLITE_LEDGER_TABLE`` (what verify expects) is what the migrations make."""
    store = Store(db_url)
    try:
        migrate.upgrade(store.engine)
        stored = _definitions(store)["ledger_entries"]
        assert normalized(stored) == normalized(SQLITE_LEDGER_TABLE)
        assert definition_difference(stored) is None
        assert definition_difference(stored.replace("VIRTUAL", "STORED")) is not None
    finally:
        store.close()


def test_upgrade_from_0003_keeps_every_value(ledger: Ledger, tmp_path: Path) -> None:
    store = ledger.store
    expected = _rows(store)
    time_us = 3 + INDEXED_COLUMNS.index("time_us")
    assert [row[time_us] for row in expected[-len(TIMES) :]] == [to_us(w) for w in TIMES]
    t = schema.ledger_entries
    idx = ledger.seeded[1]  # pruned the 0003 way below
    for _cycle in range(2):
        migrate.downgrade(store.engine, "0003")
        _forget_schema(store)
        # the stored columns hold the same values
        assert _rows(store) == expected
        if store.dialect is SQLITE:  # exactly the table (and indexes) a database at 0003 has
            fresh = Store(f"sqlite:///{tmp_path / 'at-0003.db'}")
            try:
                migrate.upgrade(fresh.engine, "0003")
                assert _definitions(store) == _definitions(fresh)
            finally:
                fresh.close()
        # one more entry pruned the 0003 way: its columns stay, the body goes
        store.write(lambda c: c.execute(update(t).where(t.c.idx == idx).values(body=None)))
        expected = [(*row[:2], None, *row[3:]) if row[0] == idx else row for row in expected]
        migrate.upgrade(store.engine)
        _forget_schema(store)
        # the generated columns say the same; leaf hashes and bodies are untouched
        assert _rows(store) == expected
        report = verify(ledger.config, store)
        assert report.ok, report.problems
        assert report.pruned == len(ledger.seeded[::2]) + 1
    # every pruned row's summary says what its body said (SQLite; NULL on PostgreSQL)
    summaries = store.read(
        lambda c: dict(c.execute(select(t.c.idx, t.c.summary).where(t.c.body.is_(None))).all())
    )
    assert set(summaries) == {*ledger.seeded[::2], ledger.seeded[1]}
    for idx, summary in summaries.items():
        if store.dialect is not SQLITE:
            assert summary is None
            continue
        i = ledger.seeded.index(idx)
        assert json.loads(summary) == {
            "action": "query",
            "actor": ACTORS[i],
            "credit_code": CODE if i % 2 == 0 else None,
            "outcome": "ok",
            "trace_id": f"trace-{i}",
            "subject": None if i % 3 else f"subject-{i}",
            "time": TIMES[i].replace(tzinfo=None).isoformat(timespec="microseconds") + "Z",
        }


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("values", "reason", "message"),
    [
        ({"actor": "bank-9"}, "LEDGER_COLUMN_MISMATCH", "actor: got 'bank-9' (stored), want "),
        ({"time_us": 0}, "LEDGER_COLUMN_MISMATCH", "time_us: got 0 (stored), want "),
        ({"body": b"\xff not json"}, "LEDGER_UNREADABLE", "cannot be read as an entry"),
        ({"body": b'{"action":"query"}'}, "LEDGER_UNREADABLE", "cannot be read as an entry"),
        (
            {"body": b'{"action":"q","actor":"a","outcome":"ok","trace_id":"t","time":"x"}'},
            "LEDGER_UNREADABLE",
            "cannot be read as an entry",
        ),
    ],
)
def test_upgrade_refuses_what_it_would_launder(
    ledger: Ledger, values: dict[str, Any], reason: str, message: str
) -> None:
    """An edited column would be replaced by the body's value, hiding the edit: the
    upgrade stops, naming the entry, and leaves the 0003 table as it was."""
    store = ledger.store
    migrate.downgrade(store.engine, "0003")
    _forget_schema(store)
    t = schema.ledger_entries
    idx = ledger.seeded[1]  # body kept
    store.write(lambda c: c.execute(update(t).where(t.c.idx == idx).values(**values)))
    before = _rows(store)
    with pytest.raises(FailedPrecondition, match="nothing was migrated") as refused:
        migrate.upgrade(store.engine)
    assert refused.value.reason == reason
    assert message in str(refused.value)
    assert str(refused.value).startswith(f"ledger entry {idx}: ")
    assert migrate.current_revision(store.engine) == "0003"
    assert _rows(store) == before


def _search_statements(store: Store, flt: SearchFilter) -> list[tuple[str, Any]]:
    """The statements ``search`` runs for ``flt``, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        store.read(lambda c: search(c, flt, 0, 100))
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    return seen


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("flt", "index"),
    [
        pytest.param(SearchFilter(node_id="bank-1"), "ix_ledger_actor", id="actor"),
        pytest.param(SearchFilter(node_id="bank-1"), "ix_ledger_subject", id="subject"),
        pytest.param(SearchFilter(credit_code=CODE), "ix_ledger_credit_code", id="credit-code"),
        pytest.param(SearchFilter(action="query"), "ix_ledger_action", id="action"),
        pytest.param(SearchFilter(since=SINCE, until=UNTIL), "ix_ledger_time", id="time"),
        pytest.param(
            SearchFilter(action="query", since=SINCE, until=UNTIL),
            "ix_ledger_action",
            id="action-and-time",
        ),
    ],
)
def test_searches_use_the_indexes_on_generated_columns(
    ledger: Ledger, flt: SearchFilter, index: str
) -> None:
    """The statement ``search`` runs is planned with the index, and finds pruned
    entries (whose columns come from their summary)."""
    [(statement, parameters)] = _search_statements(ledger.store, flt)
    plan = ledger.store.read(
        lambda c: c.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    )
    details = " | ".join(str(row[-1]) for row in plan)
    assert f"USING INDEX {index}" in details, details
    # and the search finds the pruned entries as well
    found = ledger.store.read(lambda c: search(c, flt, 0, 100)).entries
    assert {row.idx for row in found if row.body is None} & set(ledger.seeded[::2])
