"""Correction notices, generated: every node that received a version of a record that
was later corrected, withdrawn or repaired gets exactly one notice for it.

A node received a version when a ``disclosures`` row names that record row (the query
path writes it in the transaction of the query's ledger entry). A version is superseded

* by a correction: any higher version of the same (source, record id) stored by its
  source. The background generator (``run_notice_generator``, started with the
  gateway, and ``generate_pending`` for tests and tools) finds them, off the push path;
* by a withdrawal or a repair: the flow that withdraws or repairs calls
  ``enqueue_superseded`` in its own unit of work, so the notices commit with it.

Steps of one generator pass:

1. read (no lock): the cursor (``notice_cursor`` row "records": the last records.id
   scanned), the next ``MAX_SCAN_BATCH`` record rows after it, and for each the
   disclosures of every lower version of the same record, with both versions' fields;
2. commit (one unit of work through the group committer): re-read the cursor; if another
   gateway replica advanced it meanwhile, change nothing (the next pass plans again);
   else insert each notice *if absent* by (node, source, record id, superseded version)
   with its ``notice.created`` ledger entry, and advance the cursor in the same
   transaction.

Why a cursor on records.id is exact: every write of records and disclosures runs in a
group-committer transaction, and those queue on the ledger's sequencer row, so ids are
given in commit order and a read sees a prefix of them; a query reads only the latest
version, so no disclosure of a version is written once a higher one is stored.

What a notice says: the record, the superseded and the new version (none when
withdrawn), the reason, and the names of the fields that changed among those the node
received. Its values are computed when the node pulls it (``gateway.flows.notice_delivery``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from audit.entry import Action, Entry, Outcome
from gateway.flows.runtime import Runtime, new_trace_id
from gateway.store import schema
from gateway.store.committer import LedgerTx, Work, commit_now
from gateway.store.db import Store
from gateway.store.dialect import dialect_of
from gateway.store.timeutil import to_us
from xinlian.clock import Clock
from xinlian.errors import InvalidArgument

log = logging.getLogger(__name__)

REASON_CORRECTED = "corrected"
REASON_WITHDRAWN = "withdrawn"
REASON_REPAIRED = "repaired"
REASONS = frozenset({REASON_CORRECTED, REASON_WITHDRAWN, REASON_REPAIRED})
MAX_SCAN_BATCH = 2000
"""Record rows one generator pass reads after the cursor."""
NOTICE_INTERVAL_S = 1.0
"""Pause of the background generator once caught up, or when another replica moved the
cursor under it (that replica is doing the work)."""
CATCH_UP_GAP_S = 0.1
"""Pause between passes while behind: the generator never competes with pushes for the
committer back to back."""
STALE = -1
"""``apply_plan``'s answer when the cursor moved since the plan was read."""
RECORDS_CURSOR = "records"
GATEWAY_ACTOR = "gateway"


@dataclass(frozen=True)
class PlannedNotice:
    """One notice to insert: a node that received ``old`` and what superseded it."""

    node_id: str
    disclosure_id: int
    source_node_id: str
    record_id: str
    credit_code: str
    category: str
    old_version: int
    old_record_pk: int
    new_version: int | None
    new_record_pk: int | None
    reason: str
    changed_fields: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    from_id: int
    to_id: int
    notices: tuple[PlannedNotice, ...]


# -- changed fields ----------------------------------------------------------------------


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any] | None) -> set[str]:
    """The names whose value differs (or that one version lacks); all of ``old`` when
    there is no new version (withdrawn)."""
    if new is None:
        return set(old)
    return {name for name in set(old) | set(new) if old.get(name) != new.get(name)}


def _fields(text: str) -> dict[str, Any]:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _received(masks_text: str) -> set[str]:
    """The field names a disclosure row says the node received."""
    try:
        value = json.loads(masks_text)
    except ValueError:
        return set()
    return set(value) if isinstance(value, dict) else set()


def _planned(
    old: Any,
    node_id: str,
    disclosure_id: int,
    masks: str,
    new: tuple[int, int] | None,
    reason: str,
    changed: set[str],
) -> PlannedNotice:
    """The notice to ``node_id`` that the record row ``old`` (its columns: id, version,
    source_node_id, record_id, credit_code, category) was superseded by ``new`` (version,
    record pk; None: withdrawn). Only fields the node received are named."""
    return PlannedNotice(
        node_id=node_id,
        disclosure_id=disclosure_id,
        source_node_id=old.source_node_id,
        record_id=old.record_id,
        credit_code=old.credit_code,
        category=old.category,
        old_version=int(old.version),
        old_record_pk=int(old.id),
        new_version=new[0] if new is not None else None,
        new_record_pk=new[1] if new is not None else None,
        reason=reason,
        changed_fields=tuple(sorted(changed & _received(masks))),
    )


# -- (1) the read ------------------------------------------------------------------------


def _fields_of(conn: Connection, pks: set[int]) -> dict[int, dict[str, Any]]:
    r = schema.records.c
    rows = conn.execute(select(r.id, r.fields).where(dialect_of(conn).ids_in(r.id, sorted(pks))))
    return {int(pk): _fields(text) for pk, text in rows}


def _masks_of(conn: Connection, ids: list[int]) -> dict[int, str]:
    d = schema.disclosures.c
    rows = conn.execute(select(d.id, d.masks).where(dialect_of(conn).ids_in(d.id, ids)))
    return {int(i): m for i, m in rows}


def read_cursor(conn: Connection) -> int:
    c = schema.notice_cursor.c
    value = conn.execute(select(c.last_id).where(c.name == RECORDS_CURSOR)).scalar()
    return int(value) if value is not None else 0


def plan_pass(conn: Connection, batch: int = MAX_SCAN_BATCH) -> Plan:
    """Step (1): the notices the next ``batch`` record rows after the cursor call for."""
    r = schema.records.c
    start = read_cursor(conn)
    ids = conn.execute(select(r.id).where(r.id > start).order_by(r.id).limit(batch)).scalars()
    scanned = [int(i) for i in ids]
    if not scanned:
        return Plan(start, start, ())
    end = scanned[-1]
    new = schema.records.alias("n")
    old = schema.records.alias("o")
    d = schema.disclosures.c
    # one row per (new row, old row, node), with the node's latest disclosure of the old
    # row: a node that queried a record many times is read once
    old_columns = (
        old.c.id,
        old.c.version,
        old.c.source_node_id,
        old.c.record_id,
        old.c.credit_code,
        old.c.category,
    )
    rows = conn.execute(
        select(
            new.c.id.label("new_pk"),
            new.c.version.label("new_version"),
            *old_columns,
            d.consumer_node_id,
            func.max(d.id).label("disclosure_id"),
        )
        .select_from(
            new.join(
                old,
                (old.c.source_node_id == new.c.source_node_id)
                & (old.c.record_id == new.c.record_id)
                & (old.c.version < new.c.version),
            ).join(schema.disclosures, d.record_pk == old.c.id)
        )
        .where(new.c.id > start, new.c.id <= end)
        .group_by(new.c.id, new.c.version, *old_columns, d.consumer_node_id)
        .order_by(new.c.id)
    ).all()
    # per (node, old row): the first new row that superseded it
    chosen: dict[tuple[str, int], Any] = {}
    for row in rows:
        chosen.setdefault((row.consumer_node_id, int(row.id)), row)
    if not chosen:
        return Plan(start, end, ())
    fields = _fields_of(conn, {int(pk) for row in chosen.values() for pk in (row.id, row.new_pk)})
    masks = _masks_of(conn, [int(row.disclosure_id) for row in chosen.values()])
    notices = tuple(
        _planned(
            row,
            row.consumer_node_id,
            int(row.disclosure_id),
            masks[int(row.disclosure_id)],
            (int(row.new_version), int(row.new_pk)),
            REASON_CORRECTED,
            changed_fields(fields[int(row.id)], fields[int(row.new_pk)]),
        )
        for row in chosen.values()
    )
    return Plan(start, end, notices)


# -- (2) the commit ----------------------------------------------------------------------


def apply_plan(conn: Connection, ledger: LedgerTx, plan: Plan, now: datetime) -> int:
    """Step (2), a unit of work: the plan's notices and the cursor, or nothing if the
    cursor moved since the plan was read (``STALE``). Returns the number of notices
    inserted."""
    c = schema.notice_cursor.c
    dialect = dialect_of(conn)
    dialect.insert_if_absent(
        conn, schema.notice_cursor, {"name": RECORDS_CURSOR, "last_id": 0}, ("name",)
    )
    if read_cursor(conn) != plan.from_id:
        return STALE
    created = sum(_insert_notice(conn, ledger, notice, now) for notice in plan.notices)
    conn.execute(
        update(schema.notice_cursor).where(c.name == RECORDS_CURSOR).values(last_id=plan.to_id)
    )
    return created


def _insert_notice(
    conn: Connection, ledger: LedgerTx, notice: PlannedNotice, now: datetime
) -> bool:
    """Insert one notice unless the node has one for that version; its ledger entry
    (the index is taken before the insert: the entry is appended only if it went in)."""
    index = ledger.size
    values = {
        "node_id": notice.node_id,
        "source_node_id": notice.source_node_id,
        "record_id": notice.record_id,
        "credit_code": notice.credit_code,
        "category": notice.category,
        "old_version": notice.old_version,
        "old_record_pk": notice.old_record_pk,
        "new_version": notice.new_version,
        "new_record_pk": notice.new_record_pk,
        "reason": notice.reason,
        "changed_fields": json.dumps(list(notice.changed_fields)),
        "disclosure_id": notice.disclosure_id,
        "created_at_us": to_us(now),
        "ledger_index": index,
    }
    conflict = ("node_id", "source_node_id", "record_id", "old_version")
    if not dialect_of(conn).insert_if_absent(conn, schema.notices, values, conflict):
        return False
    appended = ledger.append(_created_entry(notice, now))
    if appended != index:  # pragma: no cover - the ledger is this transaction's alone
        raise RuntimeError("notice ledger index moved")
    return True


def _created_entry(notice: PlannedNotice, now: datetime) -> Entry:
    return Entry(
        action=Action.NOTICE_CREATED,
        time=now,
        actor=GATEWAY_ACTOR,
        actor_kind=GATEWAY_ACTOR,
        outcome=Outcome.OK,
        trace_id=new_trace_id(),
        credit_code=notice.credit_code,
        subject=notice.record_id,
        details={
            "node_id": notice.node_id,
            "source_node_id": notice.source_node_id,
            "record_id": notice.record_id,
            "category": notice.category,
            "old_version": notice.old_version,
            "new_version": notice.new_version,
            "reason": notice.reason,
            "fields": list(notice.changed_fields),
        },
    )


def enqueue_superseded(
    conn: Connection,
    ledger: LedgerTx,
    old_record_pk: int,
    new_record_pk: int | None,
    reason: str,
    now: datetime,
) -> int:
    """In a unit of work that withdraws (``new_record_pk`` None) or repairs a record row:
    a notice for every node that received the row ``old_record_pk`` and has none for
    it yet. Returns the number of notices inserted."""
    if reason not in REASONS:
        raise InvalidArgument.field("reason", reason, "one of " + ", ".join(sorted(REASONS)))
    r, d = schema.records.c, schema.disclosures.c
    old = conn.execute(select(schema.records).where(r.id == old_record_pk)).one()
    new_fields: dict[str, Any] | None = None
    new_version = 0
    if new_record_pk is not None:
        stored = conn.execute(select(r.version, r.fields).where(r.id == new_record_pk)).one()
        new_fields, new_version = _fields(stored.fields), int(stored.version)
    changed = changed_fields(_fields(old.fields), new_fields)
    latest: dict[str, Any] = {}
    for row in conn.execute(
        select(d.id, d.consumer_node_id, d.masks).where(d.record_pk == old_record_pk).order_by(d.id)
    ):
        latest[row.consumer_node_id] = row
    created = 0
    for node_id, row in sorted(latest.items()):
        new = (new_version, new_record_pk) if new_record_pk is not None else None
        notice = _planned(old, node_id, int(row.id), row.masks, new, reason, changed)
        created += _insert_notice(conn, ledger, notice, now)
    return created


def enqueue_withdrawn_record(
    conn: Connection, ledger: LedgerTx, source_node_id: str, record_id: str, now: datetime
) -> int:
    """``enqueue_superseded`` (reason withdrawn) for every version of a record, in the
    unit of work that withdraws them all. Returns the number of notices inserted."""
    r = schema.records.c
    pks = conn.execute(
        select(r.id)
        .where(r.source_node_id == source_node_id, r.record_id == record_id)
        .order_by(r.version)
    ).scalars()
    return sum(
        enqueue_superseded(conn, ledger, int(pk), None, REASON_WITHDRAWN, now) for pk in list(pks)
    )


# -- drivers -----------------------------------------------------------------------------


def _unit(plan: Plan, now: datetime) -> Work[int]:
    """``apply_plan`` of ``plan`` as a unit of work."""
    return functools.partial(_apply, plan=plan, now=now)


def _apply(conn: Connection, ledger: LedgerTx, *, plan: Plan, now: datetime) -> int:
    return apply_plan(conn, ledger, plan, now)


def generate_pending(store: Store, clock: Clock, *, batch: int = MAX_SCAN_BATCH) -> int:
    """Run passes until the cursor reaches the last record row; returns the notices
    inserted. Synchronous (tests, tools); safe beside a running generator."""
    created = 0
    while True:
        plan = store.read(lambda conn: plan_pass(conn, batch))
        if plan.to_id == plan.from_id:
            return created
        created += max(0, commit_now(store, clock, _unit(plan, clock.now())))


async def run_notice_generator(rt: Runtime, interval_s: float = NOTICE_INTERVAL_S) -> None:
    """Background task started with the server: passes through the group committer,
    ``CATCH_UP_GAP_S`` apart while behind, ``interval_s`` once caught up or when another
    replica moved the cursor. Returns when cancelled; a failed pass is logged (type only)
    and retried after the pause."""
    while True:
        pause = interval_s
        try:
            plan = await rt.read(plan_pass)
            if plan.to_id != plan.from_id:
                created = await rt.commit(_unit(plan, rt.clock.now()))
                if created != STALE:
                    pause = CATCH_UP_GAP_S
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("notice generation failed: %s", type(exc).__name__)
        await asyncio.sleep(pause)
