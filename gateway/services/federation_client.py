"""Calls to peer gateways (docs/federation.md): the wire side of the federation flows.

``PeerClient`` implements the flows' call protocols (``ForwardCalls``, ``RelayCalls``,
``DirectoryCalls``) over mTLS with this gateway's identity at the peer (its upstream
identity, or at the top the member's downlink); one channel per identity, kept. Every
call has a deadline; a peer that cannot be reached (UNAVAILABLE, DEADLINE_EXCEEDED) is
``Unavailable`` ``UPSTREAM_UNAVAILABLE``; any other refusal keeps its status and reason.

The sync functions (``apply_at``, ``enroll_at``, ``join_upstream``) serve the link
command and ``Join``'s downlink enrollment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc import aio

from gateway.flows.forward_query import UPSTREAM_UNAVAILABLE, ForwardAnswer, ForwardRequest
from gateway.flows.relay import RelayAck, RelayBatch, RelayResult
from gateway.flows.runtime import Runtime
from xinlian import errors
from xinlian.identity import CHANNEL_OPTIONS, Identity, NodeIdentityFiles
from xinlian.pki import key_to_pem, make_csr, make_private, new_private_key, write_secret
from xinlian.v1 import (
    exchange_pb2,
    federation_pb2,
    federation_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from xinlian.wire import KIND_FROM_WIRE, KIND_TO_WIRE, PURPOSE_TO_WIRE

BOOTSTRAP_TIMEOUT_S = 30.0
_UNREACHABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}
_ERRORS: dict[str, type[errors.XinLianError]] = {
    cls.status_name: cls
    for cls in (
        errors.InvalidArgument,
        errors.NotFound,
        errors.AlreadyExists,
        errors.Unauthenticated,
        errors.PermissionDenied,
        errors.FailedPrecondition,
        errors.ResourceExhausted,
    )
}


def peer_error(exc: grpc.RpcError, peer: str) -> errors.XinLianError:
    """A peer's refusal as our error: unreachable is UPSTREAM_UNAVAILABLE."""
    code = exc.code()
    details = exc.details() or ""
    if code in _UNREACHABLE:
        return errors.Unavailable(
            f"peer gateway {peer} unreachable: {code.name}", reason=UPSTREAM_UNAVAILABLE
        )
    reason = code.name
    metadata: Any = exc.trailing_metadata()
    for key, value in metadata or ():
        if key == "xinlian-reason":
            reason = str(value)
    cls = _ERRORS.get(code.name, errors.Unavailable)
    return cls(f"peer gateway {peer}: {details}", reason=str(reason))


def peer_client(rt: Runtime) -> PeerClient:
    """The runtime's one client to peer gateways (made on first use)."""
    if rt.peer_client is None:
        rt.peer_client = PeerClient()
    client: PeerClient = rt.peer_client
    return client


class PeerClient:
    def __init__(self) -> None:
        self._channels: dict[tuple[Path, str], aio.Channel] = {}

    def _stub(self, identity: Identity) -> federation_pb2_grpc.FederationServiceStub:
        key = (identity.files.root, identity.gateway)
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = identity.aio_channel()
        return federation_pb2_grpc.FederationServiceStub(channel)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close(None)
        self._channels.clear()

    async def forward(
        self, identity: Identity, request: ForwardRequest, deadline_s: float
    ) -> ForwardAnswer:
        message = federation_pb2.ForwardQueryRequest(
            credit_code=request.credit_code,
            purpose=PURPOSE_TO_WIRE[request.purpose],
            categories=list(request.categories),
            trace_id=request.trace_id,
            consumer_node_id=request.consumer_node_id,
            consumer_kind=KIND_TO_WIRE[request.consumer_kind],
            origin_gateway_id=request.origin_gateway_id,
            hops=request.hops,
        )
        try:
            response = await self._stub(identity).ForwardQuery(message, timeout=deadline_s)
        except grpc.RpcError as exc:
            raise peer_error(exc, identity.gateway) from None
        decisions = {
            c.category: "ALLOWED" if c.allowed else c.reason_code
            for c in response.answer.categories
        }
        return ForwardAnswer(
            response.answer.SerializeToString(),
            response.ledger_index,
            response.gateway_id,
            response.answered_by,
            decisions,
        )

    async def relay(
        self,
        identity: Identity,
        direction: str,
        batches: Sequence[RelayBatch],
        trace_id: str,
        deadline_s: float,
    ) -> RelayAck:
        message = federation_pb2.RelayRequest(
            direction=direction,
            trace_id=trace_id,
            batches=[
                federation_pb2.RelayedBatch(
                    source_node_id=b.source_node_id,
                    batch_id=b.batch_id,
                    category=b.category,
                    signed_content=b.signed_content,
                    signature=b.signature,
                    signer_certificate_pem=b.signer_cert_pem,
                    source_gateway_id=b.source_gateway_id,
                    source_ledger_index=b.source_ledger_index,
                )
                for b in batches
            ],
        )
        try:
            response = await self._stub(identity).Relay(message, timeout=deadline_s)
        except grpc.RpcError as exc:
            raise peer_error(exc, identity.gateway) from None
        return RelayAck(
            tuple(
                RelayResult(r.batch_id, r.outcomes, r.reason_code, r.message)
                for r in response.results
            ),
            response.ledger_index,
            response.gateway_id,
        )

    async def fetch_directory(self, identity: Identity, deadline_s: float) -> str:
        try:
            response = await self._stub(identity).GetDirectory(
                federation_pb2.GetDirectoryRequest(), timeout=deadline_s
            )
        except grpc.RpcError as exc:
            raise peer_error(exc, identity.gateway) from None
        return str(response.signed_note)


def query_response(answer: bytes) -> exchange_pb2.QueryResponse:
    return exchange_pb2.QueryResponse.FromString(answer)


# -- bootstrap and link (sync) --------------------------------------------------------------


def _bootstrap(address: str, ca_pem: bytes, server_name: str) -> grpc.Channel:
    options: list[tuple[str, object]] = list(CHANNEL_OPTIONS)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    return grpc.secure_channel(address, credentials, options=options)


def apply_at(address: str, ca_pem: bytes, gateway_id: str, region: str, name: str) -> str:
    """Step (1) of the link: apply at the upstream as a gateway node; returns the node id."""
    with _bootstrap(address, ca_pem, "") as channel:
        try:
            response = registry_pb2_grpc.RegistryServiceStub(channel).Apply(
                registry_pb2.ApplyRequest(
                    name=name, kind=KIND_TO_WIRE["gateway"], region=region, requested_id=gateway_id
                ),
                timeout=BOOTSTRAP_TIMEOUT_S,
            )
        except grpc.RpcError as exc:
            raise peer_error(exc, address) from None
    return str(response.node.node_id)


def enroll_at(
    address: str, token: str, ca_pem: bytes, out: Path, server_name: str = ""
) -> Identity:
    """Enroll at a peer gateway with a one-time token: the key is made here, only a CSR
    leaves; the identity is written like a node's (``xinlian.identity``)."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = NodeIdentityFiles(out)
    key = new_private_key()
    with _bootstrap(address, ca_pem, server_name) as channel:
        try:
            response = registry_pb2_grpc.RegistryServiceStub(channel).Enroll(
                registry_pb2.EnrollRequest(
                    token=token, csr_pem=make_csr(key, "xinlian-gateway").decode()
                ),
                timeout=BOOTSTRAP_TIMEOUT_S,
            )
        except grpc.RpcError as exc:
            raise peer_error(exc, address) from None
    write_secret(files.key, key_to_pem(key))
    files.cert.write_text(response.certificate_pem)
    files.ca.write_text(response.ca_certificate_pem)
    meta = {
        "node_id": response.node.node_id,
        "kind": KIND_FROM_WIRE[response.node.kind],
        "region": response.node.region,
        "gateway": response.gateway_address or address,
        "server_name": server_name or response.tls_server_name,
    }
    files.meta.write_text(json.dumps(meta, indent=2))
    make_private(out)
    return Identity.load(out)


@dataclass(frozen=True)
class Joined:
    upstream_gateway_id: str
    upstream_region: str
    directory_verifier_key: str
    ledger_index: int


def join_upstream(
    identity: Identity,
    *,
    endpoint: str,
    enroll_endpoint: str,
    tls_server_name: str,
    ca_pem: str,
    verifier_key: str,
    origin: str,
    token: str,
    catalog_version: str,
) -> Joined:
    """Step (5) of the link: ``Join`` at the upstream over mTLS."""
    request = federation_pb2.JoinRequest(
        endpoint=endpoint,
        enroll_endpoint=enroll_endpoint,
        tls_server_name=tls_server_name,
        ca_certificate_pem=ca_pem,
        ledger_verifier_key=verifier_key,
        checkpoint_origin=origin,
        downlink_token=token,
        catalog_version=catalog_version,
    )
    with identity.channel() as channel:
        try:
            response = federation_pb2_grpc.FederationServiceStub(channel).Join(
                request, timeout=BOOTSTRAP_TIMEOUT_S * 2
            )
        except grpc.RpcError as exc:
            raise peer_error(exc, identity.gateway) from None
    return Joined(
        response.upstream_gateway_id,
        response.upstream_region,
        response.directory_verifier_key,
        response.ledger_index,
    )
