"""Gateway processes (``xinlian gateway serve``) for multi-process and crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from node_agent.identity import Identity
from support.postgres import free_port

START_TIMEOUT_S = 30.0


@dataclass
class GatewayProcess:
    home: Path
    port: int = field(default_factory=free_port)
    enroll_port: int = field(default_factory=free_port)
    db_url: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def enroll_address(self) -> str:
        return f"127.0.0.1:{self.enroll_port}"

    def start(self) -> GatewayProcess:
        env = dict(os.environ)
        if self.db_url:
            env["XINLIAN_DB_URL"] = self.db_url
        log = open(self.home / f"serve-{self.port}.log", "ab")  # noqa: SIM115
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
                raise RuntimeError(f"gateway exited with {self.proc.returncode}")
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

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush — a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
