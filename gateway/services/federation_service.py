"""FederationService on the wire: Join, GetDirectory, Relay, ForwardQuery (docs/federation.md).

Every call comes from a gateway node (the access table), authenticated by the gate like
any node: a suspended or exited member is refused within ``NODE_STATE_CACHE_TTL_S``.
The flows are ``gateway.flows.federation_link`` (Join), ``federation_sync`` (the
directory), ``relay`` and ``forward_query``.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable

from grpc import aio

from authz.catalog import Purpose
from gateway.core.caller import Caller, current_caller
from gateway.flows.federation_link import (
    HOP_IN,
    Federation,
    JoinFacts,
    hop,
    join,
)
from gateway.flows.federation_sync import publish, run_federation
from gateway.flows.forward_query import ForwardQueries, ForwardRequest
from gateway.flows.query import QuerySpec
from gateway.flows.relay import RelayBatch, RelayReceiver
from gateway.flows.runtime import Runtime, checked_trace_id
from gateway.services.federation_client import enroll_at, peer_client, query_response
from gateway.services.query_service import QueryService
from gateway.services.query_service import query_response as local_response
from xinlian.errors import FailedPrecondition, InvalidArgument
from xinlian.v1 import federation_pb2 as pb
from xinlian.v1 import federation_pb2_grpc
from xinlian.wire import KIND_FROM_WIRE, PURPOSE_FROM_WIRE

NOT_TOP = "NOT_TOP"
LINK_POLL_S = 1.0
MAX_RELAY_BATCHES = 256


def require_federation(rt: Runtime) -> Federation:
    fed: Federation | None = rt.federation
    if fed is None:
        raise FailedPrecondition("this gateway is not federated", reason="NOT_FEDERATED")
    return fed


class FederationServicer(federation_pb2_grpc.FederationServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.queries = QueryService(rt)
        self.forwards = ForwardQueries(rt, peer_client(rt))
        self._receiver: RelayReceiver | None = None

    async def Join(self, request: pb.JoinRequest, context: aio.ServicerContext) -> pb.JoinResponse:
        caller = current_caller()
        fed = require_federation(self.rt)
        if not fed.is_top:
            raise FailedPrecondition("only the top gateway admits members", reason=NOT_TOP)
        facts = JoinFacts(
            request.endpoint,
            request.tls_server_name,
            request.ca_certificate_pem,
            request.ledger_verifier_key,
            request.checkpoint_origin,
            request.catalog_version,
        )
        # the downlink: this gateway enrolls at the member with the member's token
        out = fed.paths.downlink(caller.node_id)
        if out.exists():
            shutil.rmtree(out)
        await asyncio.get_running_loop().run_in_executor(
            None,
            enroll_at,
            request.enroll_endpoint,
            request.downlink_token,
            request.ca_certificate_pem.encode(),
            out,
            request.tls_server_name,
        )
        fed.forget_downlink(caller.node_id)
        trace_id = checked_trace_id("")
        index = await self.rt.commit(join(caller, facts, fed.gateway_id, self.rt.clock, trace_id))
        await publish(self.rt, fed)
        signers = fed.directory_signers()
        return pb.JoinResponse(
            upstream_gateway_id=fed.gateway_id,
            upstream_region=fed.region,
            directory_verifier_key=signers[0].verifier_key() if signers else "",
            ledger_index=index,
        )

    async def GetDirectory(
        self, request: pb.GetDirectoryRequest, context: aio.ServicerContext
    ) -> pb.GetDirectoryResponse:
        fed = require_federation(self.rt)
        directory = await publish(self.rt, fed) if fed.is_top else fed.directory
        if directory is None:
            raise FailedPrecondition("no directory held yet", reason="NO_DIRECTORY")
        return pb.GetDirectoryResponse(signed_note=directory.note)

    async def Relay(
        self, request: pb.RelayRequest, context: aio.ServicerContext
    ) -> pb.RelayResponse:
        caller = current_caller()
        fed = require_federation(self.rt)
        if request.direction not in ("up", "down"):
            raise InvalidArgument.field("direction", request.direction, "up or down")
        if len(request.batches) > MAX_RELAY_BATCHES:
            raise InvalidArgument.field(
                "batches", len(request.batches), f"at most {MAX_RELAY_BATCHES}"
            )
        if self._receiver is None:
            self._receiver = RelayReceiver(self.rt, fed)
        batches = [
            RelayBatch(
                b.source_node_id,
                b.batch_id,
                b.category,
                bytes(b.signed_content),
                bytes(b.signature),
                b.signer_certificate_pem,
                b.source_gateway_id,
                b.source_ledger_index,
            )
            for b in request.batches
        ]
        ack = await self._receiver.receive(
            caller, request.direction, batches, checked_trace_id(request.trace_id)
        )
        return pb.RelayResponse(
            results=[
                pb.RelayResult(
                    batch_id=r.batch_id,
                    outcomes=r.outcomes,
                    reason_code=r.reason_code,
                    message=r.message,
                )
                for r in ack.results
            ],
            ledger_index=ack.ledger_index,
            gateway_id=ack.gateway_id,
        )

    async def ForwardQuery(
        self, request: pb.ForwardQueryRequest, context: aio.ServicerContext
    ) -> pb.ForwardQueryResponse:
        caller = current_caller()
        fed = require_federation(self.rt)
        purpose = PURPOSE_FROM_WIRE.get(request.purpose)
        kind = KIND_FROM_WIRE.get(request.consumer_kind)
        if purpose is None or kind is None:
            raise InvalidArgument.field("purpose", request.purpose, "a purpose and a node kind")
        forwarded = ForwardRequest(
            request.credit_code,
            purpose,
            tuple(request.categories),
            checked_trace_id(request.trace_id),
            request.consumer_node_id,
            kind,
            request.origin_gateway_id,
            request.hops,
        )
        home = self.forwards.check_received(caller, forwarded)
        if home is not None:  # the top, between two members
            answer = await self.forwards.relay_received(caller, home, forwarded)
            return pb.ForwardQueryResponse(
                answer=query_response(answer.answer),
                ledger_index=answer.ledger_index,
                gateway_id=fed.gateway_id,
                answered_by=answer.answered_by,
            )
        # the home: the ordinary query path, for the qualified consumer, with the hop
        handler = self.queries.handler
        spec = QuerySpec(
            credit_code=handler.credit_code(forwarded.credit_code),
            categories=handler.categories(forwarded.categories),
            purpose=Purpose(purpose),
            trace_id=forwarded.trace_id,
            hop=hop(caller.node_id, None, HOP_IN),
        )
        consumer = Caller(forwarded.consumer_node_id, kind, "", "", "")
        (done,) = await handler.run(consumer, [spec])
        return pb.ForwardQueryResponse(
            answer=local_response(done),
            ledger_index=done.ledger_index,
            gateway_id=fed.gateway_id,
            answered_by=fed.gateway_id,
        )


def start_federation(
    rt: Runtime, build: Callable[[], Federation | None] | None = None
) -> list[asyncio.Task[None]]:
    """The directory and relay loop. A gateway not federated at start (``build`` given)
    looks for a link every ``LINK_POLL_S`` and starts federating once linked."""

    async def run() -> None:
        while rt.federation is None:
            await asyncio.sleep(LINK_POLL_S)
            rt.federation = build() if build is not None else None
        client = peer_client(rt)
        try:
            await run_federation(rt, rt.federation, client)
        finally:
            await client.close()

    if rt.federation is None and build is None:
        return []
    return [asyncio.get_running_loop().create_task(run(), name="federation")]
