"""Two gateway replicas on one PostgreSQL behind a load balancer (a TCP proxy of this
test, round robin over connections): one node pushes, another queries, and each
replica's /metrics shows the series of what it served."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from ops.conftest import http_get, series
from support.authz_helpers import seed_records
from support.processes import GatewayProcess

from authz.catalog import Catalog
from gateway.host.home import init_home
from gateway.store.db import Store
from node_agent.push import Pusher
from node_agent.query import QueryClient
from xinlian.identity import Identity
from xinlian_samples.generator import generate_enterprises, generate_records, write_jsonl

pytestmark = [pytest.mark.postgres, pytest.mark.integration, pytest.mark.slow]

SPEC = Catalog.default().categories["housing_fund"]
COPY_CHUNK = 65536


class RoundRobinProxy:
    """A TCP proxy on 127.0.0.1 that hands each new connection to the next backend."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.chosen: list[int] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self.loop
        ).result(10)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend = self.backends[len(self.chosen) % len(self.backends)]
        self.chosen.append(backend)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", backend)
        await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(COPY_CHUNK):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@pytest.fixture
def replicas(tmp_path: Path, pg_url: str) -> Iterator[list[GatewayProcess]]:
    config = init_home(tmp_path / "gw", db_url=pg_url)
    store = Store(config.database_url)
    seed_records(store)
    store.close()
    started: list[GatewayProcess] = []
    try:
        for _ in range(2):
            started.append(GatewayProcess(config.home, db_url=pg_url).start())
        yield started
    finally:
        for gw in started:
            gw.stop()


def test_push_and_query_through_proxy(tmp_path: Path, replicas: list[GatewayProcess]) -> None:
    a, b = replicas
    dept_dir, bank_dir = tmp_path / "dept", tmp_path / "bank"
    a.enroll("department", "hf-dept", categories=("housing_fund",), out=dept_dir)
    a.enroll("institution", "bank-a", out=bank_dir)
    proxy = RoundRobinProxy([a.port, b.port])
    try:
        address = f"127.0.0.1:{proxy.port}"
        enterprises = generate_enterprises(2, 11)
        path = tmp_path / "records.jsonl"
        write_jsonl([r for e in enterprises for r in generate_records(e, SPEC, 3, 11)], path)
        # connection 1 → replica a: the department's push
        dept = Identity.load(dept_dir, gateway=address)
        assert Pusher(dept).push_file(path, "housing_fund", batch_size=3).accepted == 6
        # connection 2 → replica b: the bank's query
        with QueryClient(Identity.load(bank_dir, gateway=address)) as bank:
            result = bank.query(enterprises[0].credit_code, categories=["housing_fund"])
        assert not result.categories[0].allowed
    finally:
        proxy.close()
    assert proxy.chosen[:2] == [a.port, b.port]

    on_a = http_get(a.ops_port, "/metrics")[1]
    on_b = http_get(b.ops_port, "/metrics")[1]
    pushed = {"category": "housing_fund", "department": "hf-dept", "outcome": "accepted"}
    assert series(on_a, "xinlian_push_records_total", **pushed) == [6.0]
    assert series(on_b, "xinlian_push_records_total", **pushed) == []
    decided = {"category": "housing_fund", "outcome": "denied"}
    assert series(on_b, "xinlian_query_decisions_total", **decided) == [1.0]
    assert series(on_a, "xinlian_query_decisions_total", **decided) == []
    for text in (on_a, on_b):
        assert series(text, "xinlian_ready") == [1.0]
        assert series(text, "xinlian_ledger_size")[0] >= 1
