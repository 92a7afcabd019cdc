"""Credit repair (信用修复) and removal from a list, and the publicity filter of the query.

Recording a repair or removal (``record_repair``, RPC RecordRepair)::

    (1) the statement names the caller as its signer, and the key of the caller's own
        certificate signed its canonical bytes (REPAIR_SIGNER_MISMATCH, BAD_SIGNATURE); a
        certificate key that cannot sign (not Ed25519 or P-256) is refused BAD_KEY_TYPE, an
        ``access.denied`` entry (gateway.flows.caller_key)
    (2) it is not issued in the future (beyond MAX_CLOCK_SKEW) nor older than
        MAX_REPAIR_STATEMENT_AGE (REPAIR_STATEMENT_STALE)
    (3) the category has a publicity rule (NO_PUBLICITY_RULE); a removal only where the
        rule allows one, i.e. for a list (REMOVAL_NOT_APPLICABLE)
    (4) who: the department that pushed the record (REPAIR_NOT_SOURCE), or a node of
        kind admin acting as the credit center (信用中心), which may repair any record
    (5) in one unit of work: the record's current version exists for this enterprise and
        category (RECORD_NOT_FOUND); it has no repair yet (REPAIR_EXISTS); the minimum
        publicity period has passed (REPAIR_BEFORE_MINIMUM, authz.publicity); a named
        application is open and about this record (APPLICATION_NOT_OPEN)
    (6) the repair row, the ``repair.recorded`` ledger entry, the application marked
        granted, and a correction notice for every node that received the record
        (gateway.flows.notices.enqueue_superseded, reason "repaired"), all committed
        together

An application (``apply_for_repair``, RPC ApplyForRepair) from a city platform::

    (1) the statement names the caller as its platform (REPAIR_APPLICATION_WRONG_PLATFORM)
        and is fresh like a repair statement
    (2) the category has a publicity rule
    (3) in one unit of work: the enterprise is registered and its current key signed
        the canonical bytes (a forged application: BAD_SIGNATURE); the record is the
        enterprise's, in that category; not repaired; the minimum period has passed; no
        other open application for it (APPLICATION_EXISTS)
    (4) the application row (state open: the source department's inbox) and the
        ``repair.applied`` entry

The department answers an application by recording the repair (naming it) or by
refusing it with a reason (``refuse_application``, ``repair.application_refused``). A
refused statement of either kind leaves a ``statement.refused`` entry (gateway.flows.denials).

The query drops what is no longer disclosed as public data: gateway.flows.publicity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from audit.entry import Action
from authz.catalog import Catalog, Publicity
from authz.publicity import RepairKind, check_repair_allowed, local_day
from authz.repair_statements import RepairStatement
from authz.statements import MAX_CLOCK_SKEW, MAX_REASON_CHARS, check_text, format_time
from gateway.core.caller import Caller
from gateway.flows import change_log
from gateway.flows.caller_key import signing_key
from gateway.flows.denials import refuses_statement
from gateway.flows.notices import REASON_REPAIRED, enqueue_superseded
from gateway.store import schema
from gateway.store.committer import LedgerTx, Work
from gateway.store.timeutil import from_us, to_us
from xinlian import limits
from xinlian.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)

MAX_REPAIR_STATEMENT_AGE = timedelta(days=1)  # a signed statement is filed within a day
MAX_LISTED = limits.MAX_PAGE_SIZE
CREDIT_CENTER_KIND = "admin"  # the node kind that acts as the credit center

STATE_OPEN, STATE_GRANTED, STATE_REFUSED = "open", "granted", "refused"
STATES = (STATE_OPEN, STATE_GRANTED, STATE_REFUSED)


# -- values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRepair:
    repair_id: str
    kind: str
    credit_code: str
    source_node_id: str
    record_id: str
    version: int
    category: str
    basis: str
    signer_node_id: str
    signer_kind: str
    application_id: str | None
    recorded_at: datetime
    ledger_index: int
    notices: int = 0


@dataclass(frozen=True)
class Application:
    application_id: str
    credit_code: str
    source_node_id: str
    record_id: str
    category: str
    reason: str
    platform_node_id: str
    filed_at: datetime
    state: str
    answered_by: str | None
    answer_reason: str | None
    repair_id: str | None


def _repair(row: Any, notices: int = 0) -> RecordedRepair:
    return RecordedRepair(
        repair_id=row.repair_id,
        kind=row.kind,
        credit_code=row.credit_code,
        source_node_id=row.source_node_id,
        record_id=row.record_id,
        version=int(row.version),
        category=row.category,
        basis=row.basis,
        signer_node_id=row.signer_node_id,
        signer_kind=row.signer_kind,
        application_id=row.application_id,
        recorded_at=from_us(row.recorded_at_us),
        ledger_index=int(row.ledger_index),
        notices=notices,
    )


def application_from_row(row: Any) -> Application:
    return Application(
        application_id=row.application_id,
        credit_code=row.credit_code,
        source_node_id=row.source_node_id,
        record_id=row.record_id,
        category=row.category,
        reason=row.reason,
        platform_node_id=row.platform_node_id,
        filed_at=from_us(row.filed_at_us),
        state=row.state,
        answered_by=row.answered_by,
        answer_reason=row.answer_reason,
        repair_id=row.repair_id,
    )


# -- shared checks --------------------------------------------------------------------------


def check_fresh(issued_at: datetime, now: datetime, what: str) -> None:
    if issued_at > now + MAX_CLOCK_SKEW or now - issued_at > MAX_REPAIR_STATEMENT_AGE:
        raise FailedPrecondition(
            f"{what} issued at {format_time(issued_at)} is not within "
            f"{int(MAX_REPAIR_STATEMENT_AGE.total_seconds())} s of the gateway clock",
            reason="REPAIR_STATEMENT_STALE",
        )


def publicity_rule(catalog: Catalog, category_id: str) -> Publicity:
    rule = catalog.require(category_id, field_name="category").publicity
    if rule is None:
        raise FailedPrecondition(
            f"category {category_id} has no publicity rule: nothing to repair",
            reason="NO_PUBLICITY_RULE",
        )
    return rule


def current_record(
    conn: Connection, credit_code: str, source: str, record_id: str, category: str
) -> Any:
    """The current (highest) version of the record, if it is this enterprise's and in
    this category; NotFound otherwise."""
    r = schema.records.c
    row = conn.execute(
        select(r.id, r.version, r.credit_code, r.category, r.event_time_us, r.fields)
        .where(r.source_node_id == source, r.record_id == record_id)
        .order_by(r.version.desc())
        .limit(1)
    ).one_or_none()
    if row is None or row.credit_code != credit_code or row.category != category:
        raise NotFound(
            f"no record {record_id} of {source} in category {category} for this enterprise",
            reason="RECORD_NOT_FOUND",
        )
    return row


def check_repairable(
    conn: Connection, rule: Publicity, row: Any, source: str, record_id: str, now: datetime
) -> None:
    c = schema.credit_repairs.c
    exists = conn.execute(
        select(c.repair_id).where(c.source_node_id == source, c.record_id == record_id)
    ).scalar_one_or_none()
    if exists is not None:
        raise AlreadyExists(f"record {record_id} is already repaired", reason="REPAIR_EXISTS")
    fields = _fields(row.fields)
    check_repair_allowed(rule, fields, local_day(from_us(row.event_time_us)), now)


def _fields(text: str) -> dict[str, str]:
    loaded = json.loads(text)
    return {str(k): v for k, v in loaded.items() if isinstance(v, str)}


# -- units of work --------------------------------------------------------------------------


@refuses_statement("repair", lambda a: (a["statement"].credit_code, a["statement"].repair_id))
def record_repair(
    caller: Caller,
    statement: RepairStatement,
    signature: bytes,
    catalog: Catalog,
    now: datetime,
    trace_id: str,
) -> Work[RecordedRepair]:
    """A department or the credit center records a repair (steps in the docstring)."""
    # (1) signed by the caller's own certificate key
    if statement.signer_node_id != caller.node_id:
        raise PermissionDenied(
            "the repair statement names another signer", reason="REPAIR_SIGNER_MISMATCH"
        )
    statement.verify_signature(signature, signing_key(caller), what="repair statement")
    # (2) fresh
    check_fresh(statement.issued_at, now, "repair statement")
    # (3) the catalog's rule
    rule = publicity_rule(catalog, statement.category)
    if statement.kind is RepairKind.REMOVAL and not rule.removable:
        raise FailedPrecondition(
            f"category {statement.category} is not a list: record a repair, not a removal",
            reason="REMOVAL_NOT_APPLICABLE",
        )
    # (4) the source department, or the credit center
    if caller.kind != CREDIT_CENTER_KIND and caller.node_id != statement.source_node_id:
        raise PermissionDenied(
            "only the department that pushed the record or the credit center repairs it",
            reason="REPAIR_NOT_SOURCE",
        )

    def work(conn: Connection, ledger: LedgerTx) -> RecordedRepair:
        # (5) the record, no repair yet, the minimum period, the application
        row = current_record(
            conn,
            statement.credit_code,
            statement.source_node_id,
            statement.record_id,
            statement.category,
        )
        check_repairable(conn, rule, row, statement.source_node_id, statement.record_id, now)
        if statement.application_id is not None:
            _open_application(conn, statement.application_id, statement)
        # (6) store, record, notify
        details = {
            "kind": statement.kind.value,
            "source_node_id": statement.source_node_id,
            "record_id": statement.record_id,
            "version": int(row.version),
            "category": statement.category,
            "basis": statement.basis,
            "application_id": statement.application_id,
            "fingerprint": statement.fingerprint(),
            "signature": signature.hex(),
        }
        index = ledger.append(
            caller.entry(
                Action.REPAIR_RECORDED,
                now,
                trace_id,
                details,
                credit_code=statement.credit_code,
                subject=statement.repair_id,
            )
        )
        conn.execute(
            insert(schema.credit_repairs).values(
                repair_id=statement.repair_id,
                kind=statement.kind.value,
                credit_code=statement.credit_code,
                source_node_id=statement.source_node_id,
                record_id=statement.record_id,
                record_pk=int(row.id),
                version=int(row.version),
                category=statement.category,
                basis=statement.basis,
                statement=statement.canonical_bytes(),
                signature=signature,
                signer_node_id=caller.node_id,
                signer_kind=caller.kind,
                signer_fingerprint=caller.fingerprint,
                application_id=statement.application_id,
                recorded_at_us=to_us(now),
                ledger_index=index,
                trace_id=trace_id,
            )
        )
        if statement.application_id is not None:
            answer_application(conn, statement.application_id, STATE_GRANTED, caller, now, None)
            conn.execute(
                update(schema.repair_applications)
                .where(schema.repair_applications.c.application_id == statement.application_id)
                .values(repair_id=statement.repair_id)
            )
        notices = enqueue_superseded(conn, ledger, int(row.id), None, REASON_REPAIRED, now)
        change_log.record_changed(conn, int(row.id), change_log.REPAIRED, now, statement.kind.value)
        stored = conn.execute(
            select(schema.credit_repairs).where(
                schema.credit_repairs.c.repair_id == statement.repair_id
            )
        ).one()
        return _repair(stored, notices)

    return work


def _open_application(conn: Connection, application_id: str, statement: RepairStatement) -> None:
    a = schema.repair_applications.c
    row = conn.execute(
        select(a.state, a.source_node_id, a.record_id).where(a.application_id == application_id)
    ).one_or_none()
    if (
        row is None
        or row.state != STATE_OPEN
        or (row.source_node_id, row.record_id) != (statement.source_node_id, statement.record_id)
    ):
        raise FailedPrecondition(
            f"no open application {application_id} for this record", reason="APPLICATION_NOT_OPEN"
        )


def answer_application(
    conn: Connection,
    application_id: str,
    state: str,
    caller: Caller,
    now: datetime,
    reason: str | None,
) -> None:
    conn.execute(
        update(schema.repair_applications)
        .where(schema.repair_applications.c.application_id == application_id)
        .values(
            state=state, answered_by=caller.node_id, answer_reason=reason, answered_at_us=to_us(now)
        )
    )


# -- reads ----------------------------------------------------------------------------------


def list_repairs(conn: Connection, caller: Caller, credit_code: str) -> list[RecordedRepair]:
    """The repairs the caller may see: a department those of its own records; others all
    (for one enterprise when ``credit_code`` is given). Newest first."""
    c = schema.credit_repairs.c
    query = select(schema.credit_repairs)
    if credit_code:
        query = query.where(c.credit_code == credit_code)
    if caller.kind == "department":
        query = query.where(c.source_node_id == caller.node_id)
    rows = conn.execute(query.order_by(c.recorded_at_us.desc()).limit(MAX_LISTED))
    return [_repair(row) for row in rows]


def check_answer_reason(reason: str) -> str:
    check_text(reason, "reason", max_chars=MAX_REASON_CHARS)
    if not reason.strip():
        raise InvalidArgument.field("reason", reason, "a non-empty reason")
    return reason


__all__ = [
    "STATES",
    "Application",
    "RecordedRepair",
    "list_repairs",
    "record_repair",
]
