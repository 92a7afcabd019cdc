"""Objections (异议) at the gateway: filing, the department's answer, listing, freezes.

Filing (``file_objection``; a city platform calls, ``ObjectionService/FileObjection``)::

    (1) the platform's key: the public key of the certificate the edge verified for this
        call (the node key in its identity directory) countersigns the receipt
    (2) times: the receipt is not from the future; the statement was signed before it
        was received and is at most ``MAX_STATEMENT_AGE`` old
    (3) the enterprise is registered and its current key signed the statement; the
        platform's key signed the receipt (authz.objections.verify_filing): a forged or
        altered statement or receipt is refused here
    (4) the record exists (department, record id, version), is the current version,
        is not withdrawn, and concerns this enterprise; the disputed fields are fields
        of its category
    (5) the objection id is new
    (6) deadlines: the platform was due to forward by the end of the 2nd working day
        after its receipt (``forwarded_late`` when the gateway received it later); the
        department answers by the end of the day ``objection_answer_days`` calendar days
        after the gateway's receipt (a rest day moves it to the next working day)
    (7) store, count it open, ledger entry ``objection.filed``

Answer (``answer_objection``; the department that pushed the record)::

    (1) the objection exists and the caller is the department that pushed the record
    (2) the answer is one of upheld / corrected / withdrawn / unconfirmable, upheld and
        unconfirmable with a reason, and the objection is still open
    (3) corrected: the named version is stored, from this department, newer than the
        disputed one; withdrawn: every version of the record is marked withdrawn, and
        every node that received one gets a correction notice (docs/notices.md)
    (4) record it (only if still open), count it closed, ledger ``objection.answered``

A refused filing leaves a ``statement.refused`` entry naming the enterprise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Connection

from audit.entry import Action
from authz.catalog import Catalog
from authz.objections import (
    FORWARD_WORKDAYS,
    Objection,
    ObjectionReceipt,
    ObjectionState,
    check_answer,
    verify_filing,
)
from authz.statements import MAX_REASON_CHARS, check_text, format_time
from gateway.core.caller import Caller
from gateway.flows import change_log
from gateway.flows.denials import refuses_statement
from gateway.flows.enterprises import require_enterprise
from gateway.flows.notices import enqueue_withdrawn_record
from gateway.store import objections_store as store
from gateway.store.committer import LedgerTx, Work
from gateway.store.objections_store import StoredObjection
from gateway.store.timeutil import to_us
from xinlian.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    clip,
)
from xinlian.signing import load_public_key
from xinlian.workdays import SHANGHAI, WorkdayCalendar, end_of_day

OBJECTION_NOT_FOUND = "OBJECTION_NOT_FOUND"
RECORD_NOT_FOUND = "RECORD_NOT_FOUND"
RECORD_NOT_CURRENT = "RECORD_NOT_CURRENT"
RECORD_WITHDRAWN = "RECORD_WITHDRAWN"
RECORD_OTHER_ENTERPRISE = "RECORD_OTHER_ENTERPRISE"
NOT_RECORD_SOURCE = "NOT_RECORD_SOURCE"
CORRECTION_NOT_FOUND = "CORRECTION_NOT_FOUND"
FREEZE_UNCHANGED = "FREEZE_UNCHANGED"
SEE_ALL_KINDS = frozenset({"admin", "officer"})


# -- deadlines -------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadlines:
    forward_due: datetime
    forwarded_late: bool
    answer_due: datetime


def deadlines(
    calendar: WorkdayCalendar, received_at: datetime, filed_at: datetime, answer_days: int
) -> Deadlines:
    """Step (6): the platform's forwarding deadline (working days from its receipt) and
    the department's answer deadline (calendar days from the gateway's receipt, ending on
    a working day)."""
    forward_due = calendar.deadline_after(received_at, FORWARD_WORKDAYS)
    day = calendar.add_calendar_days(
        filed_at.astimezone(SHANGHAI).date(), answer_days, roll_forward=True
    )
    answer_due = end_of_day(day)
    return Deadlines(forward_due, filed_at > forward_due, answer_due)


# -- filing ----------------------------------------------------------------------------


@refuses_statement("objection", lambda a: (a["objection"].credit_code, a["objection"].objection_id))
def file_objection(
    caller: Caller,
    objection: Objection,
    signature: bytes,
    received_at: datetime,
    countersignature: bytes,
    catalog: Catalog,
    calendar: WorkdayCalendar,
    now: datetime,
    trace_id: str,
) -> Work[tuple[StoredObjection, int]]:
    """A city platform files an objection the enterprise signed (steps in the docstring)."""
    # (1) the platform's key, as its certificate carries it
    if caller.public_key is None:
        raise Unauthenticated("no verified certificate key", reason="NO_CLIENT_CERTIFICATE")
    platform_key = load_public_key(
        caller.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        field_name="certificate key",
    )
    receipt = ObjectionReceipt.of(objection, caller.node_id, received_at)

    def work(conn: Connection, ledger: LedgerTx) -> tuple[StoredObjection, int]:
        # (2), (3) times and both signatures
        enterprise = require_enterprise(conn, objection.credit_code)
        verify_filing(
            objection,
            signature,
            load_public_key(enterprise.public_key_pem),
            receipt,
            countersignature,
            platform_key,
            now=now,
        )
        # (4) the record
        record = _require_record(conn, objection, catalog)
        # (5) a new id
        if store.get_objection(conn, objection.objection_id) is not None:
            raise AlreadyExists(
                f"objection {objection.objection_id} already exists", reason="OBJECTION_EXISTS"
            )
        # (6) deadlines
        category = catalog.require(record.category)
        due = deadlines(calendar, receipt.received_at, now, category.objection_answer_days)
        # (7) store and record
        store.insert_objection(
            conn,
            {
                "objection_id": objection.objection_id,
                "credit_code": objection.credit_code,
                "record_pk": record.pk,
                "source_node_id": record.source_node_id,
                "record_id": record.record_id,
                "version": record.version,
                "category": record.category,
                "fields": json.dumps(list(objection.fields), ensure_ascii=False),
                "claim": objection.claim,
                "evidence": json.dumps(list(objection.evidence_sha256)),
                "statement": objection.canonical_bytes(),
                "signature": signature,
                "key_version": enterprise.key_version,
                "platform_node_id": caller.node_id,
                "platform_fingerprint": caller.fingerprint,
                "platform_signature": countersignature,
                "platform_received_at_us": to_us(receipt.received_at),
                "forward_due_us": to_us(due.forward_due),
                "forwarded_late": due.forwarded_late,
                "filed_at_us": to_us(now),
                "answer_due_us": to_us(due.answer_due),
                "state": ObjectionState.OPEN.value,
                "trace_id": trace_id,
            },
        )
        store.add_open_count(conn, objection.credit_code, 1)
        change_log.record_changed(conn, record.pk, change_log.OBJECTION, now, "open")
        details: dict[str, Any] = {
            "record": [record.source_node_id, record.record_id, record.version],
            "category": record.category,
            "fields": list(objection.fields),
            "evidence_sha256": list(objection.evidence_sha256),
            "fingerprint": objection.fingerprint(),
            "signature": signature.hex(),
            "key_version": enterprise.key_version,
            "received_at": format_time(receipt.received_at),
            "countersignature": countersignature.hex(),
            "forward_due": format_time(due.forward_due),
            "forwarded_late": due.forwarded_late,
            "answer_due": format_time(due.answer_due),
        }
        index = ledger.append(
            caller.entry(
                Action.OBJECTION_FILED,
                now,
                trace_id,
                details,
                credit_code=objection.credit_code,
                subject=objection.objection_id,
            )
        )
        stored = store.get_objection(conn, objection.objection_id)
        assert stored is not None
        return stored, index

    return work


def _require_record(
    conn: Connection, objection: Objection, catalog: Catalog
) -> store.StoredRecordRef:
    what = f"record {clip(objection.record_id)} v{objection.version} of {objection.source_node_id}"
    record = store.find_record(
        conn, objection.source_node_id, objection.record_id, objection.version
    )
    if record is None:
        raise NotFound(f"{what} is not stored", reason=RECORD_NOT_FOUND)
    if record.credit_code != objection.credit_code:
        # named like a missing record: the platform learns nothing of other enterprises
        raise NotFound(f"{what} is not stored for this enterprise", reason=RECORD_OTHER_ENTERPRISE)
    if record.withdrawn:
        raise FailedPrecondition(f"{what} was withdrawn", reason=RECORD_WITHDRAWN)
    latest = store.latest_version(conn, record.source_node_id, record.record_id)
    if latest != record.version:
        raise FailedPrecondition(
            f"{what} was superseded by version {latest}", reason=RECORD_NOT_CURRENT
        )
    names = set(catalog.require(record.category).field_names)
    unknown = sorted(set(objection.fields) - names)
    if unknown:
        raise InvalidArgument.field("objection.fields", unknown, f"fields of {record.category}")
    return record


# -- answer ----------------------------------------------------------------------------


def answer_objection(
    caller: Caller,
    objection_id: str,
    answer: ObjectionState,
    reason: str,
    corrected_version: int | None,
    now: datetime,
    trace_id: str,
) -> Work[tuple[StoredObjection, int]]:
    """The department that pushed the record answers (steps in the docstring)."""

    def work(conn: Connection, ledger: LedgerTx) -> tuple[StoredObjection, int]:
        # (1) the objection, and the department that pushed the record
        stored = _require(conn, objection_id)
        if stored.source_node_id != caller.node_id:  # refused, and audited as such
            raise PermissionDenied(
                f"objection {objection_id} concerns a record another department pushed",
                reason=NOT_RECORD_SOURCE,
            )
        # (2) a final answer to an open objection
        check_answer(stored.state, answer, reason)
        details: dict[str, Any] = {
            "answer": answer.value,
            "reason": reason,
            "record": [stored.source_node_id, stored.record_id, stored.version],
            "late": now > stored.answer_due,
        }
        # (3) what the answer does to the record
        version = None
        if answer is ObjectionState.CORRECTED:
            version = _require_correction(conn, stored, corrected_version)
            details["corrected_version"] = version
        elif corrected_version:
            raise InvalidArgument.field(
                "corrected_version", corrected_version, "0 unless corrected"
            )
        if answer is ObjectionState.WITHDRAWN:
            details["withdrawn_versions"] = store.withdraw_record(
                conn, stored.source_node_id, stored.record_id, now
            )
            # every node that received a version gets a notice (docs/notices.md)
            details["notices"] = enqueue_withdrawn_record(
                conn, ledger, stored.source_node_id, stored.record_id, now
            )
        # (4) record it
        if not store.set_answer(conn, objection_id, answer, reason, version, now, caller.node_id):
            check_answer(_require(conn, objection_id).state, answer, reason)  # answered first
        store.add_open_count(conn, stored.credit_code, -1)
        change_log.record_changed(
            conn, stored.record_pk, change_log.kind_of_answer(answer.value), now, answer.value
        )
        index = ledger.append(
            caller.entry(
                Action.OBJECTION_ANSWERED,
                now,
                trace_id,
                details,
                credit_code=stored.credit_code,
                subject=objection_id,
            )
        )
        return _require(conn, objection_id), index

    return work


def _require_correction(conn: Connection, stored: StoredObjection, version: int | None) -> int:
    if not version or version <= stored.version:
        raise InvalidArgument.field(
            "corrected_version", version, f"a version after {stored.version}"
        )
    if store.find_record(conn, stored.source_node_id, stored.record_id, version) is None:
        raise FailedPrecondition(
            f"version {version} of record {clip(stored.record_id)} is not stored from "
            f"{stored.source_node_id}: push it first",
            reason=CORRECTION_NOT_FOUND,
        )
    return version


# -- reads -----------------------------------------------------------------------------


def _require(conn: Connection, objection_id: str) -> StoredObjection:
    stored = store.get_objection(conn, objection_id)
    if stored is None:
        raise NotFound(f"objection {clip(objection_id)} not found", reason=OBJECTION_NOT_FOUND)
    return stored


def _visible(conn: Connection, caller: Caller, objection_id: str) -> StoredObjection:
    """The objection, if the caller may see it (else not found, revealing nothing): the
    department it concerns, the platform that filed it, administrators and officers."""
    stored = _require(conn, objection_id)
    if caller.kind in SEE_ALL_KINDS or caller.node_id in (
        stored.source_node_id,
        stored.platform_node_id,
    ):
        return stored
    raise NotFound(f"objection {clip(objection_id)} not found", reason=OBJECTION_NOT_FOUND)


def get_objection(conn: Connection, caller: Caller, objection_id: str) -> StoredObjection:
    return _visible(conn, caller, objection_id)


def list_for(
    conn: Connection,
    caller: Caller,
    *,
    now: datetime,
    credit_code: str = "",
    state: ObjectionState | None = None,
    overdue_only: bool = False,
) -> list[StoredObjection]:
    """A department's inbox, a platform's filings, or all (administrators, officers)."""
    scope: dict[str, Any] = {}
    if caller.kind == "department":
        scope["source_node_id"] = caller.node_id
    elif caller.kind == "city_platform":
        scope["platform_node_id"] = caller.node_id
    elif caller.kind not in SEE_ALL_KINDS:
        raise PermissionDenied(f"a {caller.kind} node has no objections", reason="KIND_NOT_ALLOWED")
    return store.list_objections(
        conn,
        credit_code=credit_code or None,
        state=state,
        overdue_at=now if overdue_only else None,
        **scope,
    )


# -- freezes ---------------------------------------------------------------------------


def set_freeze(
    caller: Caller, credit_code: str, frozen: bool, reason: str, now: datetime, trace_id: str
) -> Work[int]:
    """An administrator freezes or unfreezes an enterprise's data, with a reason."""
    check_text(reason, "reason", max_chars=MAX_REASON_CHARS)
    if not reason.strip():
        raise InvalidArgument.field("reason", "", "the administrator's reason")

    def work(conn: Connection, ledger: LedgerTx) -> int:
        require_enterprise(conn, credit_code)
        if not store.set_frozen(conn, credit_code, frozen, reason, caller.node_id, now):
            state = "frozen" if frozen else "not frozen"
            raise FailedPrecondition(
                f"enterprise {credit_code} is already {state}", reason=FREEZE_UNCHANGED
            )
        action = Action.ENTERPRISE_FROZEN if frozen else Action.ENTERPRISE_UNFROZEN
        return ledger.append(
            caller.entry(action, now, trace_id, {"reason": reason}, credit_code=credit_code)
        )

    return work
