"""Enterprises' applications for credit repair: filed by a city platform with the
enterprise's signature, listed by the source department, answered by a repair
(gateway.flows.repairs.record_repair naming the application) or a refusal here. The
steps are in gateway.flows.repairs' docstring."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select

from audit.entry import Action
from authz.catalog import Catalog
from authz.repair_statements import RepairApplication
from gateway.core.caller import Caller
from gateway.flows.denials import refuses_statement
from gateway.flows.enterprises import require_enterprise
from gateway.flows.repairs import (
    CREDIT_CENTER_KIND,
    MAX_LISTED,
    STATE_OPEN,
    STATE_REFUSED,
    STATES,
    Application,
    answer_application,
    application_from_row,
    check_answer_reason,
    check_fresh,
    check_repairable,
    current_record,
    publicity_rule,
)
from gateway.store import schema
from gateway.store.committer import LedgerTx, Work
from gateway.store.timeutil import to_us
from xinlian.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from xinlian.signing import load_public_key


@refuses_statement(
    "repair_application",
    lambda a: (a["statement"].credit_code, a["statement"].application_id),
)
def apply_for_repair(
    caller: Caller,
    statement: RepairApplication,
    signature: bytes,
    catalog: Catalog,
    now: datetime,
    trace_id: str,
) -> Work[tuple[Application, int]]:
    """A city platform files an enterprise's signed application for repair."""
    # (1) for this platform, fresh
    if statement.platform_node_id != caller.node_id:
        raise PermissionDenied(
            "the application names another platform", reason="REPAIR_APPLICATION_WRONG_PLATFORM"
        )
    check_fresh(statement.issued_at, now, "repair application")
    # (2) the catalog's rule
    rule = publicity_rule(catalog, statement.category)

    def work(conn: Connection, ledger: LedgerTx) -> tuple[Application, int]:
        # (3) the enterprise's current key signed it; the record; repairable; not filed
        enterprise = require_enterprise(conn, statement.credit_code)
        statement.verify_signature(signature, load_public_key(enterprise.public_key_pem))
        row = current_record(
            conn,
            statement.credit_code,
            statement.source_node_id,
            statement.record_id,
            statement.category,
        )
        check_repairable(conn, rule, row, statement.source_node_id, statement.record_id, now)
        a = schema.repair_applications.c
        clash = conn.execute(
            select(a.application_id).where(
                (a.application_id == statement.application_id)
                | (
                    (a.source_node_id == statement.source_node_id)
                    & (a.record_id == statement.record_id)
                    & (a.state == STATE_OPEN)
                )
            )
        ).first()
        if clash is not None:
            raise AlreadyExists(
                "an application with this id, or an open one for this record, exists",
                reason="APPLICATION_EXISTS",
            )
        # (4) the department's inbox and the ledger
        details = {
            "source_node_id": statement.source_node_id,
            "record_id": statement.record_id,
            "version": int(row.version),
            "category": statement.category,
            "reason": statement.reason,
            "key_version": enterprise.key_version,
            "fingerprint": statement.fingerprint(),
            "signature": signature.hex(),
        }
        index = ledger.append(
            caller.entry(
                Action.REPAIR_APPLIED,
                now,
                trace_id,
                details,
                credit_code=statement.credit_code,
                subject=statement.application_id,
            )
        )
        conn.execute(
            insert(schema.repair_applications).values(
                application_id=statement.application_id,
                credit_code=statement.credit_code,
                source_node_id=statement.source_node_id,
                record_id=statement.record_id,
                category=statement.category,
                reason=statement.reason,
                statement=statement.canonical_bytes(),
                signature=signature,
                key_version=enterprise.key_version,
                platform_node_id=caller.node_id,
                filed_at_us=to_us(now),
                state=STATE_OPEN,
                trace_id=trace_id,
            )
        )
        return _require(conn, statement.application_id), index

    return work


def refuse_application(
    caller: Caller, application_id: str, reason: str, now: datetime, trace_id: str
) -> Work[tuple[Application, int]]:
    """The source department (or the credit center) refuses an open application."""
    check_answer_reason(reason)

    def work(conn: Connection, ledger: LedgerTx) -> tuple[Application, int]:
        application = _require(conn, application_id)
        if caller.kind != CREDIT_CENTER_KIND and caller.node_id != application.source_node_id:
            raise PermissionDenied(
                "only the department that pushed the record or the credit center answers",
                reason="REPAIR_NOT_SOURCE",
            )
        if application.state != STATE_OPEN:
            raise FailedPrecondition(
                f"application {application_id} is {application.state}",
                reason="APPLICATION_NOT_OPEN",
            )
        index = ledger.append(
            caller.entry(
                Action.REPAIR_APPLICATION_REFUSED,
                now,
                trace_id,
                {"reason": reason, "record_id": application.record_id},
                credit_code=application.credit_code,
                subject=application_id,
            )
        )
        answer_application(conn, application_id, STATE_REFUSED, caller, now, reason)
        return _require(conn, application_id), index

    return work


def list_applications(conn: Connection, caller: Caller, state: str) -> list[Application]:
    """A department's inbox (applications about its records); all for admins and
    officers. Oldest first."""
    if state and state not in STATES:
        raise InvalidArgument.field("state", state, "one of " + ", ".join(STATES))
    a = schema.repair_applications.c
    query = select(schema.repair_applications)
    if state:
        query = query.where(a.state == state)
    if caller.kind == "department":
        query = query.where(a.source_node_id == caller.node_id)
    rows = conn.execute(query.order_by(a.filed_at_us, a.application_id).limit(MAX_LISTED))
    return [application_from_row(row) for row in rows]


def _require(conn: Connection, application_id: str) -> Application:
    row = conn.execute(
        select(schema.repair_applications).where(
            schema.repair_applications.c.application_id == application_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no repair application {application_id}", reason="APPLICATION_NOT_FOUND")
    return application_from_row(row)
