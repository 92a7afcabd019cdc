"""Reading pushed records: the latest version of each record, and where a record came from.

Versions: every version a department pushed stays stored (for trace); for queries the
highest version of each (source node, record id) supersedes the older ones, even when
the newer version moved the record to another credit code or category.

Provenance ("信息来源可溯"): for a stored record, the node and batch it came from, the
batch's signature and signer certificate, the time the gateway received it, and the
ledger index of the batch's ``push.batch`` entry.

Read functions take a ``Connection``; run them with ``rt.read(fn)`` or ``store.read(fn)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, select

from gateway.store import schema
from gateway.store.query_reads import StoredRecord
from gateway.store.timeutil import from_us

MAX_PROVENANCE_ROWS = 1000


@dataclass(frozen=True)
class StoredVersion(StoredRecord):
    """One stored version of a record (what queries read) plus its batch and arrival."""

    batch_pk: int
    received_at: datetime


@dataclass(frozen=True)
class Provenance:
    record_pk: int
    source_node_id: str
    record_id: str
    version: int
    category: str
    credit_code: str
    batch_id: str
    signature: bytes
    signer_fingerprint: str
    received_at: datetime
    ledger_index: int | None
    superseded: bool  # a higher version of the same (source, record id) is stored


def _stored(row: Any) -> StoredVersion:
    return StoredVersion(
        pk=row.id,
        source_node_id=row.source_node_id,
        record_id=row.record_id,
        version=int(row.version),
        credit_code=row.credit_code,
        category=row.category,
        event_time=from_us(int(row.event_time_us)),
        fields=json.loads(row.fields),
        batch_pk=int(row.batch_pk),
        received_at=from_us(int(row.received_at_us)),
    )


def _newer_exists() -> Any:
    """SQL condition: a higher version of the outer row's (source, record id) is stored."""
    newer = schema.records.alias("newer")
    r = schema.records
    return exists().where(
        and_(
            newer.c.source_node_id == r.c.source_node_id,
            newer.c.record_id == r.c.record_id,
            newer.c.version > r.c.version,
        )
    )


def record_versions(conn: Connection, source_node_id: str, record_id: str) -> list[StoredVersion]:
    """Every stored version of one record, oldest first (the trace of its corrections)."""
    r = schema.records
    rows = conn.execute(
        select(r)
        .where(r.c.source_node_id == source_node_id, r.c.record_id == record_id)
        .order_by(r.c.version)
    )
    return [_stored(row) for row in rows]


def provenance(
    conn: Connection, record_id: str, source_node_id: str | None = None
) -> list[Provenance]:
    """Where each stored version of ``record_id`` came from (optionally of one source)."""
    r, b = schema.records, schema.batches
    query = (
        select(
            r.c.id,
            r.c.source_node_id,
            r.c.record_id,
            r.c.version,
            r.c.category,
            r.c.credit_code,
            r.c.received_at_us,
            b.c.batch_id,
            b.c.signature,
            b.c.signer_fingerprint,
            b.c.ledger_index,
            _newer_exists().label("superseded"),
        )
        .join(b, b.c.id == r.c.batch_pk)
        .where(r.c.record_id == record_id)
        .order_by(r.c.source_node_id, r.c.version)
        .limit(MAX_PROVENANCE_ROWS)
    )
    if source_node_id is not None:
        query = query.where(r.c.source_node_id == source_node_id)
    return [
        Provenance(
            record_pk=row.id,
            source_node_id=row.source_node_id,
            record_id=row.record_id,
            version=int(row.version),
            category=row.category,
            credit_code=row.credit_code,
            batch_id=row.batch_id,
            signature=bytes(row.signature),
            signer_fingerprint=row.signer_fingerprint,
            received_at=from_us(int(row.received_at_us)),
            ledger_index=None if row.ledger_index is None else int(row.ledger_index),
            superseded=bool(row.superseded),
        )
        for row in conn.execute(query)
    ]


def category_counts(conn: Connection, *, latest_only: bool = True) -> dict[str, int]:
    """Stored records per category (by default only the latest version of each record)."""
    r = schema.records
    query = select(r.c.category, func.count()).group_by(r.c.category).order_by(r.c.category)
    if latest_only:
        query = query.where(~_newer_exists())
    return {str(row[0]): int(row[1]) for row in conn.execute(query)}


__all__ = [
    "Provenance",
    "StoredVersion",
    "category_counts",
    "provenance",
    "record_versions",
]
