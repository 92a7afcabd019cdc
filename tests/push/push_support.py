"""A gateway in its own process (``xinlian gateway serve``), for crash tests and benchmarks.

Not a test module: imported by tests/push/test_push_crash.py and bench/bench_push.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.config import GatewayConfig
from gateway.home import init_home
from node_agent import enroll as enrollment
from node_agent.identity import Identity
from xinlian.v1 import registry_pb2, registry_pb2_grpc

READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class GatewayProcess:
    home: Path
    config: GatewayConfig
    port: int
    enroll_port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    workers: int = 1  # ``serve --workers N``: a pool process and N worker processes
    identities: dict[str, Identity] = field(default_factory=dict)

    @classmethod
    def create(cls, base: Path, db_url: str | None = None, workers: int = 1) -> GatewayProcess:
        home = base / "gateway"
        config = init_home(home, db_url=db_url)
        return cls(home, config, free_port(), free_port(), base / "gateway.log", workers=workers)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def enroll_address(self) -> str:
        return f"127.0.0.1:{self.enroll_port}"

    def start(self) -> None:
        env = dict(os.environ)
        env.pop("XINLIAN_DB_URL", None)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "xinlian.cli",
                    "gateway",
                    "serve",
                    "--home",
                    str(self.home),
                    "--listen",
                    self.address,
                    "--enroll-listen",
                    self.enroll_address,
                    "--log-level",
                    "WARNING",
                    "--workers",
                    str(self.workers),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.wait_ready()

    def wait_ready(self) -> None:
        admin = Identity.load(self.config.admin_identity, gateway=self.address)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log.read_text(errors='replace')}")
            try:
                with admin.channel() as channel:
                    reply = health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(service=""), timeout=2
                    )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("gateway did not become ready")
            time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        """The processes serving the port: the workers of a pool, else the one process."""
        assert self.proc is not None
        if self.workers == 1:
            return [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def kill(self) -> None:
        """SIGKILL (the workers of a pool first): no shutdown of any kind."""
        if self.proc is not None and self.proc.poll() is None:
            if self.workers > 1:
                for pid in self.worker_pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def enroll(self, kind: str, node_id: str, categories: tuple[str, ...] = ()) -> Identity:
        ca = self.config.ca_cert.read_bytes()
        enrollment.apply(
            self.enroll_address,
            ca,
            name=f"测试 {node_id}",
            kind=kind,
            region="350100",
            categories=list(categories),
            requested_id=node_id,
        )
        admin = Identity.load(self.config.admin_identity, gateway=self.address)
        with admin.channel() as channel:
            token = (
                registry_pb2_grpc.RegistryServiceStub(channel)
                .AdmitNode(
                    registry_pb2.AdmitNodeRequest(
                        node_id=node_id,
                        security_assessment="测评通过",
                        authorization_assessment="制度齐备",
                    ),
                    timeout=30,
                )
                .enrollment_token
            )
        out = self.home.parent / "nodes" / node_id
        enrollment.enroll(self.enroll_address, token, ca, out)
        identity = Identity.load(out, gateway=self.address)
        self.identities[node_id] = identity
        return identity
