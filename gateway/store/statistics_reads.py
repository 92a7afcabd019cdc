"""The reads behind the monthly statistics (gateway.flows.statistics): one period's ledger
entries of the counted actions, the first versions of records received in it, grants
active and objections overdue at an instant, and the nodes the report lists.

Run them on one connection of ``Store.snapshot`` so every figure comes from one state.
Periods are half-open ``[start_us, end_us)`` in integer microseconds (UTC), as stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select

from authz.timeliness import PushedRecord
from gateway.store import schema
from gateway.store.timeutil import from_us

ENTRY_CHUNK = 5000
"""Ledger rows read per statement while walking a period."""
RECORD_CHUNK = 20_000
"""Record rows read per statement."""


@dataclass(frozen=True)
class PeriodEntry:
    """One ledger entry of the period: its decoded body's counted fields (``details``
    empty and ``pruned`` set when retention removed the body)."""

    action: str
    actor: str
    actor_kind: str
    outcome: str
    details: dict[str, Any]
    pruned: bool = False


def period_entries(
    conn: Connection, actions: Sequence[str], start_us: int, end_us: int, below_index: int
) -> Iterator[PeriodEntry]:
    """Entries of ``actions`` with ``start_us <= time < end_us`` and index below
    ``below_index``, in index order, read in chunks."""
    t = schema.ledger_entries
    after = -1
    while True:
        rows = conn.execute(
            select(t.c.idx, t.c.body, t.c.action, t.c.actor, t.c.outcome)
            .where(
                t.c.time_us >= start_us,
                t.c.time_us < end_us,
                t.c.idx < below_index,
                t.c.idx > after,
                t.c.action.in_(list(actions)),
            )
            .order_by(t.c.idx)
            .limit(ENTRY_CHUNK)
        ).all()
        for row in rows:
            if row.body is None:
                yield PeriodEntry(row.action, row.actor, "", row.outcome, {}, pruned=True)
                continue
            body = json.loads(bytes(row.body))
            yield PeriodEntry(
                body["action"], body["actor"], body["actor_kind"], body["outcome"], body["details"]
            )
        if len(rows) < ENTRY_CHUNK:
            return
        after = int(rows[-1].idx)


def first_versions_received(conn: Connection, start_us: int, end_us: int) -> Iterator[PushedRecord]:
    """Every record received in the period with no lower version of the same (source,
    record id) stored: the records whose timeliness is assessed (corrections are not)."""
    r = schema.records
    older = schema.records.alias("older")
    earlier = exists().where(
        and_(
            older.c.source_node_id == r.c.source_node_id,
            older.c.record_id == r.c.record_id,
            older.c.version < r.c.version,
        )
    )
    after = -1
    while True:
        rows = conn.execute(
            select(r.c.id, r.c.source_node_id, r.c.category, r.c.event_time_us, r.c.received_at_us)
            .where(
                r.c.received_at_us >= start_us,
                r.c.received_at_us < end_us,
                r.c.id > after,
                ~earlier,
            )
            .order_by(r.c.id)
            .limit(RECORD_CHUNK)
        ).all()
        for row in rows:
            yield PushedRecord(
                row.source_node_id,
                row.category,
                from_us(int(row.event_time_us)),
                from_us(int(row.received_at_us)),
            )
        if len(rows) < RECORD_CHUNK:
            return
        after = int(rows[-1].id)


def active_grants(conn: Connection, at_us: int) -> dict[str, int]:
    """Grants per grantee in force at ``at_us``: submitted by then, ``not_before <= at <
    not_after``, not revoked by then (a ``max_uses`` grant counts while it is in force,
    used up or not)."""
    g = schema.grants
    rows = conn.execute(
        select(g.c.grantee_node_id, func.count())
        .where(
            g.c.submitted_at_us <= at_us,
            g.c.not_before_us <= at_us,
            g.c.not_after_us > at_us,
            or_(g.c.revoked_at_us.is_(None), g.c.revoked_at_us > at_us),
        )
        .group_by(g.c.grantee_node_id)
    ).all()
    return {str(node): int(n) for node, n in rows}


def overdue_objections(conn: Connection, at_us: int) -> dict[str, int]:
    """Objections per source department that were open at ``at_us`` with their answer
    deadline already passed: filed by then, due before then, not answered by then."""
    o = schema.objections
    rows = conn.execute(
        select(o.c.source_node_id, func.count())
        .where(
            o.c.filed_at_us <= at_us,
            o.c.answer_due_us < at_us,
            or_(o.c.answered_at_us.is_(None), o.c.answered_at_us > at_us),
        )
        .group_by(o.c.source_node_id)
    ).all()
    return {str(node): int(n) for node, n in rows}


@dataclass(frozen=True)
class ListedNode:
    node_id: str
    kind: str
    name: str
    categories: tuple[str, ...]


LISTED_STATES = ("admitted", "suspended")
"""Nodes in these states are listed even in a month they did nothing."""


def listed_nodes(conn: Connection, kinds: Sequence[str]) -> list[ListedNode]:
    """Nodes of ``kinds`` admitted or suspended now, by node id."""
    n = schema.nodes
    rows = conn.execute(
        select(n.c.node_id, n.c.kind, n.c.name, n.c.categories)
        .where(n.c.kind.in_(list(kinds)), n.c.state.in_(LISTED_STATES))
        .order_by(n.c.node_id)
    ).all()
    return [
        ListedNode(row.node_id, row.kind, row.name, tuple(json.loads(row.categories or "[]")))
        for row in rows
    ]


__all__ = [
    "PeriodEntry",
    "active_grants",
    "first_versions_received",
    "listed_nodes",
    "overdue_objections",
    "period_entries",
]
