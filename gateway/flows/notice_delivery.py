"""Correction notices, delivered: a node pulls the notices waiting for it and
acknowledges them (``NoticeService``; the node is a client, so its queue is the
``notices`` table, see ``gateway.flows.notices``).

Pull (a read, no ledger entry), steps:

1. the caller's unacknowledged notices after ``after`` (a notice id), oldest first, at
   most ``limit`` (≤ MAX_PULL_NOTICES): delivered at least once, since an
   unacknowledged notice comes again on every pull from the start;
2. per notice, the values of the changed fields in the new version, masked exactly as
   the query path masks them for this node (``authz.desensitize.desensitize_record``
   with the node's role, limited to the fields the node received in the superseded
   version), only while the entitlement stands: the grant the disclosure was made under
   is still active (not revoked, inside its window), or the disclosure needed no grant
   (a public category); and the new version is of the same enterprise and category.
   Otherwise the notice carries the field names only, and says why
   (``values_withheld``).

Ack (one unit of work), steps:

1. at most MAX_ACK_IDS ids; ids of other nodes' notices count as unknown (nothing said
   about them);
2. each of the caller's notices not yet acknowledged is marked, conditionally (a
   concurrent ack of the same notice changes it once), with one ``notice.acked`` ledger
   entry each; a second ack of the same notice changes nothing and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from audit.entry import Action, Entry, Outcome
from authz.desensitize import DisclosedField, desensitize_record, load_default_policy, role_for
from gateway.core.caller import Caller
from gateway.flows.runtime import Runtime
from gateway.store import schema
from gateway.store.committer import LedgerTx
from gateway.store.timeutil import from_us, to_us
from xinlian.errors import InvalidArgument

MAX_PULL_NOTICES = 500
MAX_ACK_IDS = 500
WITHHELD_WITHDRAWN = "WITHDRAWN"
WITHHELD_GRANT_INACTIVE = "GRANT_INACTIVE"
WITHHELD_MOVED = "RECORD_MOVED"


@dataclass(frozen=True)
class DeliveredNotice:
    notice_id: int
    source_node_id: str
    record_id: str
    credit_code: str
    category: str
    old_version: int
    new_version: int | None
    reason: str
    changed_fields: tuple[str, ...]
    values: tuple[DisclosedField, ...]
    values_withheld: str
    """Empty when the values are given, else why not (WITHHELD_*)."""
    grant_id: str | None
    created_at: datetime
    ledger_index: int


@dataclass(frozen=True)
class AckResult:
    acked: tuple[int, ...]
    already_acked: tuple[int, ...]
    unknown: tuple[int, ...]
    ledger_indexes: tuple[int, ...]


def _grant_active(conn: Connection, grant_id: str | None, now_us: int) -> bool:
    if grant_id is None:
        return True
    g = schema.grants.c
    row = conn.execute(
        select(g.not_before_us, g.not_after_us, g.revoked_at_us).where(g.grant_id == grant_id)
    ).first()
    if row is None or row.revoked_at_us is not None:
        return False
    return int(row.not_before_us) <= now_us < int(row.not_after_us)


class NoticeDelivery:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.policy = load_default_policy(rt.catalog)

    async def pull(self, caller: Caller, after: int, limit: int) -> list[DeliveredNotice]:
        if after < 0:
            raise InvalidArgument.field("after", after, "a notice id ≥ 0")
        if not 1 <= limit <= MAX_PULL_NOTICES:
            raise InvalidArgument.field("max", limit, f"1..{MAX_PULL_NOTICES}")
        now_us = to_us(self.rt.clock.now())
        return await self.rt.read(lambda conn: self._pull(conn, caller, after, limit, now_us))

    def _pull(
        self, conn: Connection, caller: Caller, after: int, limit: int, now_us: int
    ) -> list[DeliveredNotice]:
        n, d = schema.notices.c, schema.disclosures.c
        new = schema.records.alias("new")
        # (1) the caller's unacknowledged notices after ``after``
        rows = conn.execute(
            select(
                schema.notices,
                d.grant_id,
                d.masks,
                new.c.fields.label("new_fields"),
                new.c.credit_code.label("new_credit_code"),
                new.c.category.label("new_category"),
            )
            .select_from(
                schema.notices.join(schema.disclosures, d.id == n.disclosure_id).outerjoin(
                    new, new.c.id == n.new_record_pk
                )
            )
            .where(n.node_id == caller.node_id, n.acked_at_us.is_(None), n.id > after)
            .order_by(n.id)
            .limit(limit)
        ).all()
        # (2) the values, masked as the query path masks them, while entitled
        out: list[DeliveredNotice] = []
        for row in rows:
            names = tuple(json.loads(row.changed_fields))
            withheld = self._withheld(conn, row, now_us)
            values: tuple[DisclosedField, ...] = ()
            if not withheld:
                values = tuple(self._mask(row, caller, frozenset(names)))
            out.append(
                DeliveredNotice(
                    notice_id=int(row.id),
                    source_node_id=row.source_node_id,
                    record_id=row.record_id,
                    credit_code=row.credit_code,
                    category=row.category,
                    old_version=int(row.old_version),
                    new_version=int(row.new_version) if row.new_version is not None else None,
                    reason=row.reason,
                    changed_fields=names,
                    values=values,
                    values_withheld=withheld,
                    grant_id=row.grant_id,
                    created_at=from_us(int(row.created_at_us)),
                    ledger_index=int(row.ledger_index),
                )
            )
        return out

    @staticmethod
    def _withheld(conn: Connection, row: Any, now_us: int) -> str:
        if row.new_record_pk is None or row.new_fields is None:
            return WITHHELD_WITHDRAWN
        if row.new_credit_code != row.credit_code or row.new_category != row.category:
            return WITHHELD_MOVED
        if not _grant_active(conn, row.grant_id, now_us):
            return WITHHELD_GRANT_INACTIVE
        return ""

    def _mask(self, row: Any, caller: Caller, names: frozenset[str]) -> list[DisclosedField]:
        fields: Any = json.loads(row.new_fields)
        if not isinstance(fields, dict):
            return []
        category = self.rt.catalog.require(row.category, field_name="category")
        return desensitize_record(
            {k: v for k, v in fields.items() if isinstance(v, str)},
            category,
            role_for(caller.kind, self_query=False),
            names,
            caller.node_id,
            self.rt.pseudonym_secret,
            self.policy,
        )

    async def ack(self, caller: Caller, ids: Sequence[int], trace_id: str) -> AckResult:
        # (1) bounded
        if not 1 <= len(ids) <= MAX_ACK_IDS:
            raise InvalidArgument.field("ids", len(ids), f"1..{MAX_ACK_IDS} notice ids")
        wanted = sorted(set(ids))
        now = self.rt.clock.now()
        return await self.rt.commit(
            lambda conn, ledger: _ack(conn, ledger, caller, wanted, now, trace_id)
        )


def _ack(
    conn: Connection,
    ledger: LedgerTx,
    caller: Caller,
    ids: list[int],
    now: datetime,
    trace_id: str,
) -> AckResult:
    """Step (2), a unit of work (may be retried: returns fresh values)."""
    n = schema.notices.c
    rows = conn.execute(
        select(schema.notices).where(n.id.in_(ids), n.node_id == caller.node_id).order_by(n.id)
    ).all()
    found = {int(row.id): row for row in rows}
    acked: list[int] = []
    already: list[int] = []
    indexes: list[int] = []
    for notice_id, row in found.items():
        if row.acked_at_us is not None:
            already.append(notice_id)
            continue
        index = ledger.size
        changed = conn.execute(
            update(schema.notices)
            .where(n.id == notice_id, n.acked_at_us.is_(None))
            .values(acked_at_us=to_us(now), ack_ledger_index=index)
            .execution_options(preserve_rowcount=True)
        ).rowcount
        if changed != 1:
            already.append(notice_id)
            continue
        ledger.append(_acked_entry(row, caller, now, trace_id))
        acked.append(notice_id)
        indexes.append(index)
    unknown = tuple(i for i in ids if i not in found)
    return AckResult(tuple(acked), tuple(already), unknown, tuple(indexes))


def _acked_entry(row: Any, caller: Caller, now: datetime, trace_id: str) -> Entry:
    return Entry(
        action=Action.NOTICE_ACKED,
        time=now,
        actor=caller.node_id,
        actor_kind=caller.kind,
        outcome=Outcome.OK,
        trace_id=trace_id,
        credit_code=row.credit_code,
        subject=row.record_id,
        details={
            "notice_id": int(row.id),
            "source_node_id": row.source_node_id,
            "record_id": row.record_id,
            "old_version": int(row.old_version),
            "new_version": int(row.new_version) if row.new_version is not None else None,
            "created_ledger_index": int(row.ledger_index),
        },
    )
