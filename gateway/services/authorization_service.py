"""AuthorizationService: enterprise identities and grants (gateway.flows.enterprises,
gateway.flows.grants); the wire conversions of grants live here too."""

from __future__ import annotations

from datetime import datetime

from grpc import aio
from sqlalchemy import Connection, select

from authz.catalog import Catalog
from authz.grants import (
    Grant,
    GrantStatus,
    check_grant_against_catalog,
)
from authz.letter import render_letter
from gateway.core import validate
from gateway.core.caller import Caller, current_caller
from gateway.flows.enterprises import (
    Attestation,
    EnterpriseRecord,
    get_enterprise,
    register_enterprise,
    rotate_key,
)
from gateway.flows.grants import StoredGrant, list_grants, revoke_grant, submit_grant
from gateway.flows.runtime import Runtime, new_trace_id
from gateway.services.convert import purpose_from_wire
from gateway.store import schema
from xinlian import limits
from xinlian.errors import InvalidArgument
from xinlian.v1 import authorization_pb2 as pb
from xinlian.v1 import authorization_pb2_grpc
from xinlian.wire import from_ts, grant_to_wire, ts

STATUS_TO_WIRE: dict[GrantStatus, pb.GrantStatus] = {
    GrantStatus.ACTIVE: pb.GRANT_STATUS_ACTIVE,
    GrantStatus.REVOKED: pb.GRANT_STATUS_REVOKED,
    GrantStatus.EXPIRED: pb.GRANT_STATUS_EXPIRED,
    GrantStatus.NOT_YET_VALID: pb.GRANT_STATUS_NOT_YET_VALID,
    GrantStatus.USED_UP: pb.GRANT_STATUS_USED_UP,
}
LIST_ALL_KINDS = frozenset({"city_platform", "admin", "officer"})


# -- conversions -----------------------------------------------------------------------


def grant_from_wire(msg: pb.Grant) -> Grant:
    """A wire grant as a domain value (max_uses 0 = unlimited); checks every field."""
    if msg.max_uses < 0:
        raise InvalidArgument.field("grant.max_uses", msg.max_uses, "0 (unlimited) or more")
    return Grant(
        grant_id=msg.grant_id,
        credit_code=msg.credit_code,
        grantee_node_id=msg.grantee_node_id,
        categories=frozenset(msg.categories),
        fields=frozenset(msg.fields),
        purpose=purpose_from_wire(msg.purpose, field_name="grant.purpose"),
        not_before=from_ts(msg.not_before, field_name="grant.not_before"),
        not_after=from_ts(msg.not_after, field_name="grant.not_after"),
        max_uses=msg.max_uses or None,
        issued_at=from_ts(msg.issued_at, field_name="grant.issued_at"),
    )


def view_to_wire(stored: StoredGrant, now: datetime) -> pb.GrantView:
    state = stored.state
    return pb.GrantView(
        grant=grant_to_wire(state.grant),
        status=STATUS_TO_WIRE[state.status_at(now)],
        uses=stored.uses,
        revoked_at=ts(state.revoked_at),
        revoke_reason=state.revoke_reason,
        submitted_by=stored.submitted_by,
    )


def enterprise_to_wire(record: EnterpriseRecord) -> pb.Enterprise:
    attestation = record.attestation
    verified_at = attestation.get("verified_at")
    return pb.Enterprise(
        credit_code=record.credit_code,
        name=record.name,
        public_key_pem=record.public_key_pem,
        key_version=record.key_version,
        registered_by=record.registered_by,
        attestation=pb.IdentityAttestation(
            method=str(attestation.get("method", "")),
            evidence_ref=str(attestation.get("evidence_ref", "")),
            verified_at=ts(datetime.fromisoformat(verified_at)) if verified_at else None,
        ),
        frozen=record.frozen,
        open_objections=record.open_objections,
    )


def letter_for(conn: Connection, grant: Grant, catalog: Catalog) -> str:
    """The 授权书, with the grantee's and the enterprise's registered names if known."""
    check_grant_against_catalog(grant, catalog)
    grantee_name = conn.execute(
        select(schema.nodes.c.name).where(schema.nodes.c.node_id == grant.grantee_node_id)
    ).scalar_one_or_none()
    enterprise = get_enterprise(conn, grant.credit_code)
    return render_letter(
        grant,
        catalog,
        grantee_name=grantee_name or grant.grantee_node_id,
        enterprise_name=enterprise.name if enterprise is not None else None,
    )


# -- the service -----------------------------------------------------------------------


class AuthorizationServicer(authorization_pb2_grpc.AuthorizationServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.caches = rt.authz_caches

    async def RegisterEnterprise(
        self, request: pb.RegisterEnterpriseRequest, context: aio.ServicerContext
    ) -> pb.RegisterEnterpriseResponse:
        caller = current_caller()
        now = self.rt.clock.now()
        att = request.attestation
        attestation = Attestation(
            method=att.method,
            evidence_ref=att.evidence_ref,
            verified_at=from_ts(att.verified_at, field_name="attestation.verified_at")
            if att.HasField("verified_at")
            else now,
        )
        record = await self.rt.commit(
            register_enterprise(
                caller,
                request.credit_code,
                request.name,
                request.public_key_pem,
                attestation,
                now,
                new_trace_id(),
            )
        )
        self.caches.invalidate_enterprise(record.credit_code)
        return pb.RegisterEnterpriseResponse(enterprise=enterprise_to_wire(record))

    async def RotateEnterpriseKey(
        self, request: pb.RotateEnterpriseKeyRequest, context: aio.ServicerContext
    ) -> pb.RotateEnterpriseKeyResponse:
        caller = current_caller()
        record = await self.rt.commit(
            rotate_key(
                caller,
                request.credit_code,
                request.new_public_key_pem,
                from_ts(request.issued_at, field_name="issued_at"),
                bytes(request.signature),
                self.rt.clock.now(),
                new_trace_id(),
            )
        )
        self.caches.invalidate_enterprise(record.credit_code)
        return pb.RotateEnterpriseKeyResponse(enterprise=enterprise_to_wire(record))

    async def SubmitGrant(
        self, request: pb.SubmitGrantRequest, context: aio.ServicerContext
    ) -> pb.SubmitGrantResponse:
        caller = current_caller()
        now = self.rt.clock.now()
        grant = grant_from_wire(request.grant)
        stored, index = await self.rt.commit(
            submit_grant(
                caller, grant, bytes(request.signature), self.rt.catalog, now, new_trace_id()
            )
        )
        self.caches.grants.invalidate((grant.credit_code, grant.grantee_node_id))
        return pb.SubmitGrantResponse(grant=view_to_wire(stored, now), ledger_index=index)

    async def RevokeGrant(
        self, request: pb.RevokeGrantRequest, context: aio.ServicerContext
    ) -> pb.RevokeGrantResponse:
        caller = current_caller()
        now = self.rt.clock.now()
        revoked_at = (
            from_ts(request.revoked_at, field_name="revoked_at")
            if request.HasField("revoked_at")
            else None
        )
        stored = await self.rt.commit(
            revoke_grant(
                caller,
                validate.identifier("grant_id", request.grant_id, max_len=limits.MAX_GRANT_ID_LEN),
                revoked_at,
                request.reason,
                bytes(request.signature),
                now,
                new_trace_id(),
            )
        )
        grant = stored.state.grant
        self.caches.grants.invalidate((grant.credit_code, grant.grantee_node_id))
        return pb.RevokeGrantResponse(grant=view_to_wire(stored, now))

    async def ListGrants(
        self, request: pb.ListGrantsRequest, context: aio.ServicerContext
    ) -> pb.ListGrantsResponse:
        caller = current_caller()
        now = self.rt.clock.now()
        grantee = _listing_grantee(caller, request.grantee_node_id)
        found = await self.rt.read(
            lambda conn: list_grants(
                conn,
                now=now,
                credit_code=request.credit_code or None,
                grantee_node_id=grantee,
                include_inactive=request.include_inactive,
            )
        )
        return pb.ListGrantsResponse(grants=[view_to_wire(g, now) for g in found])

    async def RenderAuthorizationLetter(
        self, request: pb.RenderAuthorizationLetterRequest, context: aio.ServicerContext
    ) -> pb.RenderAuthorizationLetterResponse:
        grant = grant_from_wire(request.grant)
        text = await self.rt.read(lambda conn: letter_for(conn, grant, self.rt.catalog))
        return pb.RenderAuthorizationLetterResponse(text=text, fingerprint=grant.fingerprint())


def _listing_grantee(caller: Caller, requested: str) -> str | None:
    """Institutions see only the grants made to them; the other kinds see any."""
    if caller.kind in LIST_ALL_KINDS:
        return requested or None
    if requested and requested != caller.node_id:
        raise InvalidArgument.field(
            "grantee_node_id", requested, f"empty or {caller.node_id} (your own grants)"
        )
    return caller.node_id
