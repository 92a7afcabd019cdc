"""Withdrawals at the gateway: record ids deleted (or flagged deleted) at the source,
sent with ``WithdrawRecords`` (idempotent: a record withdrawn before answers
ALREADY_WITHDRAWN), at most ``MAX_IDS_PER_CALL`` per call."""

from __future__ import annotations

import grpc

from node_agent.push import PushFailed
from xinlian.identity import Identity
from xinlian.v1 import withdrawals_pb2 as pb
from xinlian.v1 import withdrawals_pb2_grpc

MAX_IDS_PER_CALL = 1000  # the gateway's MAX_WITHDRAW_IDS
CALL_TIMEOUT_S = 60.0
SOURCE_DELETED = "deleted at the source"
OUTCOMES = {
    pb.WITHDRAWAL_OUTCOME_WITHDRAWN: "WITHDRAWN",
    pb.WITHDRAWAL_OUTCOME_ALREADY_WITHDRAWN: "ALREADY_WITHDRAWN",
    pb.WITHDRAWAL_OUTCOME_NOT_FOUND: "NOT_FOUND",
}


def send_withdrawals(identity: Identity, category: str, record_ids: list[str]) -> dict[str, str]:
    """Each record id's outcome. Raises :class:`PushFailed` (its gRPC status) when the
    gateway cannot be reached or refuses; nothing is saved then, the page is re-read."""
    outcomes: dict[str, str] = {}
    with identity.channel() as channel:
        stub = withdrawals_pb2_grpc.WithdrawalServiceStub(channel)
        for start in range(0, len(record_ids), MAX_IDS_PER_CALL):
            part = record_ids[start : start + MAX_IDS_PER_CALL]
            try:
                answer = stub.WithdrawRecords(
                    pb.WithdrawRecordsRequest(
                        category=category, record_ids=part, reason=SOURCE_DELETED
                    ),
                    timeout=CALL_TIMEOUT_S,
                )
            except grpc.RpcError as exc:
                code = exc.code().name if hasattr(exc, "code") and exc.code() else "UNKNOWN"
                details = exc.details() if hasattr(exc, "details") else str(exc)
                raise PushFailed(
                    f"withdrawal stopped: {code}: {details}", code=code, reason="", acknowledged=0
                ) from exc
            for result in answer.results:
                outcomes[result.record_id] = OUTCOMES.get(result.outcome, "UNKNOWN")
    return outcomes
