"""NoticeService: a node pulls its correction notices and acknowledges them
(``gateway.flows.notice_delivery``); the wire form of a record's notices for its trace."""

from __future__ import annotations

from grpc import aio

from gateway.core.caller import current_caller
from gateway.flows.notice_delivery import DeliveredNotice, NoticeDelivery
from gateway.flows.notice_trace import NoticeTrace
from gateway.flows.runtime import Runtime, new_trace_id
from xinlian.v1 import audit_pb2, notices_pb2_grpc
from xinlian.v1 import notices_pb2 as pb
from xinlian.wire import ts

DEFAULT_PULL = 100


def notice_to_wire(notice: DeliveredNotice) -> pb.Notice:
    return pb.Notice(
        notice_id=notice.notice_id,
        source_node_id=notice.source_node_id,
        record_id=notice.record_id,
        credit_code=notice.credit_code,
        category=notice.category,
        old_version=notice.old_version,
        new_version=notice.new_version or 0,
        reason=notice.reason,
        changed_fields=list(notice.changed_fields),
        values=[pb.NoticeField(name=f.name, value=f.value, mask=f.mask) for f in notice.values],
        values_withheld=notice.values_withheld,
        grant_id=notice.grant_id or "",
        created_at=ts(notice.created_at),
        ledger_index=notice.ledger_index,
    )


def notice_trace_to_wire(notice: NoticeTrace) -> audit_pb2.NoticeTrace:
    return audit_pb2.NoticeTrace(
        notice_id=notice.notice_id,
        node_id=notice.node_id,
        record_id=notice.record_id,
        old_version=notice.old_version,
        new_version=notice.new_version or 0,
        reason=notice.reason,
        changed_fields=list(notice.changed_fields),
        created_at=ts(notice.created_at),
        ledger_index=notice.ledger_index,
        ack_ledger_index=(notice.ack_ledger_index if notice.ack_ledger_index is not None else -1),
    )


class NoticeServicer(notices_pb2_grpc.NoticeServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.delivery = NoticeDelivery(rt)

    async def PullNotices(
        self, request: pb.PullNoticesRequest, context: aio.ServicerContext
    ) -> pb.PullNoticesResponse:
        caller = current_caller()
        notices = await self.delivery.pull(caller, request.after, request.max or DEFAULT_PULL)
        return pb.PullNoticesResponse(
            notices=[notice_to_wire(n) for n in notices],
            next_after=notices[-1].notice_id if notices else 0,
        )

    async def AckNotices(
        self, request: pb.AckNoticesRequest, context: aio.ServicerContext
    ) -> pb.AckNoticesResponse:
        caller = current_caller()
        result = await self.delivery.ack(caller, list(request.notice_ids), new_trace_id())
        return pb.AckNoticesResponse(
            acked=list(result.acked),
            already_acked=list(result.already_acked),
            unknown=list(result.unknown),
            ledger_indexes=list(result.ledger_indexes),
        )
