"""``PeerLog`` over mTLS gRPC: how this gateway calls a linked gateway's AuditService
and WitnessService, as the node of kind ``gateway`` it is there (its identity directory
at that peer), trusting the peer's CA from the peer descriptor.

gRPC errors become ``xinlian.errors`` once, here: UNAVAILABLE and DEADLINE_EXCEEDED are
``Unavailable`` (``UPSTREAM_UNAVAILABLE``), DATA_LOSS ``IntegrityViolation``, NOT_FOUND
``NotFound``, PERMISSION_DENIED and UNAUTHENTICATED ``PermissionDenied``, the rest
``FailedPrecondition``, each keeping the peer's reason code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc import aio

from gateway.flows.witness_peers import PeerInclusion, WitnessPeer
from xinlian.errors import (
    FailedPrecondition,
    IntegrityViolation,
    NotFound,
    PermissionDenied,
    Unavailable,
    XinLianError,
)
from xinlian.identity import Identity
from xinlian.v1 import audit_pb2, audit_pb2_grpc, witness_pb2, witness_pb2_grpc

PEER_RPC_TIMEOUT_S = 10.0
"""Deadline of each call to a peer: a slow peer never holds a round or a trace long."""

T = TypeVar("T")
_ERRORS: dict[grpc.StatusCode, type[XinLianError]] = {
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: Unavailable,
    grpc.StatusCode.DATA_LOSS: IntegrityViolation,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: PermissionDenied,
}


def _reason(err: aio.AioRpcError) -> str:
    metadata: Any = err.trailing_metadata() or ()
    for key, value in metadata:
        if key == "xinlian-reason":
            return str(value)
    return ""


class GrpcPeerLog:
    """One channel to one peer; ``close`` when done."""

    def __init__(self, peer: WitnessPeer) -> None:
        if peer.identity is None:
            raise FailedPrecondition(
                f"no identity at peer {peer.gateway_id}", reason="NO_PEER_IDENTITY"
            )
        try:
            files = Identity.load(peer.identity, gateway=peer.endpoint)
            key, cert = files.files.key.read_bytes(), files.files.cert.read_bytes()
        except (OSError, KeyError, ValueError):
            raise FailedPrecondition(
                f"this gateway's identity at peer {peer.gateway_id} is not readable "
                f"({peer.identity}): enroll it there as a node of kind gateway",
                reason="NO_PEER_IDENTITY",
            ) from None
        credentials = grpc.ssl_channel_credentials(
            root_certificates=peer.ca_pem, private_key=key, certificate_chain=cert
        )
        options = files.channel_options()
        if peer.server_name:
            options.append(("grpc.ssl_target_name_override", peer.server_name))
        self.peer = peer
        self.channel = aio.secure_channel(peer.endpoint, credentials, options=options)
        self.audit = audit_pb2_grpc.AuditServiceStub(self.channel)
        self.witness = witness_pb2_grpc.WitnessServiceStub(self.channel)

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except aio.AioRpcError as err:
            kind = _ERRORS.get(err.code(), FailedPrecondition)
            reason = _reason(err) or (
                "UPSTREAM_UNAVAILABLE" if kind is Unavailable else err.code().name
            )
            raise kind(
                f"peer {self.peer.gateway_id}: {err.code().name} {err.details() or ''}".strip(),
                reason=reason,
            ) from None

    async def checkpoint(self) -> str:
        response = await self._call(
            lambda: self.audit.GetCheckpoint(
                audit_pb2.GetCheckpointRequest(), timeout=PEER_RPC_TIMEOUT_S
            )
        )
        return str(response.checkpoint)

    async def consistency(self, first: int, second: int) -> list[bytes]:
        response = await self._call(
            lambda: self.audit.GetConsistencyProof(
                audit_pb2.GetConsistencyProofRequest(first_size=first, second_size=second),
                timeout=PEER_RPC_TIMEOUT_S,
            )
        )
        return [bytes(h) for h in response.proof]

    async def inclusion(self, index: int, tree_size: int) -> PeerInclusion:
        response = await self._call(
            lambda: self.audit.GetInclusionProof(
                audit_pb2.GetInclusionProofRequest(index=index, tree_size=tree_size),
                timeout=PEER_RPC_TIMEOUT_S,
            )
        )
        return PeerInclusion(
            int(response.index),
            int(response.tree_size),
            bytes(response.leaf_hash),
            [bytes(h) for h in response.proof],
        )

    async def cosigned_checkpoint(self) -> str:
        response = await self._call(
            lambda: self.witness.GetCosignedCheckpoint(
                witness_pb2.GetCosignedCheckpointRequest(), timeout=PEER_RPC_TIMEOUT_S
            )
        )
        return str(response.checkpoint)

    async def submit_cosignature(self, tree_size: int, line: str) -> None:
        await self._call(
            lambda: self.witness.SubmitCosignature(
                witness_pb2.SubmitCosignatureRequest(tree_size=tree_size, cosignature=line),
                timeout=PEER_RPC_TIMEOUT_S,
            )
        )

    async def witnessed(self, origin: str) -> str:
        response = await self._call(
            lambda: self.witness.GetWitnessed(
                witness_pb2.GetWitnessedRequest(origin=origin), timeout=PEER_RPC_TIMEOUT_S
            )
        )
        return str(response.checkpoint)

    async def hop_entry(self, index: int, trace_id: str) -> bytes:
        response = await self._call(
            lambda: self.witness.GetHopEntry(
                witness_pb2.GetHopEntryRequest(index=index, trace_id=trace_id),
                timeout=PEER_RPC_TIMEOUT_S,
            )
        )
        return bytes(response.entry)

    async def close(self) -> None:
        await self.channel.close(None)


def connect_peer(peer: WitnessPeer) -> GrpcPeerLog:
    """The ``PeerConnector`` of a running gateway and of the operator commands."""
    return GrpcPeerLog(peer)
