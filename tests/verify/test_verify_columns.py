"""Step (1) of verification: the indexed columns say what the hashed body says.

PostgreSQL stores them: the check runs in the engine (``jsonb``) and only the rows it
flags are re-checked in Python. SQLite generates them from the body
(``gateway.store.ledger_ddl``): writing one is refused, so a forger must rebuild the
table with stored columns, which verify reports (``SCHEMA_CHANGED``) before checking
every row in Python. These tests edit each column directly in the database, on both
engines, and check the edit is still named, that pruned bodies and values needing JSON
escapes are not reported, and that a body the engine cannot parse falls back to the
Python check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select, update
from sqlalchemy.exc import DBAPIError
from support.ledger_forgery import rebuild_with_stored_columns
from support.ledger_helpers import checkpoint, verifier, verify

from audit.entry import Action, Entry, Outcome
from audit.merkle import leaf_hash
from gateway.flows.trace import SearchFilter, search
from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from gateway.store import schema
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from gateway.store.dialect import SQLITE, dialect_of
from gateway.store.ledger_ddl import INDEXED_COLUMNS
from gateway.store.timeutil import to_us
from gateway.verify import Retention, VerifyReport, verify_connection
from xinlian.clock import SystemClock

CODE = "91350100MA2Y00013X"
WHEN = datetime(2024, 5, 1, 8, 30, 0, 123456, tzinfo=UTC)

# values that the engine spells differently from the body, or that need escapes
TRICKY = [
    ("bank-1", "plain"),
    ("银行-二", "非 ASCII 主体"),
    ('quote"actor', "back\\slash"),
    ("slash/actor", "emoji \U0001f642 é"),
    ("bank-5", None),
]


@dataclass
class Seeded:
    config: GatewayConfig
    store: Store
    size: int
    rebuilt: bool = False
    """SQLite: the table was rebuilt with stored columns (``ledger_forgery``)."""

    def at(self, i: int) -> int:
        """The ledger index of ``TRICKY[i]`` (the home's own entries come first)."""
        return self.size - len(TRICKY) + i


@pytest.fixture
def seeded(db_url: str, tmp_path: Path) -> Iterator[Seeded]:
    config = init_home(tmp_path / "gw", db_url=db_url)
    store = Store(config.database_url)

    def work(conn: Connection, ledger: LedgerTx) -> None:
        for i, (actor, subject) in enumerate(TRICKY):
            ledger.append(
                Entry(
                    action=Action.QUERY,
                    time=WHEN,
                    actor=actor,
                    actor_kind="institution",
                    outcome=Outcome.OK,
                    trace_id=f"trace-{i}",
                    credit_code=CODE if i % 2 else None,
                    subject=subject,
                    details={"fields": {"tax_rating": "keep"}, "note": '"action":"x"'},
                )
            )

    try:
        commit_now(store, SystemClock(), work)
        size = checkpoint(config, store).tree_size
        yield Seeded(config, store, size)
    finally:
        store.close()


def _edit(store: Store, idx: int, **values: Any) -> None:
    t = schema.ledger_entries
    store.write(lambda c: c.execute(update(t).where(t.c.idx == idx).values(**values)))


def _refused(store: Store, idx: int, **values: Any) -> str:
    """The error SQLite gives for this edit (asserted to fail), in one transaction."""
    t = schema.ledger_entries
    with pytest.raises(DBAPIError) as refused, store.engine.begin() as conn:
        conn.execute(update(t).where(t.c.idx == idx).values(**values))
    return str(refused.value.orig)


def _edit_columns(seeded: Seeded, idx: int, **values: Any) -> None:
    """Edit indexed columns as a forger must on this engine: SQLite refuses to write
    a generated column, so the table is first rebuilt with stored columns."""
    if seeded.store.dialect is SQLITE and not seeded.rebuilt:
        assert "cannot UPDATE generated column" in _refused(seeded.store, idx, **values)
        rebuild_with_stored_columns(seeded.store)
        seeded.rebuilt = True
    _edit(seeded.store, idx, **values)


def _prune(store: Store, idx: int) -> None:
    """Prune one body as retention does (SQLite: its summary set in the same UPDATE)."""
    t = schema.ledger_entries
    store.write(
        lambda c: c.execute(update(t).where(t.c.idx == idx).values(**dialect_of(c).prune_values()))
    )


def _column_problems(report: VerifyReport) -> list[tuple[int | None, str]]:
    return [(p.index, p.message) for p in report.problems if p.code == "COLUMN_MISMATCH"]


def _schema_changed(report: VerifyReport) -> bool:
    found = [p for p in report.problems if p.code == "SCHEMA_CHANGED"]
    assert all(p.kind == "ledger" and p.index is None for p in found)
    return len(found) == 1


def _columns(store: Store, indices: list[int]) -> list[tuple[Any, ...]]:
    t = schema.ledger_entries.c
    columns = [getattr(t, name) for name in INDEXED_COLUMNS]
    query = select(*columns).where(t.idx.in_(indices)).order_by(t.idx)
    return [tuple(row) for row in store.read(lambda c: c.execute(query).all())]


def _expected_columns() -> list[tuple[Any, ...]]:
    """``TRICKY`` as ``seeded`` wrote it, in ``INDEXED_COLUMNS`` order."""
    return [
        (
            Action.QUERY.value,
            actor,
            CODE if i % 2 else None,
            Outcome.OK.value,
            f"trace-{i}",
            subject,
            to_us(WHEN),
        )
        for i, (actor, subject) in enumerate(TRICKY)
    ]


def test_untouched_tricky_values_verify(seeded: Seeded) -> None:
    report = verify(seeded.config, seeded.store)
    assert report.ok, report.problems
    assert report.entries == seeded.size
    # the columns read back what was written (SQLite: generated from the body)
    tricky = [seeded.at(i) for i in range(len(TRICKY))]
    assert _columns(seeded.store, tricky) == _expected_columns()


def test_tricky_values_survive_pruning(seeded: Seeded) -> None:
    """A pruned entry keeps its column values (SQLite: from its ``summary``)."""
    tricky = [seeded.at(i) for i in range(len(TRICKY))]
    for idx in tricky:
        _prune(seeded.store, idx)
    assert _columns(seeded.store, tricky) == _expected_columns()
    report = verify(seeded.config, seeded.store)
    assert report.ok, report.problems
    assert report.pruned == len(TRICKY)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "grant.created"),
        ("actor", "bank-9"),
        ("outcome", "denied"),
        ("trace_id", "trace-x"),
        ("credit_code", None),
        ("subject", "other"),
        ("time_us", "plus_one"),
        ("time_us", -1),
    ],
)
def test_each_edited_column_is_named(seeded: Seeded, column: str, value: Any) -> None:
    idx = seeded.at(3)  # credit code set
    if value == "plus_one":
        t = schema.ledger_entries.c
        value = (
            seeded.store.read(
                lambda c: c.execute(select(t.time_us).where(t.idx == idx)).scalar_one()
            )
            + 1
        )
    _edit_columns(seeded, idx, **{column: value})
    report = verify(seeded.config, seeded.store)
    assert not report.ok
    assert report.first_bad_index == idx
    assert _column_problems(report) == [
        (idx, f"entry {idx}: indexed column {column.removesuffix('_us')} differs from the entry")
    ]
    assert _schema_changed(report) == (seeded.store.dialect is SQLITE)


def test_subject_set_where_the_body_has_null(seeded: Seeded) -> None:
    _edit_columns(seeded, seeded.at(4), subject="bank-5")  # body: null
    _edit_columns(seeded, seeded.at(2), credit_code=CODE)  # body: null
    report = verify(seeded.config, seeded.store)
    assert [idx for idx, _ in _column_problems(report)] == [seeded.at(2), seeded.at(4)]


def test_pruned_body_is_not_checked_and_still_verifies(seeded: Seeded) -> None:
    """Once the body is pruned nothing is left to check the columns against: an edited
    column of a pruned row (SQLite: its ``summary``) goes unnoticed (a documented
    limit; the leaf hash, kept, still verifies)."""
    idx = seeded.at(1)
    _prune(seeded.store, idx)
    if seeded.store.dialect is SQLITE:
        t = schema.ledger_entries.c
        summary = seeded.store.read(
            lambda c: c.execute(select(t.summary).where(t.idx == idx)).scalar_one()
        )
        _edit(seeded.store, idx, summary=json.dumps({**json.loads(summary), "actor": "anything"}))
    else:
        _edit(seeded.store, idx, actor="anything")
    assert _columns(seeded.store, [idx])[0][1] == "anything"
    report = verify(seeded.config, seeded.store)
    assert report.ok, report.problems
    assert report.pruned == 1


def test_a_body_the_engine_cannot_parse_falls_back_to_python(seeded: Seeded) -> None:
    """A rewritten body (not JSON) with its recomputed hash: the engine's query fails
    (PostgreSQL) or the table had to be rebuilt to hold it (SQLite refuses it), every
    row is checked in Python, which names the column; the signed root catches the
    rewrite as well."""
    body = b"\xff not json"
    a, b = seeded.at(1), seeded.at(3)
    if seeded.store.dialect is SQLITE:
        assert "malformed JSON" in _refused(seeded.store, b, body=body)
    _edit_columns(seeded, a, actor="bank-9")
    _edit(seeded.store, b, body=body, leaf_hash=leaf_hash(body))
    report = verify(seeded.config, seeded.store)
    assert report.first_bad_index == 0  # the checkpoint covering both no longer verifies
    assert _column_problems(report) == [
        (a, f"entry {a}: indexed column actor differs from the entry"),
        (b, f"entry {b}: indexed column body (not JSON) differs from the entry"),
    ]
    assert "ROOT_MISMATCH" in {p.code for p in report.problems}


def test_one_connection_gives_the_same_report(seeded: Seeded) -> None:
    """``verify_connection`` without a second connection runs the same checks in turn."""
    idx = seeded.at(2)
    _edit_columns(seeded, idx, outcome="error")
    threaded = verify(seeded.config, seeded.store)
    options = seeded.store.dialect.snapshot_options
    with seeded.store.engine.connect().execution_options(**options) as conn, conn.begin():
        single = verify_connection(conn, verifier(seeded.config), seeded.config.origin, Retention())
    assert json.dumps(single.to_json()) == json.dumps(threaded.to_json())
    assert _column_problems(single) == [
        (idx, f"entry {idx}: indexed column outcome differs from the entry")
    ]


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_the_engine_flags_the_edited_rows(seeded: Seeded) -> None:
    """PostgreSQL: the engine's check itself works (not only the Python fallback)."""
    from gateway.verify.columns import _column_candidates

    def candidates() -> list[int] | None:
        return seeded.store.read(_column_candidates)

    assert candidates() == []  # equal values, whatever their escaping
    _edit(seeded.store, seeded.at(0), action="grant.revoked")
    _edit(seeded.store, seeded.at(3), time_us=0)
    assert candidates() == [seeded.at(0), seeded.at(3)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_checks_the_table_definition_instead(seeded: Seeded) -> None:
    """SQLite: the migrated table generates its columns, so nothing is checked per row;
    a table rebuilt with stored columns is reported, with where its definition differs."""
    from gateway.verify.columns import _columns_generated

    def generated() -> tuple[bool, VerifyReport]:
        report = VerifyReport()
        return seeded.store.read(lambda c: _columns_generated(c, report)), report

    assert generated() == (True, VerifyReport())
    rebuild_with_stored_columns(seeded.store)
    found, report = generated()
    assert not found
    [problem] = report.problems
    assert (problem.kind, problem.code, problem.index) == ("ledger", "SCHEMA_CHANGED", None)
    assert problem.message.startswith("table ledger_entries: got '…")
    assert "action VARCHAR(32) NOT NULL, actor" in problem.message
    assert "want '…" in problem.message and "GENERATED ALWAYS AS" in problem.message
    # an untouched but rebuilt ledger: only the changed definition is reported
    report = verify(seeded.config, seeded.store)
    assert [p.code for p in report.problems] == ["SCHEMA_CHANGED"]


def _bad_month(body: bytes) -> bytes:
    forged = body.replace(b'"time":"2024-05-', b'"time":"2024-13-')
    assert forged != body
    return forged


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("edit", "error"),
    [
        pytest.param(lambda body: {"body": b"\xff not json"}, "malformed JSON", id="not-json"),
        pytest.param(
            lambda body: {"body": b"{}"},
            "NOT NULL constraint failed: ledger_entries.action",
            id="no-keys",
        ),
        pytest.param(
            lambda body: {"body": _bad_month(body)},
            "NOT NULL constraint failed: ledger_entries.time_us",
            id="bad-time",
        ),
        pytest.param(
            lambda body: {"body": None},
            "NOT NULL constraint failed: ledger_entries.action",
            id="pruned-without-summary",
        ),
        pytest.param(lambda body: {"summary": '{"action":"x"}'}, None, id="summary-beside-body"),
    ],
)
def test_sqlite_refuses_a_body_it_cannot_derive_the_columns_from(
    seeded: Seeded, edit: Callable[[bytes], dict[str, Any]], error: str | None
) -> None:
    """A body that is not an entry (not JSON, keys missing, a time that is no date), or
    a body removed without its summary, is refused; a summary beside a body is ignored
    (the body wins)."""
    idx = seeded.at(0)
    t = schema.ledger_entries.c
    body = seeded.store.read(lambda c: c.execute(select(t.body).where(t.idx == idx)).scalar_one())
    values = edit(bytes(body))
    if error is not None:
        assert error in _refused(seeded.store, idx, **values)
        return
    _edit(seeded.store, idx, **values)
    assert _columns(seeded.store, [idx]) == _expected_columns()[:1]
    assert verify(seeded.config, seeded.store).ok


def test_a_pruned_entry_is_still_found(seeded: Seeded) -> None:
    """Search by actor, action and time finds a pruned entry (SQLite: through the
    columns generated from its summary, still indexed)."""
    idx = seeded.at(1)
    _prune(seeded.store, idx)
    actor = TRICKY[1][0]
    since, until = WHEN, WHEN.replace(microsecond=WHEN.microsecond + 1)
    for flt in (
        SearchFilter(node_id=actor),
        SearchFilter(action=Action.QUERY.value, since=since, until=until),
    ):
        page = seeded.store.read(lambda c, flt=flt: search(c, flt, 0, 100))
        found = {row.idx: row for row in page.entries}
        assert idx in found, flt
        assert (found[idx].body, found[idx].actor, found[idx].time_us) == (None, actor, to_us(WHEN))
    assert verify(seeded.config, seeded.store).ok


def test_edited_leaf_hash_alone_is_named(seeded: Seeded) -> None:
    """A stored leaf hash edited under an intact body: the row is named."""
    idx = seeded.at(2)
    _edit(seeded.store, idx, leaf_hash=bytes(32))
    report = verify(seeded.config, seeded.store)
    assert not report.ok
    # the row is named; the signed root (built from the stored hashes) fails as well
    assert [p.index for p in report.problems if p.code == "LEAF_MISMATCH"] == [idx]
    assert "ROOT_MISMATCH" in {p.code for p in report.problems}


def test_malformed_body_time_is_still_reported(seeded: Seeded) -> None:
    """A body holding an impossible date (February 31st) can only be forged: the hash
    check names it, whatever the engine's column check makes of the date."""
    t = schema.ledger_entries.c
    idx = seeded.at(0)
    body = seeded.store.read(lambda c: c.execute(select(t.body).where(t.idx == idx)).scalar_one())
    forged = bytes(body).replace(b'"time":"2024-05-01T', b'"time":"2024-02-31T')
    assert forged != body
    _edit(seeded.store, idx, body=forged)
    report = verify(seeded.config, seeded.store)
    assert report.first_bad_index == idx
    assert report.problems[0].code == "LEAF_MISMATCH"


def test_times_before_the_year_1000_are_formatted_as_the_body_writes_them(
    seeded: Seeded,
) -> None:
    """The Python column check formats ``time_us`` like ``audit.entry`` (four-digit
    years); ``strftime("%Y")`` would write ``999`` and report a column that is right."""
    early = datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=UTC)

    def work(conn: Connection, ledger: LedgerTx) -> int:
        return ledger.append(
            Entry(
                action=Action.QUERY,
                time=early,
                actor="bank-old",
                actor_kind="institution",
                outcome=Outcome.OK,
                trace_id="trace-old",
            )
        )

    idx = commit_now(seeded.store, SystemClock(), work)
    checkpoint(seeded.config, seeded.store)
    if seeded.store.dialect is SQLITE:  # the Python path runs for every row of a changed table
        rebuild_with_stored_columns(seeded.store)
    report = verify(seeded.config, seeded.store)
    assert _column_problems(report) == []
    assert report.entries > idx
