"""Step (1) of verification: the indexed columns say what the hashed body says.

The check runs in the database engine (SQLite ``json_extract``, PostgreSQL ``jsonb``)
and only the rows it flags are re-checked in Python; these tests edit each column
directly in the database, on both engines, and check the edit is still named, that
pruned bodies and values needing JSON escapes are not reported, and that a body the
engine cannot parse falls back to the Python check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ledger_helpers import checkpoint, verifier, verify
from sqlalchemy import Connection, select, update

from audit.entry import Action, Entry, Outcome
from audit.merkle import leaf_hash
from gateway.committer import LedgerTx, commit_now
from gateway.config import GatewayConfig
from gateway.home import init_home
from gateway.store import schema
from gateway.store.db import Store
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

    def at(self, i: int) -> int:
        """The ledger index of ``TRICKY[i]`` (the home's own entries come first)."""
        return self.size - len(TRICKY) + i


@pytest.fixture
def seeded(db_url: str, tmp_path: Path) -> Iterator[Seeded]:
    config = init_home(tmp_path / "gw", db_url=db_url)
    store = Store(config.db_url)

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


def _column_problems(report: VerifyReport) -> list[tuple[int | None, str]]:
    return [(p.index, p.message) for p in report.problems if p.code == "COLUMN_MISMATCH"]


def test_untouched_tricky_values_verify(seeded: Seeded) -> None:
    report = verify(seeded.config, seeded.store)
    assert report.ok, report.problems
    assert report.entries == seeded.size


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
    _edit(seeded.store, idx, **{column: value})
    report = verify(seeded.config, seeded.store)
    assert not report.ok
    assert report.first_bad_index == idx
    assert _column_problems(report) == [
        (idx, f"entry {idx}: indexed column {column.removesuffix('_us')} differs from the entry")
    ]


def test_subject_set_where_the_body_has_null(seeded: Seeded) -> None:
    _edit(seeded.store, seeded.at(4), subject="bank-5")  # body: null
    _edit(seeded.store, seeded.at(2), credit_code=CODE)  # body: null
    report = verify(seeded.config, seeded.store)
    assert [idx for idx, _ in _column_problems(report)] == [seeded.at(2), seeded.at(4)]


def test_pruned_body_is_not_checked_and_still_verifies(seeded: Seeded) -> None:
    _edit(seeded.store, seeded.at(1), body=None, actor="anything")
    report = verify(seeded.config, seeded.store)
    assert report.ok, report.problems
    assert report.pruned == 1


def test_a_body_the_engine_cannot_parse_falls_back_to_python(seeded: Seeded) -> None:
    """A rewritten body (not JSON) with its recomputed hash: the engine's query fails,
    every row is checked in Python, which names the column; the signed root catches
    the rewrite as well."""
    body = b"\xff not json"
    a, b = seeded.at(1), seeded.at(3)
    _edit(seeded.store, b, body=body, leaf_hash=leaf_hash(body))
    _edit(seeded.store, a, actor="bank-9")
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
    _edit(seeded.store, idx, outcome="error")
    threaded = verify(seeded.config, seeded.store)
    options: dict[str, Any] = {} if seeded.store.sqlite else {"isolation_level": "REPEATABLE READ"}
    with seeded.store.engine.connect().execution_options(**options) as conn, conn.begin():
        single = verify_connection(conn, verifier(seeded.config), seeded.config.origin, Retention())
    assert json.dumps(single.to_json()) == json.dumps(threaded.to_json())
    assert _column_problems(single) == [
        (idx, f"entry {idx}: indexed column outcome differs from the entry")
    ]


def test_the_engine_flags_the_edited_rows(seeded: Seeded) -> None:
    """The engine's check itself works on this engine (not only the Python fallback)."""
    from gateway.verify import _column_candidates

    def candidates() -> list[int] | None:
        return seeded.store.read(_column_candidates)

    assert candidates() == []  # equal values, whatever their escaping
    _edit(seeded.store, seeded.at(0), action="grant.revoked")
    _edit(seeded.store, seeded.at(3), time_us=0)
    assert candidates() == [seeded.at(0), seeded.at(3)]


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
