"""`xinlian gateway serve --workers N`: N processes on the same ports (SO_REUSEPORT)
sharing one SQLite store; one consistent ledger; all stopped with the pool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from support.authz_helpers import CODE, seed_records
from support.processes import GatewayProcess

from authz.catalog import Purpose
from gateway.host.home import init_home
from gateway.store.db import Store
from node_agent.query import query_request
from xinlian.v1 import exchange_pb2_grpc

pytestmark = [pytest.mark.integration]

WORKERS = 2
CONNECTIONS = 6


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT pool: Linux")
def test_workers_share_the_port_and_the_ledger(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw")
    store = Store(config.database_url)
    seed_records(store)
    store.close()
    pool = GatewayProcess(config.home, workers=WORKERS).start()
    try:
        assert pool.proc is not None
        workers = _children(pool.proc.pid)
        assert len(workers) == WORKERS
        bank = pool.enroll("institution", "bank-w", out=tmp_path / "bank")
        # several connections (the kernel spreads them over the workers); a public
        # category needs no grant
        indexes: list[int] = []
        request = query_request(CODE, Purpose.FINANCING, ["registration"])
        for i in range(CONNECTIONS):
            options = [*bank.channel_options(), ("xinlian.test.connection", i)]
            with grpc.secure_channel(bank.gateway, bank.credentials(), options) as channel:
                stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
                for _ in range(3):
                    response = stub.Query(request, timeout=10)
                    assert response.categories[0].allowed
                    assert response.categories[0].records
                    indexes.append(response.ledger_index)
        # one ledger: every query has its own index, and the head counts them all
        assert len(set(indexes)) == len(indexes) == 3 * CONNECTIONS
        store = Store(config.database_url)
        try:
            size = store.read(
                lambda conn: conn.exec_driver_sql("SELECT size FROM ledger_head").scalar_one()
            )
        finally:
            store.close()
        assert size > max(indexes)
    finally:
        pool.stop()
    assert pool.proc is not None and pool.proc.returncode == 0
    for pid in workers:  # stopped with the pool
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_workers_need_fixed_ports(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "xinlian_cli.main",
            "gateway",
            "serve",
            "--home",
            str(config.home),
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert result.returncode != 0
    assert "fixed port" in result.stderr
