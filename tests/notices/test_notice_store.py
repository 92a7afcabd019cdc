"""Correction notices at the store level: the generator, withdrawals, restarts, and the
invariant "every node that received a version later corrected or withdrawn has exactly
one correction notice for it" under random sequences (hypothesis)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, select, update

from audit.entry import Action, Entry, Outcome
from gateway.flows.notices import (
    REASON_CORRECTED,
    REASON_REPAIRED,
    REASON_WITHDRAWN,
    STALE,
    apply_plan,
    enqueue_superseded,
    enqueue_withdrawn_record,
    generate_pending,
    plan_pass,
)
from gateway.store import migrate, schema
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from gateway.store.timeutil import to_us
from xinlian.clock import FakeClock

CODE = "91350100M000100Y43"
SOURCE = "tax-dept"
NODES = ("bank-a", "bank-b", "fz-platform")


def _open(url: str) -> Store:
    store = Store(url)
    migrate.upgrade(store.engine)
    return store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = _open(db_url)
    yield s
    s.close()


CLOCK = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


def push(store: Store, record_id: str, version: int, fields: dict[str, str]) -> int:
    """A record version stored as the push path stores it: in a group-committed unit."""

    def unit(conn: Connection, ledger: LedgerTx) -> int:
        result = conn.execute(
            schema.records.insert().values(
                source_node_id=SOURCE,
                record_id=record_id,
                version=version,
                credit_code=CODE,
                category="tax",
                event_time_us=to_us(CLOCK.now()),
                fields=json.dumps(fields),
                batch_pk=0,
                received_at_us=to_us(CLOCK.now()),
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    return commit_now(store, CLOCK, unit)


def disclose(store: Store, node_id: str, record_pk: int, fields: tuple[str, ...]) -> None:
    """A query's disclosure of one record row: its ledger entry and disclosures row."""

    def unit(conn: Connection, ledger: LedgerTx) -> None:
        index = ledger.append(
            Entry(
                action=Action.QUERY,
                time=CLOCK.now(),
                actor=node_id,
                actor_kind="institution",
                outcome=Outcome.OK,
                trace_id="t-" + node_id,
                credit_code=CODE,
                subject=None,
                details={},
            )
        )
        conn.execute(
            schema.disclosures.insert().values(
                ledger_index=index,
                record_pk=record_pk,
                consumer_node_id=node_id,
                grant_id=None,
                purpose="financing",
                masks=json.dumps({f: "keep" for f in fields}),
                trace_id="t-" + node_id,
                time_us=to_us(CLOCK.now()),
            )
        )

    commit_now(store, CLOCK, unit)


def withdraw(store: Store, record_pk: int, reason: str = REASON_WITHDRAWN) -> int:
    """A withdrawal as the objections flow makes it (or a repair, as the repair flow
    does): marker and notices, one unit."""

    def unit(conn: Connection, ledger: LedgerTx) -> int:
        conn.execute(
            update(schema.records)
            .where(schema.records.c.id == record_pk)
            .values(withdrawn_at_us=to_us(CLOCK.now()))
        )
        return enqueue_superseded(conn, ledger, record_pk, None, reason, CLOCK.now())

    return commit_now(store, CLOCK, unit)


def notices(store: Store) -> list[Any]:
    return store.read(
        lambda conn: list(conn.execute(select(schema.notices).order_by(schema.notices.c.id)))
    )


def ledger_actions(store: Store, action: str) -> int:
    e = schema.ledger_entries.c
    return int(
        store.read(
            lambda conn: conn.execute(
                select(func.count()).select_from(schema.ledger_entries).where(e.action == action)
            ).scalar_one()
        )
    )


def test_correction_reaches_every_receiver_once(store: Store) -> None:
    v1 = push(store, "tax-1", 1, {"a": "1", "b": "2", "c": "3"})
    disclose(store, "bank-a", v1, ("a", "b"))
    disclose(store, "bank-a", v1, ("a", "b"))  # twice: still one notice
    disclose(store, "fz-platform", v1, ("a", "b", "c"))
    push(store, "other", 1, {"a": "1"})
    assert generate_pending(store, CLOCK) == 0
    push(store, "tax-1", 2, {"a": "1", "b": "20", "c": "30"})
    assert generate_pending(store, CLOCK) == 2
    assert generate_pending(store, CLOCK) == 0
    rows = {row.node_id: row for row in notices(store)}
    assert set(rows) == {"bank-a", "fz-platform"}
    assert json.loads(rows["bank-a"].changed_fields) == ["b"]  # c was never received
    assert json.loads(rows["fz-platform"].changed_fields) == ["b", "c"]
    assert {(r.old_version, r.new_version, r.reason) for r in rows.values()} == {
        (1, 2, REASON_CORRECTED)
    }
    assert ledger_actions(store, "notice.created") == 2


def test_withdrawal_and_later_correction_give_one_notice(store: Store) -> None:
    v1 = push(store, "tax-1", 1, {"a": "1"})
    disclose(store, "bank-a", v1, ("a",))
    assert withdraw(store, v1) == 1
    assert withdraw(store, v1) == 0  # a second call changes nothing
    push(store, "tax-1", 2, {"a": "2"})
    assert generate_pending(store, CLOCK) == 0
    [row] = notices(store)
    assert (row.reason, row.new_version, json.loads(row.changed_fields)) == (
        "withdrawn",
        None,
        ["a"],
    )


def test_withdrawing_every_version_tells_each_receiver_once(store: Store) -> None:
    v1 = push(store, "tax-1", 1, {"a": "1"})
    disclose(store, "bank-a", v1, ("a",))
    v2 = push(store, "tax-1", 2, {"a": "2"})
    disclose(store, "bank-a", v2, ("a",))
    disclose(store, "bank-b", v2, ("a",))
    assert generate_pending(store, CLOCK) == 1  # bank-a: v1 corrected by v2

    def unit(conn: Connection, ledger: LedgerTx) -> int:
        return enqueue_withdrawn_record(conn, ledger, SOURCE, "tax-1", CLOCK.now())

    assert commit_now(store, CLOCK, unit) == 2  # v2 to both banks; v1 already told
    assert commit_now(store, CLOCK, unit) == 0
    got = sorted((n.node_id, n.old_version, n.reason) for n in notices(store))
    assert got == [
        ("bank-a", 1, "corrected"),
        ("bank-a", 2, "withdrawn"),
        ("bank-b", 2, "withdrawn"),
    ]


def test_interrupted_and_racing_generators(store: Store) -> None:
    """Interrupted between passes, or a stale plan applied after another replica
    advanced the cursor: no notice twice, none missing."""
    pks = [push(store, f"r-{i}", 1, {"a": "1"}) for i in range(6)]
    for pk in pks:
        disclose(store, "bank-a", pk, ("a",))
    for i in range(6):
        push(store, f"r-{i}", 2, {"a": "2"})
    # one pass (the 6 first versions and r-0's correction), then the process "dies"
    plan = store.read(lambda conn: plan_pass(conn, 7))
    now = CLOCK.now()
    assert commit_now(store, CLOCK, lambda conn, ledger: apply_plan(conn, ledger, plan, now)) == 1
    # another replica reads a plan, then this one restarts and catches up first
    stale = store.read(lambda conn: plan_pass(conn, 3))
    assert len(stale.notices) == 3
    assert generate_pending(store, CLOCK, batch=2) == 5
    now = CLOCK.now()
    # the stale plan of the other replica: refused, since the cursor moved
    stale_result = commit_now(
        store, CLOCK, lambda conn, ledger: apply_plan(conn, ledger, stale, now)
    )
    assert stale_result == STALE
    assert sorted(n.record_id for n in notices(store)) == [f"r-{i}" for i in range(6)]
    assert ledger_actions(store, "notice.created") == 6


# -- the property --------------------------------------------------------------------
# pushes of versions (corrections), queries by several nodes (each receives the latest
# version), withdrawals and repairs (no longer disclosed), generator runs of random batch
# sizes in between; then the generator to the end

RECORDS = ("r-0", "r-1", "r-2")
OPS = st.one_of(
    st.tuples(st.just("push"), st.sampled_from(RECORDS), st.integers(0, 3)),
    st.tuples(st.just("query"), st.sampled_from(RECORDS), st.sampled_from(NODES)),
    st.tuples(st.just("withdraw"), st.sampled_from(RECORDS), st.just(REASON_WITHDRAWN)),
    st.tuples(st.just("withdraw"), st.sampled_from(RECORDS), st.just(REASON_REPAIRED)),
    st.tuples(st.just("generate"), st.just(""), st.integers(1, 3)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=25))
def test_exactly_one_notice_per_superseded_version_received(ops: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _open(f"sqlite:///{Path(tmp) / 'p.db'}")
        try:
            _run_model(store, ops)
        finally:
            store.close()


def _run_model(store: Store, ops: list[Any]) -> None:
    versions: dict[str, list[tuple[int, int]]] = {r: [] for r in RECORDS}  # (version, pk)
    withdrawn: set[int] = set()
    received: set[tuple[str, str, int]] = set()  # (node, record, version)
    for op, record_id, arg in ops:
        stored = versions.get(record_id, [])
        latest = max(stored) if stored else None
        if op == "push":
            # a correction is a higher version; a repeated or lower one is not stored
            version = (latest[0] if latest else 0) + 1 + arg
            stored.append((version, push(store, record_id, version, {"a": str(version)})))
        elif op == "query" and latest is not None and latest[1] not in withdrawn:
            disclose(store, arg, latest[1], ("a",))  # the query path reads the latest
            received.add((arg, record_id, latest[0]))
        elif op == "withdraw" and latest is not None and latest[1] not in withdrawn:
            withdrawn.add(latest[1])
            withdraw(store, latest[1], arg)
        elif op == "generate":
            generate_pending(store, CLOCK, batch=arg)
    generate_pending(store, CLOCK, batch=2)
    superseded = {
        (node, record_id, version)
        for node, record_id, version in received
        if any(v > version for v, _ in versions[record_id])
        or dict(versions[record_id])[version] in withdrawn
    }
    got = [(n.node_id, n.record_id, int(n.old_version)) for n in notices(store)]
    assert sorted(got) == sorted(superseded)  # exactly one each, none else
    assert ledger_actions(store, "notice.created") == len(got)
