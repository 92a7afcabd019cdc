"""WitnessService: cosignatures between linked gateways, checkpoints with their
cosignatures, what a witness cosigned, hop entries for a peer's trace, and the officer's
trace across gateways (docs/witness.md).

Access (``gateway.edge.access``): submitting a cosignature and reading a hop entry are
for gateway-kind nodes (the peers, identified by their node id = gateway id);
``GetCosignedCheckpoint`` for every node; ``GetWitnessed`` for gateways and officers;
``TraceHops`` for officers, and it is recorded as an ``audit.search`` entry before the
reply leaves.
"""

from __future__ import annotations

import asyncio

from grpc import aio

from audit.entry import Action
from gateway.core.caller import current_caller
from gateway.flows.hop_trace import HopProof, TracedEntry, entries_with_trace, trace_hops
from gateway.flows.runtime import Runtime, checked_trace_id, new_trace_id
from gateway.flows.witness_peers import configured_peers
from gateway.flows.witness_serve import (
    accept_cosignature,
    cosigned_checkpoint,
    hop_entry,
    witnessed_note,
)
from gateway.services.peer_client import connect_peer
from xinlian.errors import InvalidArgument
from xinlian.v1 import witness_pb2 as pb
from xinlian.v1 import witness_pb2_grpc

MAX_ORIGIN_CHARS = 256
MAX_COSIGNATURE_CHARS = 400


def hop_to_wire(hop: HopProof) -> pb.HopProof:
    return pb.HopProof(
        peer=hop.peer_id,
        peer_index=hop.peer_index if hop.peer_index is not None else -1,
        direction=hop.direction,
        status=hop.status,
        message=hop.message,
        peer_entry=hop.peer_entry,
        peer_leaf_hash=hop.peer_leaf_hash,
        peer_tree_size=hop.peer_tree_size,
        proof=hop.proof,
        peer_checkpoint=hop.peer_note,
        peer_verifier_key=hop.peer_verifier_key,
    )


def traced_to_wire(traced: TracedEntry) -> pb.TracedEntry:
    row = traced.row
    message = pb.TracedEntry(
        index=row.idx,
        entry=row.body or b"",
        leaf_hash=row.leaf_hash,
        action=row.action,
        actor=row.actor,
    )
    if traced.hop is not None:
        message.hop.CopyFrom(hop_to_wire(traced.hop))
    return message


class WitnessServicer(witness_pb2_grpc.WitnessServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def SubmitCosignature(
        self, request: pb.SubmitCosignatureRequest, context: aio.ServicerContext
    ) -> pb.SubmitCosignatureResponse:
        caller = current_caller()
        size, line = request.tree_size, request.cosignature
        if size <= 0:
            raise InvalidArgument.field("tree_size", size, "a checkpoint size")
        if not line or len(line) > MAX_COSIGNATURE_CHARS:
            raise InvalidArgument.field("cosignature", len(line), "one signature line")
        peers = configured_peers(self.rt.config)
        now = self.rt.clock.now()
        await asyncio.get_running_loop().run_in_executor(
            None,
            self.rt.store.write,
            lambda conn: accept_cosignature(conn, peers, caller.node_id, size, line, now),
        )
        return pb.SubmitCosignatureResponse()

    async def GetCosignedCheckpoint(
        self, request: pb.GetCosignedCheckpointRequest, context: aio.ServicerContext
    ) -> pb.GetCosignedCheckpointResponse:
        size = request.tree_size
        found = await self.rt.read(lambda conn: cosigned_checkpoint(conn, size))
        return pb.GetCosignedCheckpointResponse(
            checkpoint=found.note, tree_size=found.tree_size, witnesses=list(found.witnesses)
        )

    async def GetWitnessed(
        self, request: pb.GetWitnessedRequest, context: aio.ServicerContext
    ) -> pb.GetWitnessedResponse:
        origin = request.origin
        if not origin or len(origin) > MAX_ORIGIN_CHARS:
            raise InvalidArgument.field("origin", len(origin), "a checkpoint origin line")
        note = await self.rt.read(lambda conn: witnessed_note(conn, origin))
        return pb.GetWitnessedResponse(checkpoint=note)

    async def GetHopEntry(
        self, request: pb.GetHopEntryRequest, context: aio.ServicerContext
    ) -> pb.GetHopEntryResponse:
        caller = current_caller()
        index, trace_id = request.index, checked_trace_id(request.trace_id or "-")
        if index < 0:
            raise InvalidArgument.field("index", index, "a non-negative ledger index")
        body = await self.rt.read(lambda conn: hop_entry(conn, caller.node_id, index, trace_id))
        return pb.GetHopEntryResponse(entry=body)

    async def TraceHops(
        self, request: pb.TraceHopsRequest, context: aio.ServicerContext
    ) -> pb.TraceHopsResponse:
        caller = current_caller()
        if not request.trace_id:
            raise InvalidArgument.field("trace_id", "", "the trace id to follow")
        trace_id = checked_trace_id(request.trace_id)
        rows = await self.rt.read(lambda conn: entries_with_trace(conn, trace_id))
        traced = await trace_hops(rows, trace_id, configured_peers(self.rt.config), connect_peer)
        # the officer's trace is recorded before anything leaves
        entry = caller.entry(
            Action.AUDIT_SEARCH,
            self.rt.clock.now(),
            new_trace_id(),
            {
                "kind": "trace_hops",
                "trace_id": trace_id,
                "results": len(traced),
                "hops": sum(1 for t in traced if t.hop is not None),
            },
        )
        await self.rt.commit_entry(entry)
        return pb.TraceHopsResponse(trace_id=trace_id, entries=[traced_to_wire(t) for t in traced])
