"""An in-process gateway with its ops port (``gateway.host.ops``) on loopback, and a
plain-HTTP GET for its /healthz, /readyz and /metrics."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.harness import Gateway, LoopThread

from gateway.host.assemble import build_runtime
from gateway.host.home import init_home
from gateway.host.server import start
from xinlian.clock import Clock

HTTP_TIMEOUT_S = 10.0


def http_get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8")
    finally:
        conn.close()


def series(text: str, name: str, **labels: str) -> list[float]:
    """The values of the Prometheus series ``name`` whose labels include ``labels``."""
    values = []
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            values.append(float(match.group(4)))
    return values


def grown(before: str, after: str, name: str, **labels: str) -> float:
    """How much the (summed) series grew between two scrapes: the metrics of a process
    are cumulative over every gateway a test session started in it."""
    return sum(series(after, name, **labels)) - sum(series(before, name, **labels))


@contextmanager
def ops_gateway(
    tmp: Path, db_url: str | None = None, clock: Clock | None = None
) -> Iterator[Gateway]:
    """``support.harness.running_gateway`` with the ops port on 127.0.0.1 (port chosen
    by the OS: ``gw.running.ops_port``)."""
    home = tmp / "gateway"
    config = init_home(home, db_url=db_url)
    loop = LoopThread()
    runtime = build_runtime(config, clock)
    running = loop.run(start(runtime, "127.0.0.1:0", "127.0.0.1:0", ops_listen="127.0.0.1:0"))
    gw = Gateway(home, config, runtime, running, loop, tmp)
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def ops_gw(tmp_path: Path, db_url: str) -> Iterator[Gateway]:
    with ops_gateway(tmp_path, db_url) as gw:
        yield gw
