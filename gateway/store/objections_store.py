"""The objections tables' reads and writes (revision 0005; the flow is
``gateway.flows.objections``): stored objections, the records they concern, the notes
the query path attaches to disclosed records, withdrawals and freezes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from authz.objections import Note, ObjectionState
from gateway.store import schema
from gateway.store.query_reads import driver_cursor, placeholder
from gateway.store.timeutil import from_us, to_us

MAX_LISTED = 500

_O = schema.objections.c
_R = schema.records.c


@dataclass(frozen=True)
class StoredRecordRef:
    pk: int
    source_node_id: str
    record_id: str
    version: int
    credit_code: str
    category: str
    withdrawn: bool


@dataclass(frozen=True)
class StoredObjection:
    objection_id: str
    credit_code: str
    record_pk: int
    source_node_id: str
    record_id: str
    version: int
    category: str
    fields: tuple[str, ...]
    claim: str
    evidence_sha256: tuple[str, ...]
    statement: bytes
    signature: bytes
    key_version: int
    platform_node_id: str
    platform_signature: bytes
    platform_received_at: datetime
    forward_due: datetime
    forwarded_late: bool
    filed_at: datetime
    answer_due: datetime
    state: ObjectionState
    answer_reason: str
    corrected_version: int | None
    answered_at: datetime | None
    answered_by: str | None
    trace_id: str

    def overdue_at(self, now: datetime) -> bool:
        """Still open after its answer deadline."""
        return self.state is ObjectionState.OPEN and now > self.answer_due


def _stored(row: Any) -> StoredObjection:
    return StoredObjection(
        objection_id=row.objection_id,
        credit_code=row.credit_code,
        record_pk=int(row.record_pk),
        source_node_id=row.source_node_id,
        record_id=row.record_id,
        version=int(row.version),
        category=row.category,
        fields=tuple(json.loads(row.fields)),
        claim=row.claim,
        evidence_sha256=tuple(json.loads(row.evidence)),
        statement=bytes(row.statement),
        signature=bytes(row.signature),
        key_version=int(row.key_version),
        platform_node_id=row.platform_node_id,
        platform_signature=bytes(row.platform_signature),
        platform_received_at=from_us(row.platform_received_at_us),
        forward_due=from_us(row.forward_due_us),
        forwarded_late=bool(row.forwarded_late),
        filed_at=from_us(row.filed_at_us),
        answer_due=from_us(row.answer_due_us),
        state=ObjectionState(row.state),
        answer_reason=row.answer_reason or "",
        corrected_version=None if row.corrected_version is None else int(row.corrected_version),
        answered_at=None if row.answered_at_us is None else from_us(row.answered_at_us),
        answered_by=row.answered_by,
        trace_id=row.trace_id,
    )


# -- records ---------------------------------------------------------------------------


def find_record(
    conn: Connection, source_node_id: str, record_id: str, version: int
) -> StoredRecordRef | None:
    row = conn.execute(
        select(_R.id, _R.credit_code, _R.category, _R.withdrawn_at_us).where(
            _R.source_node_id == source_node_id, _R.record_id == record_id, _R.version == version
        )
    ).first()
    if row is None:
        return None
    return StoredRecordRef(
        int(row.id),
        source_node_id,
        record_id,
        version,
        row.credit_code,
        row.category,
        row.withdrawn_at_us is not None,
    )


def latest_version(conn: Connection, source_node_id: str, record_id: str) -> int:
    value = conn.execute(
        select(func.max(_R.version)).where(
            _R.source_node_id == source_node_id, _R.record_id == record_id
        )
    ).scalar_one_or_none()
    return int(value or 0)


def withdraw_record(conn: Connection, source_node_id: str, record_id: str, now: datetime) -> int:
    """Mark every version of the record withdrawn: the query path discloses none."""
    result = conn.execute(
        update(schema.records)
        .where(
            _R.source_node_id == source_node_id,
            _R.record_id == record_id,
            _R.withdrawn_at_us.is_(None),
        )
        .values(withdrawn_at_us=to_us(now))
    )
    return int(result.rowcount)


# -- objections ------------------------------------------------------------------------


def insert_objection(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(schema.objections).values(**values))


def get_objection(conn: Connection, objection_id: str) -> StoredObjection | None:
    row = conn.execute(select(schema.objections).where(_O.objection_id == objection_id)).first()
    return None if row is None else _stored(row)


def list_objections(
    conn: Connection,
    *,
    source_node_id: str | None = None,
    platform_node_id: str | None = None,
    credit_code: str | None = None,
    state: ObjectionState | None = None,
    overdue_at: datetime | None = None,
    limit: int = MAX_LISTED,
) -> list[StoredObjection]:
    query = select(schema.objections).order_by(_O.filed_at_us, _O.objection_id)
    if source_node_id is not None:
        query = query.where(_O.source_node_id == source_node_id)
    if platform_node_id is not None:
        query = query.where(_O.platform_node_id == platform_node_id)
    if credit_code:
        query = query.where(_O.credit_code == credit_code)
    if state is not None:
        query = query.where(_O.state == state.value)
    if overdue_at is not None:
        query = query.where(*_overdue(overdue_at))
    return [_stored(row) for row in conn.execute(query.limit(min(limit, MAX_LISTED))).all()]


def _overdue(now: datetime) -> tuple[Any, ...]:
    """Still open after the answer deadline (``StoredObjection.overdue_at``)."""
    return (_O.state == ObjectionState.OPEN.value, _O.answer_due_us < to_us(now))


def count_overdue(conn: Connection, now: datetime) -> dict[str, int]:
    """Open objections past their answer deadline at ``now``, per category (the
    ``xinlian.objections.overdue`` gauge; index ``ix_objections_state_due``)."""
    query = select(_O.category, func.count()).where(*_overdue(now)).group_by(_O.category)
    return {str(category): int(n) for category, n in conn.execute(query).all()}


def set_answer(
    conn: Connection,
    objection_id: str,
    answer: ObjectionState,
    reason: str,
    corrected_version: int | None,
    now: datetime,
    answered_by: str,
) -> bool:
    """Record the answer if the objection is still open (False: someone answered first)."""
    result = conn.execute(
        update(schema.objections)
        .where(_O.objection_id == objection_id, _O.state == ObjectionState.OPEN.value)
        .values(
            state=answer.value,
            answer_reason=reason,
            corrected_version=corrected_version,
            answered_at_us=to_us(now),
            answered_by=answered_by,
        )
    )
    return bool(result.rowcount == 1)


def add_open_count(conn: Connection, credit_code: str, delta: int) -> None:
    """enterprises.open_objections: the number of the enterprise's open objections."""
    column = schema.enterprises.c.open_objections
    conn.execute(
        update(schema.enterprises)
        .where(schema.enterprises.c.credit_code == credit_code, column + delta >= 0)
        .values(open_objections=column + delta)
    )


_NOTES_SQL = (
    "SELECT objection_id, source_node_id, record_id, state, filed_at_us, answer_reason "
    "FROM objections WHERE credit_code = {m} AND state IN ('open', 'unconfirmable') "
    "ORDER BY filed_at_us, objection_id"
)

_notes_sql: dict[str, str] = {}


def attached_notes(conn: Connection, credit_code: str) -> dict[tuple[str, str], tuple[Note, ...]]:
    """The objections shown with the enterprise's records (open, unconfirmable), by
    (source node, record id): one indexed read (ix_objections_code) on the driver's
    cursor, in the query's transaction."""
    cursor = driver_cursor(conn)
    try:
        mark = placeholder(conn)
        sql = _notes_sql.get(mark) or _notes_sql.setdefault(mark, _NOTES_SQL.format(m=mark))
        cursor.execute(sql, (credit_code,))
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    finally:
        cursor.close()
    notes: dict[tuple[str, str], tuple[Note, ...]] = {}
    for objection_id, source, record_id, state_text, filed_at_us, reason in rows:
        state = ObjectionState(state_text)
        finding = (reason or "") if state is ObjectionState.UNCONFIRMABLE else ""
        note = Note(objection_id, state, from_us(filed_at_us), finding)
        notes[(source, record_id)] = (*notes.get((source, record_id), ()), note)
    return notes


# -- freezes ---------------------------------------------------------------------------


def set_frozen(
    conn: Connection, credit_code: str, frozen: bool, reason: str, actor: str, now: datetime
) -> bool:
    """Set enterprises.frozen and keep the history row; False if it already was."""
    result = conn.execute(
        update(schema.enterprises)
        .where(
            schema.enterprises.c.credit_code == credit_code,
            schema.enterprises.c.frozen == (not frozen),
        )
        .values(frozen=frozen, updated_at_us=to_us(now))
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        insert(schema.enterprise_freezes).values(
            credit_code=credit_code, frozen=frozen, reason=reason, actor=actor, time_us=to_us(now)
        )
    )
    return True
