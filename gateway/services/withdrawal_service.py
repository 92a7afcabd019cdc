"""WithdrawalService: a department withdraws records it pushed (gateway.flows.withdrawals)."""

from __future__ import annotations

from grpc import aio

from gateway.core.caller import current_caller
from gateway.flows.registry import get_node
from gateway.flows.runtime import Runtime, new_trace_id
from gateway.flows.withdrawals import ALREADY_WITHDRAWN, NOT_FOUND, WITHDRAWN, withdraw_records
from xinlian.errors import Unauthenticated
from xinlian.v1 import withdrawals_pb2 as pb
from xinlian.v1 import withdrawals_pb2_grpc

_OUTCOMES = {
    WITHDRAWN: pb.WITHDRAWAL_OUTCOME_WITHDRAWN,
    ALREADY_WITHDRAWN: pb.WITHDRAWAL_OUTCOME_ALREADY_WITHDRAWN,
    NOT_FOUND: pb.WITHDRAWAL_OUTCOME_NOT_FOUND,
}


class WithdrawalServicer(withdrawals_pb2_grpc.WithdrawalServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def WithdrawRecords(
        self, request: pb.WithdrawRecordsRequest, context: aio.ServicerContext
    ) -> pb.WithdrawRecordsResponse:
        caller = current_caller()
        node = await self.rt.read(lambda conn: get_node(conn, caller.node_id))
        if node is None:
            raise Unauthenticated("certificate does not match the registry", reason="UNKNOWN_NODE")
        results = await self.rt.commit(
            withdraw_records(
                caller,
                frozenset(node.categories),
                request.category,
                list(request.record_ids),
                request.reason,
                self.rt.clock.now(),
                new_trace_id(),
            )
        )
        return pb.WithdrawRecordsResponse(
            results=[
                pb.WithdrawalResult(
                    record_id=r.record_id,
                    outcome=_OUTCOMES[r.outcome],
                    versions=r.versions,
                    ledger_index=r.ledger_index,
                )
                for r in results
            ]
        )
