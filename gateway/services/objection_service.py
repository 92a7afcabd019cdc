"""ObjectionService: objections to stored records and administrators' freezes
(gateway.flows.objections); the wire conversions of objections live here."""

from __future__ import annotations

from datetime import datetime

from grpc import aio

from authz.objections import Objection, ObjectionState
from gateway.core.caller import current_caller
from gateway.core.metrics import objections
from gateway.flows.objections import (
    answer_objection,
    file_objection,
    get_objection,
    list_for,
    set_freeze,
)
from gateway.flows.runtime import Runtime, checked_trace_id
from gateway.store.objections_store import StoredObjection
from xinlian.errors import InvalidArgument
from xinlian.v1 import objections_pb2 as pb
from xinlian.v1 import objections_pb2_grpc
from xinlian.wire import from_ts, objection_to_wire, ts

STATE_TO_WIRE: dict[ObjectionState, pb.ObjectionState] = {
    ObjectionState.OPEN: pb.OBJECTION_STATE_OPEN,
    ObjectionState.UPHELD: pb.OBJECTION_STATE_UPHELD,
    ObjectionState.CORRECTED: pb.OBJECTION_STATE_CORRECTED,
    ObjectionState.WITHDRAWN: pb.OBJECTION_STATE_WITHDRAWN,
    ObjectionState.UNCONFIRMABLE: pb.OBJECTION_STATE_UNCONFIRMABLE,
}
STATE_FROM_WIRE = {v: k for k, v in STATE_TO_WIRE.items()}


def state_from_wire(value: int, *, field_name: str) -> ObjectionState:
    state: ObjectionState | None = STATE_FROM_WIRE.get(value)  # type: ignore[call-overload]
    if state is None:
        raise InvalidArgument.field(field_name, value, "an OBJECTION_STATE_* value")
    return state


def statement_from_wire(msg: pb.ObjectionStatement) -> Objection:
    """A wire statement as a domain value; checks every field."""
    return Objection(
        objection_id=msg.objection_id,
        credit_code=msg.credit_code,
        source_node_id=msg.source_node_id,
        record_id=msg.record_id,
        version=msg.version,
        fields=tuple(msg.fields),
        claim=msg.claim,
        evidence_sha256=tuple(msg.evidence_sha256),
        issued_at=from_ts(msg.issued_at, field_name="statement.issued_at"),
    )


def view_to_wire(stored: StoredObjection, now: datetime) -> pb.ObjectionView:
    statement = Objection.from_canonical(stored.statement)
    return pb.ObjectionView(
        statement=objection_to_wire(statement.to_canonical_dict()),
        category=stored.category,
        state=STATE_TO_WIRE[stored.state],
        platform_node_id=stored.platform_node_id,
        received_at=ts(stored.platform_received_at),
        filed_at=ts(stored.filed_at),
        forward_due=ts(stored.forward_due),
        forwarded_late=stored.forwarded_late,
        answer_due=ts(stored.answer_due),
        overdue=stored.overdue_at(now),
        answer_reason=stored.answer_reason,
        corrected_version=stored.corrected_version or 0,
        answered_at=ts(stored.answered_at),
        answered_by=stored.answered_by or "",
    )


class ObjectionServicer(objections_pb2_grpc.ObjectionServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @staticmethod
    def _trace_id(value: str) -> str:
        return checked_trace_id(value)

    async def FileObjection(
        self, request: pb.FileObjectionRequest, context: aio.ServicerContext
    ) -> pb.FileObjectionResponse:
        caller = current_caller()
        now = self.rt.clock.now()
        statement = statement_from_wire(request.statement)
        stored, index = await self.rt.commit(
            file_objection(
                caller,
                statement,
                bytes(request.signature),
                from_ts(request.received_at, field_name="received_at"),
                bytes(request.countersignature),
                self.rt.catalog,
                self.rt.calendar,
                now,
                self._trace_id(request.trace_id),
            )
        )
        self.rt.authz_caches.invalidate_enterprise(statement.credit_code)
        late = "true" if stored.forwarded_late else "false"
        objections.add(1, {"category": stored.category, "event": "filed", "late": late})
        return pb.FileObjectionResponse(objection=view_to_wire(stored, now), ledger_index=index)

    async def ListObjections(
        self, request: pb.ListObjectionsRequest, context: aio.ServicerContext
    ) -> pb.ListObjectionsResponse:
        caller = current_caller()
        now = self.rt.clock.now()
        state = (
            state_from_wire(request.state, field_name="state")
            if request.state != pb.OBJECTION_STATE_UNSPECIFIED
            else None
        )
        found = await self.rt.read(
            lambda conn: list_for(
                conn,
                caller,
                now=now,
                credit_code=request.credit_code,
                state=state,
                overdue_only=request.overdue_only,
            )
        )
        return pb.ListObjectionsResponse(objections=[view_to_wire(o, now) for o in found])

    async def GetObjection(
        self, request: pb.GetObjectionRequest, context: aio.ServicerContext
    ) -> pb.GetObjectionResponse:
        caller = current_caller()
        stored = await self.rt.read(lambda conn: get_objection(conn, caller, request.objection_id))
        return pb.GetObjectionResponse(objection=view_to_wire(stored, self.rt.clock.now()))

    async def AnswerObjection(
        self, request: pb.AnswerObjectionRequest, context: aio.ServicerContext
    ) -> pb.AnswerObjectionResponse:
        caller = current_caller()
        now = self.rt.clock.now()
        stored, index = await self.rt.commit(
            answer_objection(
                caller,
                request.objection_id,
                state_from_wire(request.answer, field_name="answer"),
                request.reason,
                request.corrected_version or None,
                now,
                self._trace_id(request.trace_id),
            )
        )
        self.rt.authz_caches.invalidate_enterprise(stored.credit_code)
        late = "true" if stored.answered_at and stored.answered_at > stored.answer_due else "false"
        objections.add(1, {"category": stored.category, "event": stored.state.value, "late": late})
        return pb.AnswerObjectionResponse(objection=view_to_wire(stored, now), ledger_index=index)

    async def FreezeEnterprise(
        self, request: pb.FreezeEnterpriseRequest, context: aio.ServicerContext
    ) -> pb.FreezeEnterpriseResponse:
        caller = current_caller()
        index = await self.rt.commit(
            set_freeze(
                caller,
                request.credit_code,
                request.frozen,
                request.reason,
                self.rt.clock.now(),
                self._trace_id(request.trace_id),
            )
        )
        self.rt.authz_caches.invalidate_enterprise(request.credit_code)
        return pb.FreezeEnterpriseResponse(ledger_index=index)
