"""The node's correction notices (NoticeService over its mTLS channel): pull the
notices waiting for it, acknowledge them, and their plain JSON form."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from node_agent.client import ServiceClient
from xinlian.v1 import notices_pb2 as pb
from xinlian.v1 import notices_pb2_grpc

RPC_TIMEOUT_S = 60.0
PULL_PAGE = 500
"""Notices asked for per PullNotices call (the gateway's maximum)."""


class NoticeClient(ServiceClient):
    STUB = notices_pb2_grpc.NoticeServiceStub

    def pull_page(self, after: int = 0, limit: int = PULL_PAGE) -> pb.PullNoticesResponse:
        response: pb.PullNoticesResponse = self.stub.PullNotices(
            pb.PullNoticesRequest(max=limit, after=after), timeout=RPC_TIMEOUT_S
        )
        return response

    def pull_all(self) -> list[pb.Notice]:
        """Every unacknowledged notice, oldest first (pages until one comes back empty)."""
        out: list[pb.Notice] = []
        after = 0
        while True:
            page = self.pull_page(after)
            if not page.notices:
                return out
            out.extend(page.notices)
            after = page.next_after

    def ack(self, notice_ids: Sequence[int]) -> pb.AckNoticesResponse:
        response: pb.AckNoticesResponse = self.stub.AckNotices(
            pb.AckNoticesRequest(notice_ids=list(notice_ids)), timeout=RPC_TIMEOUT_S
        )
        return response


def notice_json(notice: pb.Notice) -> dict[str, Any]:
    created = notice.created_at.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds")
    return {
        "notice_id": notice.notice_id,
        "record_id": notice.record_id,
        "source_node_id": notice.source_node_id,
        "credit_code": notice.credit_code,
        "category": notice.category,
        "old_version": notice.old_version,
        "new_version": notice.new_version or None,
        "reason": notice.reason,
        "changed_fields": list(notice.changed_fields),
        "values": {f.name: {"value": f.value, "mask": f.mask} for f in notice.values},
        "values_withheld": notice.values_withheld or None,
        "grant_id": notice.grant_id or None,
        "created_at": created,
        "ledger_index": notice.ledger_index,
    }


def notice_trace_json(notice: Any) -> dict[str, Any]:
    """One ``NoticeTrace`` of a record trace (``xinlian audit trace --record``)."""
    return {
        "notice_id": notice.notice_id,
        "node_id": notice.node_id,
        "old_version": notice.old_version,
        "new_version": notice.new_version or None,
        "reason": notice.reason,
        "changed_fields": list(notice.changed_fields),
        "created_at": notice.created_at.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds"),
        "ledger_index": notice.ledger_index,
        "ack_ledger_index": notice.ack_ledger_index if notice.ack_ledger_index >= 0 else None,
    }


NOTICE_TRACE_COLUMNS = ("node", "versions", "reason", "changed", "notice entry", "ack entry")


def notice_trace_row(notice: Any) -> tuple[str, ...]:
    return (
        notice.node_id,
        f"{notice.old_version} → {notice.new_version or 'withdrawn'}",
        notice.reason,
        ", ".join(notice.changed_fields),
        str(notice.ledger_index),
        str(notice.ack_ledger_index) if notice.ack_ledger_index >= 0 else "not acknowledged",
    )
