"""Gateway processes (``xinlian gateway serve``) for multi-process, crash and benchmark
runs. One implementation for the tests and the benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from node_agent import enroll as enrollment
from support.postgres import free_port
from xinlian.identity import Identity
from xinlian.v1 import registry_pb2, registry_pb2_grpc

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass
class GatewayProcess:
    """``home`` must already be a gateway home; ``db_url`` (optional) is handed over as
    ``XINLIAN_DB_URL``; ``workers`` > 1 runs ``serve --workers N`` (a pool)."""

    home: Path
    db_url: str | None = None
    workers: int = 1
    port: int = field(default_factory=free_port)
    enroll_port: int = field(default_factory=free_port)
    ops_port: int = field(default_factory=free_port)  # worker i of a pool: ops_port + i
    extra_args: tuple[str, ...] = ()  # more ``serve`` options (e.g. --log-format json)
    proc: subprocess.Popen[bytes] | None = None
    identities: dict[str, Identity] = field(default_factory=dict)

    @classmethod
    def create(cls, base: Path, db_url: str | None = None, workers: int = 1) -> GatewayProcess:
        """Initialize a gateway home under ``base`` (its store at ``db_url``, default
        SQLite) and describe a process for it (not started)."""
        home = base / "gateway"
        init_home(home, db_url=db_url)
        return cls(home, workers=workers)

    @property
    def config(self) -> GatewayConfig:
        return GatewayConfig.load(self.home, db_url=self.db_url)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def enroll_address(self) -> str:
        return f"127.0.0.1:{self.enroll_port}"

    @property
    def log(self) -> Path:
        return self.home / f"serve-{self.port}.log"

    def start(self) -> GatewayProcess:
        env = dict(os.environ)
        env.pop("XINLIAN_DB_URL", None)
        if self.db_url:
            env["XINLIAN_DB_URL"] = self.db_url
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "xinlian_cli.main",
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
                    "--ops-listen",
                    f"127.0.0.1:{self.ops_port}",
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.wait_serving()
        return self

    def wait_serving(self) -> None:
        admin = Identity.load(self.home / "admin", gateway=self.address)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"gateway exited with {self.proc.returncode}: "
                    f"{self.log.read_text(errors='replace')[-2000:]}"
                )
            try:
                with admin.channel() as channel:
                    response = health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(), timeout=2
                    )
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("gateway did not start serving")
            time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        """The processes serving the port: the workers of a pool, else the one process."""
        assert self.proc is not None
        if self.workers == 1:
            return [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def kill(self) -> None:
        """SIGKILL (the workers of a pool first): no shutdown, no flush — a crash."""
        if self.proc is not None and self.proc.poll() is None:
            if self.workers > 1:
                for pid in self.worker_pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()

    def admin(self) -> Identity:
        return Identity.load(self.home / "admin", gateway=self.address)

    def enroll(
        self, kind: str, node_id: str, categories: tuple[str, ...] = (), out: Path | None = None
    ) -> Identity:
        """Apply, admit (as the first administrator) and enroll a node through this
        process; returns its identity pointing at this process."""
        token = self.admit(kind, node_id, categories)
        out = out or self.home.parent / "nodes" / node_id
        enrollment.enroll(self.enroll_address, token, self.ca_pem, out)
        identity = Identity.load(out, gateway=self.address)
        self.identities[node_id] = identity
        return identity

    @property
    def ca_pem(self) -> bytes:
        return (self.home / "ca" / "ca.pem").read_bytes()

    def admit(self, kind: str, node_id: str, categories: tuple[str, ...] = ()) -> str:
        """Apply and admit (as the first administrator) a node through this process;
        returns its one-time enrollment token."""
        ca = self.ca_pem
        enrollment.apply(
            self.enroll_address,
            ca,
            name=f"测试 {node_id}",
            kind=kind,
            region="350100",
            categories=list(categories),
            requested_id=node_id,
        )
        with self.admin().channel() as channel:
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
        return str(token)
