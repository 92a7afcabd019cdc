"""A real gateway on loopback (in-process, own event loop thread) and enrolled nodes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gateway.flows.runtime import Runtime
from gateway.host.assemble import build_runtime
from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from gateway.host.server import RunningGateway, start
from node_agent import enroll as enrollment
from xinlian.clock import Clock
from xinlian.identity import Identity
from xinlian.v1 import registry_pb2, registry_pb2_grpc


class LoopThread:
    """An asyncio loop in a daemon thread, for running the aio server beside sync tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 60):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Gateway:
    home: Path
    config: GatewayConfig
    runtime: Runtime
    running: RunningGateway
    loop: LoopThread
    tmp: Path
    _counter: int = field(default=0)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.running.port}"

    @property
    def enroll_address(self) -> str:
        return f"127.0.0.1:{self.running.enroll_port}"

    @property
    def ca_pem(self) -> bytes:
        return self.config.ca_cert.read_bytes()

    def admin(self) -> Identity:
        return Identity.load(self.config.admin_identity, gateway=self.address)

    def admin_stub(self) -> registry_pb2_grpc.RegistryServiceStub:
        return registry_pb2_grpc.RegistryServiceStub(self.admin().channel())

    def admit(self, node_id: str) -> str:
        response = self.admin_stub().AdmitNode(
            registry_pb2.AdmitNodeRequest(
                node_id=node_id,
                security_assessment="等保二级测评通过",
                authorization_assessment="授权管理制度齐备",
                notes="test",
            ),
            timeout=30,
        )
        return str(response.enrollment_token)

    def enroll_node(
        self, kind: str, node_id: str | None = None, categories: tuple[str, ...] = ()
    ) -> Identity:
        """Apply, admit and enroll a node; returns its identity (pointing at this gateway)."""
        self._counter += 1
        node_id = node_id or f"{kind.replace('_', '-')}-{self._counter}"
        enrollment.apply(
            self.enroll_address,
            self.ca_pem,
            name=f"测试节点 {node_id}",
            kind=kind,
            region="350100",
            categories=list(categories),
            requested_id=node_id,
        )
        token = self.admit(node_id)
        out = self.tmp / "nodes" / node_id
        enrollment.enroll(self.enroll_address, token, self.ca_pem, out)
        return Identity.load(out, gateway=self.address)

    def stop(self) -> None:
        self.loop.run(self.running.stop(grace=1))
        self.loop.close()


@contextmanager
def running_gateway(
    tmp: Path, db_url: str | None = None, clock: Clock | None = None
) -> Iterator[Gateway]:
    """``clock``: e.g. a FakeClock, to move the gateway's time (grant expiry)."""
    home = tmp / "gateway"
    config = init_home(home, db_url=db_url)
    loop = LoopThread()
    runtime = build_runtime(config, clock)
    running = loop.run(start(runtime, "127.0.0.1:0", "127.0.0.1:0"))
    gw = Gateway(home, config, runtime, running, loop, tmp)
    try:
        yield gw
    finally:
        gw.stop()
