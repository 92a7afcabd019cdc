"""Trace and search over the stored ledger and provenance: "信息来源可溯、去向可查".

* ``trace_record``: where a record came from (node, batch, signature, time, the
  ``push.batch`` ledger index, and the ``retention.erased`` ledger index if retention
  erased the batch's signed bytes since) and every destination (which consumer
  received which fields, raw or masked, under which grant, for which purpose, when,
  with which trace id and ledger index);
* ``search``: ledger entries filtered by node (actor or subject), enterprise, action,
  outcome and time range, in index order, paginated by index (keyset);
* tracing an enterprise is ``search`` with only the enterprise set; it includes the
  ``push.batch`` and ``retention.erased`` entries of batches that carried any of its
  stored records.

Pure reads on a connection; no gRPC here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, or_, select

from audit.entry import Action, Outcome
from gateway.flows.notice_trace import NoticeTrace, notices_of
from gateway.store import schema
from gateway.store.dialect import dialect_of
from gateway.store.ledger import ENTRY_COLUMNS, LedgerRow, row_to_entry
from gateway.store.timeutil import from_us, to_us
from xinlian.errors import InvalidArgument, NotFound, clip

MAX_TRACE_SOURCES = 100
"""Versions/sources of one record id listed by a trace."""
MAX_TRACE_DESTINATIONS = 10_000
"""Destinations listed by one record trace (the oldest first)."""
MAX_FILTER_CHARS = 128
RAW_MASK = "keep"
"""The mask name that means "disclosed raw"."""


@dataclass(frozen=True)
class Source:
    record_pk: int
    record_id: str
    version: int
    source_node_id: str
    batch_id: str
    batch_signature: bytes
    signer_fingerprint: str
    received_at: datetime
    category: str
    credit_code: str
    ledger_index: int | None
    erasure_ledger_index: int | None = None
    """The ``retention.erased`` entry, if retention erased the batch's signed bytes."""


@dataclass(frozen=True)
class Destination:
    record_id: str
    version: int
    consumer_node_id: str
    fields: tuple[str, ...]
    masks: tuple[str, ...]
    grant_id: str | None
    purpose: str
    time: datetime
    ledger_index: int
    trace_id: str

    @property
    def raw_fields(self) -> tuple[str, ...]:
        return tuple(f for f, m in zip(self.fields, self.masks, strict=True) if m == RAW_MASK)


@dataclass(frozen=True)
class RecordTrace:
    sources: tuple[Source, ...]
    destinations: tuple[Destination, ...]
    notices: tuple[NoticeTrace, ...] = ()
    """Correction notices of the record's superseded versions (gateway.flows.notices)."""


def trace_record(conn: Connection, record_id: str, source_node_id: str = "") -> RecordTrace:
    """Sources and destinations of every version of ``record_id`` (of one source if given)."""
    r, b, d = schema.records.c, schema.batches.c, schema.disclosures.c
    e = schema.batch_erasures.c
    _check_text("record_id", record_id, required=True)
    _check_text("source_node_id", source_node_id)
    query = (
        select(
            r.id,
            r.record_id,
            r.version,
            r.source_node_id,
            r.category,
            r.credit_code,
            b.batch_id,
            b.signature,
            b.signer_fingerprint,
            b.received_at_us,
            b.ledger_index,
            e.ledger_index.label("erasure_ledger_index"),
        )
        .select_from(
            schema.records.outerjoin(schema.batches, b.id == r.batch_pk).outerjoin(
                schema.batch_erasures, e.batch_pk == r.batch_pk
            )
        )
        .where(r.record_id == record_id)
    )
    if source_node_id:
        query = query.where(r.source_node_id == source_node_id)
    rows = conn.execute(query.order_by(r.source_node_id, r.version).limit(MAX_TRACE_SOURCES)).all()
    if not rows:
        raise NotFound(f"record {clip(repr(record_id))} is not stored", reason="RECORD_NOT_FOUND")
    sources = tuple(
        Source(
            record_pk=int(row.id),
            record_id=row.record_id,
            version=int(row.version),
            source_node_id=row.source_node_id,
            batch_id=row.batch_id or "",
            batch_signature=bytes(row.signature or b""),
            signer_fingerprint=row.signer_fingerprint or "",
            received_at=from_us(int(row.received_at_us or 0)),
            category=row.category,
            credit_code=row.credit_code,
            ledger_index=int(row.ledger_index) if row.ledger_index is not None else None,
            erasure_ledger_index=(
                int(row.erasure_ledger_index) if row.erasure_ledger_index is not None else None
            ),
        )
        for row in rows
    )
    by_pk = {s.record_pk: s for s in sources}
    disclosed = conn.execute(
        select(schema.disclosures)
        .where(d.record_pk.in_(list(by_pk)))
        .order_by(d.ledger_index, d.id)
        .limit(MAX_TRACE_DESTINATIONS)
    ).all()
    destinations = []
    for row in disclosed:
        source = by_pk[int(row.record_pk)]
        masks = _masks(row.masks)
        names = tuple(sorted(masks))
        destinations.append(
            Destination(
                record_id=source.record_id,
                version=source.version,
                consumer_node_id=row.consumer_node_id,
                fields=names,
                masks=tuple(masks[n] for n in names),
                grant_id=row.grant_id,
                purpose=row.purpose,
                time=from_us(int(row.time_us)),
                ledger_index=int(row.ledger_index),
                trace_id=row.trace_id,
            )
        )
    return RecordTrace(sources, tuple(destinations), notices_of(conn, list(by_pk)))


def _masks(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchFilter:
    node_id: str = ""
    credit_code: str = ""
    action: str = ""
    outcome: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        _check_text("node_id", self.node_id)
        _check_text("credit_code", self.credit_code)
        if self.action and self.action not in {a.value for a in Action}:
            raise InvalidArgument.field(
                "action", self.action, "one of " + ", ".join(a.value for a in Action)
            )
        if self.outcome and self.outcome not in {o.value for o in Outcome}:
            raise InvalidArgument.field(
                "outcome", self.outcome, "one of " + ", ".join(o.value for o in Outcome)
            )
        if self.since and self.until and self.since > self.until:
            raise InvalidArgument.field("until", self.until.isoformat(), "not before since")

    def to_json(self) -> dict[str, str | None]:
        """For the officer's own ``audit.search`` entry."""
        return {
            "node_id": self.node_id or None,
            "credit_code": self.credit_code or None,
            "action": self.action or None,
            "outcome": self.outcome or None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True)
class Page:
    entries: tuple[LedgerRow, ...]
    next_start: int | None
    """Index to continue from, or None at the end."""


def search(conn: Connection, flt: SearchFilter, start: int, limit: int) -> Page:
    """Entries matching ``flt`` with index ``>= start``, at most ``limit``, index order."""
    t = schema.ledger_entries.c
    position: ColumnElement[int] = t.idx
    if flt.since is not None and flt.until is not None:
        # SQLite: a time window's index, not a walk of the rowid range
        position = dialect_of(conn).time_window_position(t.idx)
    query = select(*ENTRY_COLUMNS).where(position >= start)
    if flt.node_id:
        query = query.where(or_(t.actor == flt.node_id, t.subject == flt.node_id))
    if flt.credit_code:
        # An entry is about the enterprise if it names it, or if it is the push batch
        # that brought one of its records (a batch spans many enterprises), or the
        # erasure of that batch's signed bytes.
        r, b, e = schema.records.c, schema.batches.c, schema.batch_erasures.c
        pushed_in = (
            select(b.ledger_index)
            .select_from(schema.records.join(schema.batches, b.id == r.batch_pk))
            .where(r.credit_code == flt.credit_code, b.ledger_index.is_not(None))
        )
        erased_in = (
            select(e.ledger_index)
            .select_from(schema.records.join(schema.batch_erasures, e.batch_pk == r.batch_pk))
            .where(r.credit_code == flt.credit_code)
        )
        query = query.where(
            or_(t.credit_code == flt.credit_code, t.idx.in_(pushed_in), t.idx.in_(erased_in))
        )
    if flt.action:
        query = query.where(t.action == flt.action)
    if flt.outcome:
        query = query.where(t.outcome == flt.outcome)
    if flt.since is not None:
        query = query.where(t.time_us >= to_us(flt.since))
    if flt.until is not None:
        query = query.where(t.time_us < to_us(flt.until))
    rows = conn.execute(query.order_by(t.idx).limit(limit + 1)).all()
    entries = tuple(row_to_entry(r) for r in rows[:limit])
    next_start = entries[-1].idx + 1 if len(rows) > limit else None
    return Page(entries, next_start)


def _check_text(name: str, value: str, *, required: bool = False) -> None:
    if required and not value:
        raise InvalidArgument.field(name, value, "a non-empty string")
    if len(value) > MAX_FILTER_CHARS:
        raise InvalidArgument.field(name, f"{len(value)} characters", f"≤ {MAX_FILTER_CHARS}")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidArgument.field(name, value, "printable text")
