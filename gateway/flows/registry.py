"""Node registry and access review (接入审查, 有进有出).

Lifecycle: applied → admitted → suspended ⇄ admitted → exited (an application may also
be turned down: applied → exited). Each operation is a *unit of work* for the group
committer: it writes the registry and appends its ledger entry in one transaction.
Enrollment tokens and node certificates are kept by ``gateway.flows.enrollment``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, func, insert, select, update

from audit.entry import Action, Entry, Outcome
from authz.catalog import Catalog
from gateway.core import validate
from gateway.core.caller import Caller
from gateway.flows.enrollment import (
    issue_certificate,
    parse_token,
    redeem_token,
    revoke_credentials,
    store_token,
)
from gateway.store import schema
from gateway.store.committer import LedgerTx
from gateway.store.timeutil import from_us, to_us
from xinlian import limits
from xinlian.clock import Clock
from xinlian.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    clip,
)
from xinlian.pki import NODE_ID_RE, NODE_KINDS, REGION_RE, NodeIdentity, parse_csr

# action → (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "admit": (frozenset({"applied"}), "admitted"),
    "suspend": (frozenset({"admitted"}), "suspended"),
    "readmit": (frozenset({"suspended"}), "admitted"),
    "exit": (frozenset({"applied", "admitted", "suspended"}), "exited"),
}

_ACTIONS = {
    "admit": Action.NODE_ADMITTED,
    "suspend": Action.NODE_SUSPENDED,
    "readmit": Action.NODE_READMITTED,
    "exit": Action.NODE_EXITED,
}


def next_state(state: str, action: str) -> str:
    allowed_from, target = TRANSITIONS[action]
    if state not in allowed_from:
        raise FailedPrecondition(
            f"cannot {action} a node that is {state}", reason="BAD_NODE_TRANSITION"
        )
    return target


@dataclass(frozen=True)
class Review:
    reviewer: str
    security_assessment: str
    authorization_assessment: str
    reviewed_at: datetime
    notes: str = ""


@dataclass(frozen=True)
class NodeRecord:
    node_id: str
    kind: str
    region: str
    name: str
    state: str
    categories: tuple[str, ...]
    contact: str
    applied_at: datetime
    updated_at: datetime
    state_reason: str = ""
    review: Review | None = None


@dataclass(frozen=True)
class Application:
    name: str
    kind: str
    region: str
    categories: tuple[str, ...] = ()
    contact: str = ""
    requested_id: str = ""


@dataclass(frozen=True)
class Admission:
    node: NodeRecord
    token: str
    token_expires_at: datetime


@dataclass(frozen=True)
class Issued:
    node: NodeRecord
    certificate_pem: bytes
    not_after: datetime
    serial: str


@dataclass
class Registry:
    catalog: Catalog
    clock: Clock
    # None on a serving replica without the CA key: Enroll and Renew are refused there
    ca_key: ec.EllipticCurvePrivateKey | None = field(repr=False)
    ca_cert: x509.Certificate
    token_ttl: timedelta = timedelta(hours=72)
    cert_lifetime: timedelta = timedelta(days=90)

    # -- entries ------------------------------------------------------------------------
    def _entry(
        self,
        action: Action,
        actor: str,
        actor_kind: str,
        subject: str,
        trace_id: str,
        details: dict[str, Any],
        outcome: Outcome = Outcome.OK,
    ) -> Entry:
        return Entry(
            action=action,
            time=self.clock.now(),
            actor=actor,
            actor_kind=actor_kind,
            outcome=outcome,
            trace_id=trace_id,
            credit_code=None,
            subject=subject,
            details=details,
        )

    # -- apply --------------------------------------------------------------------------
    def check_application(self, app: Application) -> Application:
        validate.text("name", app.name, max_len=limits.MAX_NAME_LEN)
        validate.text("contact", app.contact, max_len=limits.MAX_CONTACT_LEN, required=False)
        if app.kind not in NODE_KINDS:
            raise InvalidArgument.field("kind", app.kind, "one of " + ", ".join(NODE_KINDS))
        if not REGION_RE.match(app.region):
            raise InvalidArgument.field("region", app.region, "a 6-digit GB/T 2260 division code")
        if app.requested_id and not NODE_ID_RE.match(app.requested_id):
            raise InvalidArgument.field("requested_id", app.requested_id, "[a-z0-9-], 3..64")
        if len(app.categories) > limits.MAX_CATEGORIES_PER_NODE:
            raise InvalidArgument.field(
                "categories", len(app.categories), f"≤ {limits.MAX_CATEGORIES_PER_NODE}"
            )
        for category in app.categories:
            self.catalog.require(category, field_name="categories")
        if app.kind == "department" and not app.categories:
            raise InvalidArgument.field(
                "categories", [], "the catalog categories the department is responsible for"
            )
        if app.kind != "department" and app.categories:
            raise InvalidArgument.field(
                "categories", list(app.categories), "empty (departments only)"
            )
        return app

    def apply(self, app: Application, trace_id: str) -> Any:
        app = self.check_application(app)

        def work(conn: Connection, ledger: LedgerTx) -> NodeRecord:
            pending = conn.execute(
                select(func.count())
                .select_from(schema.nodes)
                .where(schema.nodes.c.state == "applied")
            ).scalar_one()
            if pending >= limits.MAX_PENDING_APPLICATIONS:
                raise ResourceExhausted("too many pending applications; try later")
            node_id = app.requested_id or f"{app.kind.replace('_', '-')}-{secrets.token_hex(4)}"
            if get_node(conn, node_id) is not None:
                raise AlreadyExists(f"node id {clip(node_id)} is taken", reason="NODE_ID_TAKEN")
            now = self.clock.now()
            record = NodeRecord(
                node_id=node_id,
                kind=app.kind,
                region=app.region,
                name=app.name,
                state="applied",
                categories=tuple(app.categories),
                contact=app.contact,
                applied_at=now,
                updated_at=now,
            )
            conn.execute(insert(schema.nodes).values(**_node_row(record)))
            ledger.append(
                self._entry(
                    Action.NODE_APPLIED,
                    node_id,
                    app.kind,
                    node_id,
                    trace_id,
                    {"kind": app.kind, "region": app.region, "categories": list(app.categories)},
                )
            )
            return record

        return work

    # -- review: admit / suspend / readmit / exit ---------------------------------------
    def admit(
        self,
        admin: Caller,
        node_id: str,
        security_assessment: str,
        authorization_assessment: str,
        notes: str,
        trace_id: str,
    ) -> Any:
        validate.text("security_assessment", security_assessment, max_len=limits.MAX_NOTES_LEN)
        validate.text(
            "authorization_assessment", authorization_assessment, max_len=limits.MAX_NOTES_LEN
        )
        validate.text("notes", notes, max_len=limits.MAX_NOTES_LEN, required=False)

        def work(conn: Connection, ledger: LedgerTx) -> Admission:
            node = require_node(conn, node_id)
            target = next_state(node.state, "admit")
            now = self.clock.now()
            review = Review(
                admin.node_id, security_assessment, authorization_assessment, now, notes
            )
            conn.execute(
                update(schema.nodes)
                .where(schema.nodes.c.node_id == node_id)
                .values(
                    state=target,
                    updated_at_us=to_us(now),
                    state_reason="",
                    review=json.dumps(_review_json(review), ensure_ascii=False),
                )
            )
            token = store_token(conn, node_id, now, self.token_ttl)
            ledger.append(
                self._entry(
                    Action.NODE_ADMITTED,
                    admin.node_id,
                    admin.kind,
                    node_id,
                    trace_id,
                    {
                        "security_assessment": security_assessment,
                        "authorization_assessment": authorization_assessment,
                        "notes": notes,
                        "token_id": token.token_id,
                    },
                )
            )
            return Admission(require_node(conn, node_id), token.token, token.expires_at)

        return work

    def change_state(
        self, admin: Caller, node_id: str, action: str, reason: str, trace_id: str
    ) -> Any:
        validate.text("reason", reason, max_len=limits.MAX_REASON_LEN)
        if node_id == admin.node_id and action in ("suspend", "exit"):
            raise FailedPrecondition("an administrator cannot suspend or exit itself")

        def work(conn: Connection, ledger: LedgerTx) -> NodeRecord:
            node = require_node(conn, node_id)
            target = next_state(node.state, action)
            now = self.clock.now()
            conn.execute(
                update(schema.nodes)
                .where(schema.nodes.c.node_id == node_id)
                .values(state=target, updated_at_us=to_us(now), state_reason=reason)
            )
            if target == "exited":
                revoke_credentials(conn, node_id, now)
            ledger.append(
                self._entry(
                    _ACTIONS[action],
                    admin.node_id,
                    admin.kind,
                    node_id,
                    trace_id,
                    {"reason": reason},
                )
            )
            return require_node(conn, node_id)

        return work

    # -- certificates -------------------------------------------------------------------
    def _signing_key(self) -> ec.EllipticCurvePrivateKey:
        if self.ca_key is None:
            raise FailedPrecondition(
                "this gateway replica holds no CA key and issues no certificates: enroll "
                "or renew through the enrollment replica (docs/deploy.md)",
                reason="CA_KEY_NOT_HERE",
            )
        return self.ca_key

    def enroll(self, token: str, csr_pem: str, trace_id: str) -> Any:
        self._signing_key()  # refused before the token is looked at
        token_id, secret = parse_token(token)
        csr = parse_csr(csr_pem)

        def work(conn: Connection, ledger: LedgerTx) -> Issued:
            now = self.clock.now()
            # the token is valid, unexpired and unused (and now used), and the node admitted
            node = require_node(conn, redeem_token(conn, token_id, secret, now))
            if node.state != "admitted":
                raise PermissionDenied(
                    f"node {node.node_id} is {node.state}", reason="NODE_NOT_ADMITTED"
                )
            issued = self._issue(conn, node, csr, now)
            ledger.append(
                self._entry(
                    Action.NODE_ENROLLED,
                    node.node_id,
                    node.kind,
                    node.node_id,
                    trace_id,
                    {"serial": issued.serial, "token_id": token_id},
                )
            )
            return issued

        return work

    def renew(self, caller: Caller, csr_pem: str, trace_id: str) -> Any:
        self._signing_key()
        csr = parse_csr(csr_pem)

        def work(conn: Connection, ledger: LedgerTx) -> Issued:
            node = require_node(conn, caller.node_id)
            issued = self._issue(conn, node, csr, self.clock.now())
            ledger.append(
                self._entry(
                    Action.CERT_RENEWED,
                    caller.node_id,
                    caller.kind,
                    caller.node_id,
                    trace_id,
                    {"serial": issued.serial, "previous_serial": caller.serial},
                )
            )
            return issued

        return work

    def _issue(
        self, conn: Connection, node: NodeRecord, csr: x509.CertificateSigningRequest, now: datetime
    ) -> Issued:
        identity = NodeIdentity(node.node_id, node.kind, node.region)
        cert = issue_certificate(
            conn, self._signing_key(), self.ca_cert, identity, csr, now, self.cert_lifetime
        )
        return Issued(node, cert.pem, cert.not_after, cert.serial)


# -- rows -------------------------------------------------------------------------------
def _review_json(review: Review) -> dict[str, Any]:
    return {
        "reviewer": review.reviewer,
        "security_assessment": review.security_assessment,
        "authorization_assessment": review.authorization_assessment,
        "reviewed_at_us": to_us(review.reviewed_at),
        "notes": review.notes,
    }


def _node_row(node: NodeRecord) -> dict[str, Any]:
    return {
        "node_id": node.node_id,
        "kind": node.kind,
        "region": node.region,
        "name": node.name,
        "state": node.state,
        "categories": json.dumps(list(node.categories)),
        "contact": node.contact,
        "applied_at_us": to_us(node.applied_at),
        "updated_at_us": to_us(node.updated_at),
        "state_reason": node.state_reason,
        "review": json.dumps(_review_json(node.review), ensure_ascii=False)
        if node.review
        else None,
    }


def node_from_row(row: Any) -> NodeRecord:
    review = None
    if row.review:
        data = json.loads(row.review)
        review = Review(
            data["reviewer"],
            data["security_assessment"],
            data["authorization_assessment"],
            from_us(data["reviewed_at_us"]),
            data.get("notes", ""),
        )
    return NodeRecord(
        node_id=row.node_id,
        kind=row.kind,
        region=row.region,
        name=row.name,
        state=row.state,
        categories=tuple(json.loads(row.categories)),
        contact=row.contact,
        applied_at=from_us(row.applied_at_us),
        updated_at=from_us(row.updated_at_us),
        state_reason=row.state_reason,
        review=review,
    )


def get_node(conn: Connection, node_id: str) -> NodeRecord | None:
    row = conn.execute(select(schema.nodes).where(schema.nodes.c.node_id == node_id)).first()
    return node_from_row(row) if row is not None else None


def require_node(conn: Connection, node_id: str) -> NodeRecord:
    node = get_node(conn, node_id)
    if node is None:
        raise NotFound(f"node {clip(node_id)} not found", reason="NODE_NOT_FOUND")
    return node


def list_nodes(
    conn: Connection, *, state: str | None, kind: str | None, offset: int, limit: int
) -> list[NodeRecord]:
    query = select(schema.nodes).order_by(schema.nodes.c.applied_at_us, schema.nodes.c.node_id)
    if state:
        query = query.where(schema.nodes.c.state == state)
    if kind:
        query = query.where(schema.nodes.c.kind == kind)
    rows = conn.execute(query.offset(offset).limit(limit)).all()
    return [node_from_row(row) for row in rows]


def insert_admitted_node(conn: Connection, node: NodeRecord) -> None:
    """Used once by ``gateway init`` for the first administrator."""
    conn.execute(insert(schema.nodes).values(**_node_row(node)))
