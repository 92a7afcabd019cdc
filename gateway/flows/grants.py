"""Grants (授权) at the gateway: submission, revocation, listing, and the per-process cache.

Submission steps (``submit_grant``)::

    (1) parse/validate: the Grant value checks itself; not issued in the future, not
        already expired (authz.grants.check_new_grant)
    (2) catalog: every category and field exists and allows the grant's purpose
    (3) the grantee is a registered node of a consumer kind (city platform, institution,
        gateway)
    (4) the enterprise is registered and its CURRENT key signed the grant's canonical
        bytes (a forged grant, or one altered after signing, fails here)
    (5) store the canonical bytes, the signature and the key version; ledger entry
        grant.created

Revocation steps (``revoke_grant``)::

    (1) the grant exists
    (2a) enterprise: the current key signed the canonical revocation naming this grant
    (2b) administrator: a non-empty reason, recorded with the administrator's id
    (3) mark it revoked (a second revocation changes nothing); ledger entry grant.revoked

A refused submission or revocation (a forged or altered signature, any other refusal)
leaves a ``statement.refused`` entry naming the platform, the reason and the enterprise
(``gateway.flows.denials``; written by the chain before the refusal is answered).

The cache: the query path reads an enterprise's grants for one grantee through
``AuthzCaches.grants`` (TTL ``GRANT_CACHE_TTL_S``) and the enterprise's state and key
through ``AuthzCaches.enterprises`` (TTL ``ENTERPRISE_CACHE_TTL_S``). A submission or
revocation on this process invalidates its entry at once; on another process sharing the
database the change is seen when the entry expires, so within one second. The use count
of a ``max_uses`` grant is never trusted from the cache: the query's transaction
increments it conditionally (``consume_use``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from audit.entry import Action
from authz.catalog import Catalog
from authz.decision import DATA_CONSUMER_KINDS
from authz.grants import (
    Grant,
    GrantState,
    GrantStatus,
    Revocation,
    check_grant_against_catalog,
    check_new_grant,
    verify_grant_signature,
    verify_revocation,
)
from authz.statements import (
    MAX_CLOCK_SKEW,
    MAX_REASON_CHARS,
    format_time,
)
from gateway.core.caller import Caller
from gateway.core.ttl_cache import TtlCache
from gateway.flows.denials import refuses_statement, refusing_statement
from gateway.flows.enterprises import EnterpriseView, key_for_version, require_enterprise
from gateway.store import schema
from gateway.store.committer import LedgerTx, Work
from gateway.store.federation_store import member_known
from gateway.store.timeutil import from_us, to_us
from xinlian import limits
from xinlian.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, clip
from xinlian.signing import load_public_key

# -- named limits ----------------------------------------------------------------------

GRANT_CACHE_TTL_S = 0.5  # a revocation reaches every process within 1 s
ENTERPRISE_CACHE_TTL_S = 0.5  # a freeze or an objection too
MAX_GRANTS_PER_LOOKUP = 1000
MAX_LISTED_GRANTS = limits.MAX_PAGE_SIZE

GRANT_NOT_FOUND = "GRANT_NOT_FOUND"
GRANTEE_NOT_CONSUMER = "GRANTEE_NOT_CONSUMER"


# -- the per-process cache -------------------------------------------------------------


class AuthzCaches:
    def __init__(self) -> None:
        self.grants: TtlCache[tuple[str, str], tuple[GrantState, ...]] = TtlCache(GRANT_CACHE_TTL_S)
        self.enterprises: TtlCache[str, EnterpriseView] = TtlCache(ENTERPRISE_CACHE_TTL_S)

    def invalidate_enterprise(self, credit_code: str) -> None:
        self.enterprises.invalidate(credit_code)
        self.grants.invalidate_where(lambda key: key[0] == credit_code)


# -- values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredGrant:
    state: GrantState
    signature: bytes
    key_version: int
    submitted_by: str
    submitted_at: datetime
    revoked_by: str | None
    uses: int

    def status_at(self, now: datetime) -> GrantStatus:
        return self.state.status_at(now)


def _stored(row: Any) -> StoredGrant:
    grant = Grant.from_canonical(bytes(row.canonical))
    revoked_at = from_us(row.revoked_at_us) if row.revoked_at_us is not None else None
    state = GrantState(grant, revoked_at, row.revoke_reason or "", int(row.uses))
    return StoredGrant(
        state=state,
        signature=bytes(row.signature),
        key_version=int(row.key_version),
        submitted_by=row.submitted_by,
        submitted_at=from_us(row.submitted_at_us),
        revoked_by=row.revoked_by,
        uses=int(row.uses),
    )


_STATE_COLUMNS = (
    schema.grants.c.canonical,
    schema.grants.c.revoked_at_us,
    schema.grants.c.revoke_reason,
    schema.grants.c.uses,
)


# -- reads -----------------------------------------------------------------------------


def read_grant_states(
    conn: Connection, credit_code: str, grantee_node_id: str
) -> tuple[GrantState, ...]:
    """Every grant of one enterprise to one grantee, as the decision takes them."""
    rows = conn.execute(
        select(*_STATE_COLUMNS)
        .where(
            schema.grants.c.credit_code == credit_code,
            schema.grants.c.grantee_node_id == grantee_node_id,
        )
        .order_by(schema.grants.c.grant_id)
        .limit(MAX_GRANTS_PER_LOOKUP)
    ).all()
    return tuple(
        GrantState(
            Grant.from_canonical(bytes(row.canonical)),
            from_us(row.revoked_at_us) if row.revoked_at_us is not None else None,
            row.revoke_reason or "",
            int(row.uses),
        )
        for row in rows
    )


def get_grant(conn: Connection, grant_id: str) -> StoredGrant | None:
    row = conn.execute(select(schema.grants).where(schema.grants.c.grant_id == grant_id)).first()
    return None if row is None else _stored(row)


def require_grant(conn: Connection, grant_id: str) -> StoredGrant:
    stored = get_grant(conn, grant_id)
    if stored is None:
        raise NotFound(f"grant {clip(grant_id)} not found", reason=GRANT_NOT_FOUND)
    return stored


def list_grants(
    conn: Connection,
    *,
    now: datetime,
    credit_code: str | None = None,
    grantee_node_id: str | None = None,
    include_inactive: bool = False,
    limit: int = MAX_LISTED_GRANTS,
) -> list[StoredGrant]:
    query = select(schema.grants).order_by(
        schema.grants.c.submitted_at_us, schema.grants.c.grant_id
    )
    if credit_code:
        query = query.where(schema.grants.c.credit_code == credit_code)
    if grantee_node_id:
        query = query.where(schema.grants.c.grantee_node_id == grantee_node_id)
    if not include_inactive:
        query = query.where(
            schema.grants.c.revoked_at_us.is_(None),
            schema.grants.c.not_after_us > to_us(now),
        )
    out: list[StoredGrant] = []
    for row in conn.execute(query).all():
        stored = _stored(row)
        if include_inactive or stored.status_at(now) is GrantStatus.ACTIVE:
            out.append(stored)
        if len(out) >= limit:
            break
    return out


def verify_stored_signature(conn: Connection, stored: StoredGrant) -> None:
    """Re-check a stored grant against the key version it was signed with (audits)."""
    key = key_for_version(conn, stored.state.grant.credit_code, stored.key_version)
    verify_grant_signature(stored.state.grant, stored.signature, key)


# -- units of work ---------------------------------------------------------------------


def _require_consumer(conn: Connection, node_id: str) -> None:
    kind = conn.execute(
        select(schema.nodes.c.kind).where(schema.nodes.c.node_id == node_id)
    ).scalar_one_or_none()
    if kind is None:
        raise InvalidArgument.field("grant.grantee_node_id", node_id, "a registered node")
    if kind not in DATA_CONSUMER_KINDS:
        raise FailedPrecondition(
            f"grantee {node_id} is a {kind} node, which does not consume enterprise data",
            reason=GRANTEE_NOT_CONSUMER,
        )


@refuses_statement("grant", lambda a: (a["grant"].credit_code, a["grant"].grant_id))
def submit_grant(
    caller: Caller,
    grant: Grant,
    signature: bytes,
    catalog: Catalog,
    now: datetime,
    trace_id: str,
) -> Work[tuple[StoredGrant, int]]:
    """A city platform submits a grant the enterprise signed (steps in the docstring)."""
    # (1) the Grant checked itself on construction; now the clock
    check_new_grant(grant, now)
    # (2) the catalog
    check_grant_against_catalog(grant, catalog)
    canonical = grant.canonical_bytes()

    def work(conn: Connection, ledger: LedgerTx) -> tuple[StoredGrant, int]:
        # (3) the grantee is a consumer node here, or ``node@gateway`` of a member gateway
        # of the federation, whose kind that gateway checks when it forwards the query
        # (docs/federation.md)
        _node, at, gateway_id = grant.grantee_node_id.rpartition("@")
        if not (at and member_known(conn, gateway_id)):
            _require_consumer(conn, grant.grantee_node_id)
        # (4) the enterprise's current key signed exactly these bytes
        enterprise = require_enterprise(conn, grant.credit_code)
        verify_grant_signature(grant, signature, load_public_key(enterprise.public_key_pem))
        if get_grant(conn, grant.grant_id) is not None:
            raise AlreadyExists(
                f"grant {clip(grant.grant_id)} already exists", reason="GRANT_EXISTS"
            )
        # (5) store and record
        us = to_us(now)
        conn.execute(
            insert(schema.grants).values(
                grant_id=grant.grant_id,
                credit_code=grant.credit_code,
                grantee_node_id=grant.grantee_node_id,
                purpose=grant.purpose.value,
                categories=",".join(sorted(grant.categories)),
                fields=",".join(sorted(grant.fields)),
                not_before_us=to_us(grant.not_before),
                not_after_us=to_us(grant.not_after),
                max_uses=grant.max_uses,
                uses=0,
                canonical=canonical,
                signature=signature,
                key_version=enterprise.key_version,
                submitted_by=caller.node_id,
                submitted_at_us=us,
            )
        )
        details = {
            "grantee_node_id": grant.grantee_node_id,
            "categories": sorted(grant.categories),
            "fields": sorted(grant.fields),
            "purpose": grant.purpose.value,
            "not_before": format_time(grant.not_before),
            "not_after": format_time(grant.not_after),
            "max_uses": grant.max_uses,
            "key_version": enterprise.key_version,
            "fingerprint": grant.fingerprint(),
            "signature": signature.hex(),
        }
        index = ledger.append(
            caller.entry(
                Action.GRANT_CREATED,
                now,
                trace_id,
                details,
                credit_code=grant.credit_code,
                subject=grant.grant_id,
            )
        )
        return require_grant(conn, grant.grant_id), index

    return work


@refuses_statement("revocation", lambda a: (None, a["grant_id"]))
def revoke_grant(
    caller: Caller,
    grant_id: str,
    revoked_at: datetime | None,
    reason: str,
    signature: bytes,
    now: datetime,
    trace_id: str,
) -> Work[StoredGrant]:
    """Revoke by the enterprise's signature, or by an administrator with a reason."""
    by_admin = caller.kind == "admin"
    if by_admin and signature:
        raise InvalidArgument.field("signature", "a signature", "empty for an administrator")
    if not by_admin and not signature:
        raise InvalidArgument.field(
            "signature", "empty", "the enterprise's signature over the revocation"
        )
    if not by_admin and revoked_at is None:
        raise InvalidArgument.field("revoked_at", "unset", "the time the enterprise signed")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidArgument.field("reason", f"{len(reason)} characters", f"≤ {MAX_REASON_CHARS}")
    if revoked_at is not None and revoked_at > now + MAX_CLOCK_SKEW:
        raise InvalidArgument.field(
            "revoked_at", format_time(revoked_at), "not later than the gateway clock"
        )

    def work(conn: Connection, ledger: LedgerTx) -> StoredGrant:
        # (1) the grant
        stored = require_grant(conn, grant_id)
        grant = stored.state.grant
        details: dict[str, Any] = {"grantee_node_id": grant.grantee_node_id}
        revocation_bytes: bytes | None = None
        if by_admin:
            # (2b) an administrator, with a recorded reason (checked by the domain value)
            with refusing_statement("revocation", grant.credit_code, grant_id):
                stored.state.revoked_by_admin(now, caller.node_id, reason)  # checks the reason
            details.update(by="admin", reason=reason)
            revoked_by = caller.node_id
            stored_reason = reason
        else:
            # (2a) the enterprise signed the canonical revocation
            assert revoked_at is not None
            revocation = Revocation(grant_id, grant.credit_code, revoked_at, reason)
            with refusing_statement("revocation", grant.credit_code, grant_id):
                enterprise = require_enterprise(conn, grant.credit_code)
                verify_revocation(
                    revocation, signature, load_public_key(enterprise.public_key_pem), grant=grant
                )
                stored.state.revoked(revocation)  # names this grant
            revocation_bytes = revocation.canonical_bytes()
            details.update(
                by="enterprise",
                reason=reason,
                revoked_at=format_time(revocation.revoked_at),
                key_version=enterprise.key_version,
                signature=signature.hex(),
            )
            revoked_by = f"enterprise:{grant.credit_code}"
            stored_reason = reason
        # (3) the first revocation stands
        if stored.state.revoked_at is not None:
            return stored
        conn.execute(
            update(schema.grants)
            .where(schema.grants.c.grant_id == grant_id, schema.grants.c.revoked_at_us.is_(None))
            .values(
                revoked_at_us=to_us(now),
                revoke_reason=stored_reason,
                revoked_by=revoked_by[:64],
                revocation=revocation_bytes,
                revocation_signature=signature or None,
            )
        )
        ledger.append(
            caller.entry(
                Action.GRANT_REVOKED,
                now,
                trace_id,
                details,
                credit_code=grant.credit_code,
                subject=grant_id,
            )
        )
        return require_grant(conn, grant_id)

    return work


def consume_use(conn: Connection, grant_id: str) -> bool:
    """Count one use of a max_uses grant, only if it has uses left and is not revoked."""
    result = conn.execute(
        update(schema.grants)
        .where(
            schema.grants.c.grant_id == grant_id,
            schema.grants.c.revoked_at_us.is_(None),
            schema.grants.c.uses < schema.grants.c.max_uses,
        )
        .values(uses=schema.grants.c.uses + 1)
    )
    return bool(result.rowcount == 1)
