"""RegistryService: applications, enrollment, access review."""

from __future__ import annotations

from grpc import aio

from gateway.core import validate
from gateway.core.caller import current_caller
from gateway.flows.registry import Application, list_nodes, require_node
from gateway.flows.runtime import Runtime, new_trace_id
from gateway.services.convert import kind_from_wire, node_to_wire, state_from_wire
from xinlian import limits
from xinlian.v1 import registry_pb2 as pb
from xinlian.v1 import registry_pb2_grpc
from xinlian.wire import ts


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def Apply(
        self, request: pb.ApplyRequest, context: aio.ServicerContext
    ) -> pb.ApplyResponse:
        app = Application(
            name=request.name,
            kind=kind_from_wire(request.kind) or "",
            region=request.region,
            categories=tuple(request.categories),
            contact=request.contact,
            requested_id=request.requested_id,
        )
        node = await self.rt.commit(self.rt.registry.apply(app, new_trace_id()))
        return pb.ApplyResponse(node=node_to_wire(node))

    async def Enroll(
        self, request: pb.EnrollRequest, context: aio.ServicerContext
    ) -> pb.EnrollResponse:
        issued = await self.rt.commit(
            self.rt.registry.enroll(request.token, request.csr_pem, new_trace_id())
        )
        address, server_name = self.rt.config.advertised(*self.rt.served)
        return pb.EnrollResponse(
            node=node_to_wire(issued.node),
            certificate_pem=issued.certificate_pem.decode(),
            ca_certificate_pem=self.rt.config.ca_cert.read_text(),
            not_after=ts(issued.not_after),
            gateway_address=address,
            tls_server_name=server_name,
        )

    async def RenewCertificate(
        self, request: pb.RenewCertificateRequest, context: aio.ServicerContext
    ) -> pb.RenewCertificateResponse:
        caller = current_caller()
        issued = await self.rt.commit(
            self.rt.registry.renew(caller, request.csr_pem, new_trace_id())
        )
        return pb.RenewCertificateResponse(
            certificate_pem=issued.certificate_pem.decode(), not_after=ts(issued.not_after)
        )

    async def GetSelf(
        self, request: pb.GetSelfRequest, context: aio.ServicerContext
    ) -> pb.GetSelfResponse:
        caller = current_caller()
        node = await self.rt.read(lambda conn: require_node(conn, caller.node_id))
        return pb.GetSelfResponse(node=node_to_wire(node), certificate_serial=caller.serial)

    async def ListNodes(
        self, request: pb.ListNodesRequest, context: aio.ServicerContext
    ) -> pb.ListNodesResponse:
        state = state_from_wire(request.state)
        kind = kind_from_wire(request.kind, optional=True)
        size = validate.page_size(
            request.page_size, default=limits.DEFAULT_PAGE_SIZE, maximum=limits.MAX_PAGE_SIZE
        )
        offset = validate.page_token(request.page_token)
        nodes = await self.rt.read(
            lambda conn: list_nodes(conn, state=state, kind=kind, offset=offset, limit=size + 1)
        )
        more = len(nodes) > size
        return pb.ListNodesResponse(
            nodes=[node_to_wire(n) for n in nodes[:size]],
            next_page_token=str(offset + size) if more else "",
        )

    async def AdmitNode(
        self, request: pb.AdmitNodeRequest, context: aio.ServicerContext
    ) -> pb.AdmitNodeResponse:
        admission = await self.rt.commit(
            self.rt.registry.admit(
                current_caller(),
                validate.identifier("node_id", request.node_id, max_len=limits.MAX_NODE_ID_LEN),
                request.security_assessment,
                request.authorization_assessment,
                request.notes,
                new_trace_id(),
            )
        )
        self.rt.gate.invalidate(request.node_id)
        return pb.AdmitNodeResponse(
            node=node_to_wire(admission.node),
            enrollment_token=admission.token,
            token_expires_at=ts(admission.token_expires_at),
        )

    async def _change(self, node_id: str, action: str, reason: str):  # type: ignore[no-untyped-def]
        validate.identifier("node_id", node_id, max_len=limits.MAX_NODE_ID_LEN)
        node = await self.rt.commit(
            self.rt.registry.change_state(current_caller(), node_id, action, reason, new_trace_id())
        )
        self.rt.gate.invalidate(node_id)
        return node_to_wire(node)

    async def SuspendNode(
        self, request: pb.SuspendNodeRequest, context: aio.ServicerContext
    ) -> pb.SuspendNodeResponse:
        return pb.SuspendNodeResponse(
            node=await self._change(request.node_id, "suspend", request.reason)
        )

    async def ReadmitNode(
        self, request: pb.ReadmitNodeRequest, context: aio.ServicerContext
    ) -> pb.ReadmitNodeResponse:
        return pb.ReadmitNodeResponse(
            node=await self._change(request.node_id, "readmit", request.reason)
        )

    async def ExitNode(
        self, request: pb.ExitNodeRequest, context: aio.ServicerContext
    ) -> pb.ExitNodeResponse:
        return pb.ExitNodeResponse(node=await self._change(request.node_id, "exit", request.reason))
