"""Readiness follows the store, the committer and the checkpointer: /readyz and the
gRPC health of every service fall when PostgreSQL stops and recover when it is back;
a checkpointer task that dies makes the gateway not ready, and is logged once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ops.conftest import http_get, ops_gateway
from support.harness import Gateway
from support.postgres import Cluster, private_cluster_fixture

from gateway.host.server import SERVICE_NAMES

pytestmark = pytest.mark.integration

WAIT_S = 20.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _health(gw: Gateway) -> dict[str, int | str]:
    """The gRPC health of every service as a client sees it. The call passes the chain,
    whose authentication reads the registry: with the store down it may fail as
    UNAVAILABLE before the health service answers (a probe fails either way)."""
    out: dict[str, int | str] = {}
    with gw.admin().channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for name in (*SERVICE_NAMES, ""):
            try:
                out[name] = stub.Check(
                    health_pb2.HealthCheckRequest(service=name), timeout=5
                ).status
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
                out[name] = "UNAVAILABLE"
    return out


def _ready(gw: Gateway) -> tuple[int, str]:
    return http_get(gw.running.ops_port, "/readyz")


pg_cluster = private_cluster_fixture()


@pytest.mark.postgres
def test_readiness_falls_and_recovers_with_the_store(tmp_path: Path, pg_cluster: Cluster) -> None:
    with ops_gateway(tmp_path, pg_cluster.create_database()) as gw:
        assert _ready(gw) == (200, "ready\n")
        assert set(_health(gw).values()) == {SERVING}

        pg_cluster.stop("immediate")
        try:
            _until(lambda: _ready(gw)[0] == 503, "readiness to fall")
            assert "store" in _ready(gw)[1]
            assert http_get(gw.running.ops_port, "/healthz") == (200, "ok\n")  # still alive
            _until(lambda: gw.running.monitor.serving is False, "gRPC health NOT_SERVING")
            assert set(_health(gw).values()) <= {NOT_SERVING, "UNAVAILABLE"}
        finally:
            pg_cluster.start()
        _until(lambda: _ready(gw) == (200, "ready\n"), "readiness to recover")
        _until(lambda: set(_health(gw).values()) == {SERVING}, "gRPC SERVING again")


def test_dead_checkpointer_fails_readiness(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ops_gateway(tmp_path) as gw, caplog.at_level(logging.ERROR, "xinlian.health"):
        assert _ready(gw)[0] == 200
        checkpointer = next(t for t in gw.running.background if t.get_name() == "checkpointer")
        gw.loop.loop.call_soon_threadsafe(checkpointer.cancel)
        _until(lambda: _ready(gw)[0] == 503, "readiness to fall")
        assert _ready(gw) == (503, "not ready: checkpointer\n")
        _until(lambda: _health(gw)[""] == NOT_SERVING, "gRPC NOT_SERVING")
        stopped = [
            r.getMessage() for r in caplog.records if "checkpointer stopped" in r.getMessage()
        ]
        assert stopped == [
            "background task checkpointer stopped (cancelled): the gateway is not ready"
        ]


def test_health_refuses_nothing_while_ready(tmp_path: Path) -> None:
    """An unknown service name is NOT_FOUND, as the gRPC health protocol says."""
    with ops_gateway(tmp_path) as gw, gw.admin().channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
