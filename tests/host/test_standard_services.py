"""Health says SERVING; reflection lists the xinlian.v1 services; errors leak nothing."""

from __future__ import annotations

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from support.harness import Gateway, LoopThread

from gateway.edge.chain import ChainInterceptor
from gateway.edge.gate import NodeGate, RegistryView

pytestmark = pytest.mark.integration


def test_health_reports_serving(gateway: Gateway) -> None:
    node = gateway.enroll_node("institution")
    with node.channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        overall = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        exchange = stub.Check(
            health_pb2.HealthCheckRequest(service="xinlian.v1.ExchangeService"), timeout=10
        )
    assert overall.status == health_pb2.HealthCheckResponse.SERVING
    assert exchange.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_xinlian_services(gateway: Gateway) -> None:
    node = gateway.enroll_node("institution")
    with node.channel() as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
        )
        names = {s.name for r in responses for s in r.list_services_response.service}
    assert {
        "xinlian.v1.RegistryService",
        "xinlian.v1.CatalogService",
        "xinlian.v1.ExchangeService",
        "xinlian.v1.AuthorizationService",
        "xinlian.v1.AuditService",
    } <= names


def test_unexpected_exception_never_leaks_internals() -> None:
    """A handler bug becomes INTERNAL with a request id, never the exception text."""
    secret = "password=hunter2 at /srv/xinlian/db"

    async def boom(request: bytes, context: aio.ServicerContext) -> bytes:
        raise RuntimeError(secret)

    handler = grpc.method_handlers_generic_handler(
        "xinlian.v1.RegistryService",  # Apply is a bootstrap method: no certificate needed
        {"Apply": grpc.unary_unary_rpc_method_handler(boom)},
    )
    loop = LoopThread()

    async def start() -> tuple[aio.Server, int]:
        gate = NodeGate(lambda n, f: RegistryView(node_found=False), lambda: None)  # type: ignore[arg-type,return-value]
        server = aio.server(interceptors=[ChainInterceptor(gate)])
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = loop.run(start())
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/xinlian.v1.RegistryService/Apply")
            with pytest.raises(grpc.RpcError) as err:
                call(b"", timeout=10)
        assert err.value.code() == grpc.StatusCode.INTERNAL
        assert "hunter2" not in (err.value.details() or "")
        assert "request id" in (err.value.details() or "")
    finally:
        loop.run(server.stop(0))
        loop.close()


def test_method_without_access_rule_is_refused() -> None:
    async def ok(request: bytes, context: aio.ServicerContext) -> bytes:
        return b""

    handler = grpc.method_handlers_generic_handler(
        "xinlian.v1.Unlisted", {"Do": grpc.unary_unary_rpc_method_handler(ok)}
    )
    loop = LoopThread()

    async def start() -> tuple[aio.Server, int]:
        gate = NodeGate(lambda n, f: RegistryView(node_found=False), lambda: None)  # type: ignore[arg-type,return-value]
        server = aio.server(interceptors=[ChainInterceptor(gate)])
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = loop.run(start())
    try:
        with (
            grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
            pytest.raises(grpc.RpcError) as err,
        ):
            channel.unary_unary("/xinlian.v1.Unlisted/Do")(b"", timeout=10)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        loop.run(server.stop(0))
        loop.close()
