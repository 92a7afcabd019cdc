"""RepairService: credit repair and removal (gateway.flows.repairs) and enterprises'
applications for repair (gateway.flows.repair_applications)."""

from __future__ import annotations

from grpc import aio

from authz import credit_code as uscc
from authz.repair_statements import RepairApplication, RepairStatement
from gateway.core import validate
from gateway.core.caller import current_caller
from gateway.flows.repair_applications import (
    apply_for_repair,
    list_applications,
    refuse_application,
)
from gateway.flows.repairs import Application, RecordedRepair, list_repairs, record_repair
from gateway.flows.runtime import Runtime, new_trace_id
from xinlian import limits
from xinlian.v1 import repairs_pb2 as pb
from xinlian.v1 import repairs_pb2_grpc
from xinlian.wire import ts


def repair_to_wire(repair: RecordedRepair) -> pb.Repair:
    return pb.Repair(
        repair_id=repair.repair_id,
        kind=repair.kind,
        credit_code=repair.credit_code,
        source_node_id=repair.source_node_id,
        record_id=repair.record_id,
        version=repair.version,
        category=repair.category,
        basis=repair.basis,
        signer_node_id=repair.signer_node_id,
        signer_kind=repair.signer_kind,
        application_id=repair.application_id or "",
        recorded_at=ts(repair.recorded_at),
        ledger_index=repair.ledger_index,
    )


def application_to_wire(application: Application) -> pb.RepairApplicationView:
    return pb.RepairApplicationView(
        application_id=application.application_id,
        credit_code=application.credit_code,
        source_node_id=application.source_node_id,
        record_id=application.record_id,
        category=application.category,
        reason=application.reason,
        platform_node_id=application.platform_node_id,
        filed_at=ts(application.filed_at),
        state=application.state,
        answered_by=application.answered_by or "",
        answer_reason=application.answer_reason or "",
        repair_id=application.repair_id or "",
    )


class RepairServicer(repairs_pb2_grpc.RepairServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def RecordRepair(
        self, request: pb.RecordRepairRequest, context: aio.ServicerContext
    ) -> pb.RecordRepairResponse:
        caller = current_caller()
        statement = RepairStatement.from_canonical(bytes(request.statement))
        repair = await self.rt.commit(
            record_repair(
                caller,
                statement,
                bytes(request.signature),
                self.rt.catalog,
                self.rt.clock.now(),
                new_trace_id(),
            )
        )
        return pb.RecordRepairResponse(repair=repair_to_wire(repair), notices=repair.notices)

    async def ApplyForRepair(
        self, request: pb.ApplyForRepairRequest, context: aio.ServicerContext
    ) -> pb.ApplyForRepairResponse:
        caller = current_caller()
        statement = RepairApplication.from_canonical(bytes(request.statement))
        application, index = await self.rt.commit(
            apply_for_repair(
                caller,
                statement,
                bytes(request.signature),
                self.rt.catalog,
                self.rt.clock.now(),
                new_trace_id(),
            )
        )
        return pb.ApplyForRepairResponse(
            application=application_to_wire(application), ledger_index=index
        )

    async def RefuseRepairApplication(
        self, request: pb.RefuseRepairApplicationRequest, context: aio.ServicerContext
    ) -> pb.RefuseRepairApplicationResponse:
        caller = current_caller()
        application_id = validate.identifier(
            "application_id", request.application_id, max_len=limits.MAX_GRANT_ID_LEN
        )
        application, index = await self.rt.commit(
            refuse_application(
                caller, application_id, request.reason, self.rt.clock.now(), new_trace_id()
            )
        )
        return pb.RefuseRepairApplicationResponse(
            application=application_to_wire(application), ledger_index=index
        )

    async def ListRepairs(
        self, request: pb.ListRepairsRequest, context: aio.ServicerContext
    ) -> pb.ListRepairsResponse:
        caller = current_caller()
        code = request.credit_code
        if code:
            uscc.validate(code)
        repairs = await self.rt.read(lambda conn: list_repairs(conn, caller, code))
        return pb.ListRepairsResponse(repairs=[repair_to_wire(r) for r in repairs])

    async def ListRepairApplications(
        self, request: pb.ListRepairApplicationsRequest, context: aio.ServicerContext
    ) -> pb.ListRepairApplicationsResponse:
        caller = current_caller()
        state = request.state
        applications = await self.rt.read(lambda conn: list_applications(conn, caller, state))
        return pb.ListRepairApplicationsResponse(
            applications=[application_to_wire(a) for a in applications]
        )
