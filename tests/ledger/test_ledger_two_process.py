"""Point 10: two `xinlian gateway serve` processes on one PostgreSQL write one gapless,
consistent ledger (the sequencer row serializes their group commits)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from support.ledger_helpers import checkpoint, verify
from support.processes import GatewayProcess

from gateway.host.home import init_home
from gateway.store import schema
from gateway.store.db import Store
from node_agent import enroll as enrollment
from xinlian.identity import Identity
from xinlian.v1 import registry_pb2, registry_pb2_grpc
from xinlian_cli.main import cli

pytestmark = [pytest.mark.postgres, pytest.mark.integration, pytest.mark.slow]

APPLICATIONS = 40


def test_two_gateways_one_ledger(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = init_home(tmp_path / "gw", db_url=pg_url)
    ca = config.ca_cert.read_bytes()
    gateways = [GatewayProcess(config.home, db_url=pg_url).start() for _ in range(2)]
    try:

        def apply_and_admit(i: int) -> None:
            gw = gateways[i % 2]
            node_id = f"bank-{i}"
            enrollment.apply(
                gw.enroll_address,
                ca,
                name=f"银行 {i}",
                kind="institution",
                region="350100",
                categories=[],
                requested_id=node_id,
            )
            # admitted through the *other* process
            admin = Identity.load(config.admin_identity, gateway=gateways[(i + 1) % 2].address)
            with admin.channel() as channel:
                registry_pb2_grpc.RegistryServiceStub(channel).AdmitNode(
                    registry_pb2.AdmitNodeRequest(
                        node_id=node_id,
                        security_assessment="ok",
                        authorization_assessment="ok",
                        notes="",
                    ),
                    timeout=30,
                )

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(apply_and_admit, range(APPLICATIONS)))
    finally:
        for gw in gateways:
            gw.stop()

    store = Store(pg_url)
    try:
        t = schema.ledger_entries.c
        count, lowest, highest = store.read(
            lambda c: c.execute(select(func.count(), func.min(t.idx), func.max(t.idx))).one()
        )
        # the bootstrap entry, then one application and one admission per node
        assert count == 1 + 2 * APPLICATIONS
        assert (lowest, highest) == (0, count - 1)
        checkpoint(config, store)
        report = verify(config, store)
        assert report.ok, report.problems
        assert report.tree_size == count
    finally:
        store.close()
    monkeypatch.setenv("XINLIAN_DB_URL", pg_url)
    result = CliRunner().invoke(cli, ["audit", "verify", "--home", str(config.home)])
    assert result.exit_code == 0, result.output
