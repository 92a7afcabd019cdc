"""The correction notices of a record, for its trace (``gateway.flows.trace``): who was
told that which version was superseded, with the ledger indexes of the notice's
``notice.created`` and ``notice.acked`` entries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from gateway.store import schema
from gateway.store.timeutil import from_us

MAX_TRACE_NOTICES = 10_000
"""Notices listed by one record trace (the oldest first)."""


@dataclass(frozen=True)
class NoticeTrace:
    notice_id: int
    node_id: str
    source_node_id: str
    record_id: str
    old_version: int
    new_version: int | None
    reason: str
    changed_fields: tuple[str, ...]
    created_at: datetime
    ledger_index: int
    ack_ledger_index: int | None


def notices_of(conn: Connection, record_pks: Sequence[int]) -> tuple[NoticeTrace, ...]:
    """The notices about the record rows ``record_pks`` (each superseded version)."""
    n = schema.notices.c
    rows = conn.execute(
        select(schema.notices)
        .where(n.old_record_pk.in_(list(record_pks)))
        .order_by(n.id)
        .limit(MAX_TRACE_NOTICES)
    ).all()
    return tuple(
        NoticeTrace(
            notice_id=int(row.id),
            node_id=row.node_id,
            source_node_id=row.source_node_id,
            record_id=row.record_id,
            old_version=int(row.old_version),
            new_version=int(row.new_version) if row.new_version is not None else None,
            reason=row.reason,
            changed_fields=tuple(json.loads(row.changed_fields)),
            created_at=from_us(int(row.created_at_us)),
            ledger_index=int(row.ledger_index),
            ack_ledger_index=(
                int(row.ack_ledger_index) if row.ack_ledger_index is not None else None
            ),
        )
        for row in rows
    )
