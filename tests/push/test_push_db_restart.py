"""PostgreSQL restarts (immediate mode: like a crash) between and during pushes:
acknowledged records survive, and the agent's next push succeeds once the database is
back (the gateway's pool reconnects)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.harness import Gateway, running_gateway
from support.postgres import Cluster, private_cluster_fixture

from authz.catalog import Catalog
from gateway.store import schema
from node_agent.push import Pusher, PushFailed, PushProgress, state_path_for
from xinlian_samples.generator import generate_enterprises, generate_records, write_jsonl

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

SPEC = Catalog.default().categories["housing_fund"]


pg_cluster = private_cluster_fixture()


@pytest.fixture
def pg_gateway(tmp_path: Path, pg_cluster: Cluster) -> Iterator[Gateway]:
    with running_gateway(tmp_path, pg_cluster.create_database()) as gw:
        yield gw


def _file(tmp_path: Path, name: str, seed: int, enterprises: int, per: int) -> Path:
    path = tmp_path / name
    write_jsonl(
        [
            r
            for e in generate_enterprises(enterprises, seed)
            for r in generate_records(e, SPEC, per, seed)
        ],
        path,
    )
    return path


def _keys(gw: Gateway) -> list[tuple[str, int]]:
    r = schema.records
    return gw.runtime.store.read(
        lambda conn: [
            (row[0], int(row[1])) for row in conn.execute(sa.select(r.c.record_id, r.c.version))
        ]
    )


def test_acknowledged_records_survive_and_push_resumes(
    tmp_path: Path, pg_cluster: Cluster, pg_gateway: Gateway
) -> None:
    dept = pg_gateway.enroll_node("department", "hf-dept", categories=("housing_fund",))
    first = _file(tmp_path, "first.jsonl", 1, 20, 10)
    summary = Pusher(dept).push_file(first, "housing_fund", batch_size=50)
    assert summary.accepted == 200

    # (1) between pushes
    pg_cluster.restart("immediate")
    assert len(set(_keys(pg_gateway))) == 200
    second = _file(tmp_path, "second.jsonl", 2, 20, 10)
    assert Pusher(dept).push_file(second, "housing_fund", batch_size=50).accepted == 200

    # (2) during a push: the stream may fail; what was acknowledged is kept; resume works
    third = _file(tmp_path, "third.jsonl", 3, 40, 10)
    restarted = False

    def restart_midway(report: PushProgress) -> None:
        nonlocal restarted
        if report.batches_done == 2 and not restarted:
            restarted = True
            pg_cluster.restart("immediate")

    try:
        Pusher(dept, window=2).push_file(
            third, "housing_fund", batch_size=20, progress=restart_midway
        )
    except PushFailed as exc:
        assert exc.code == "UNAVAILABLE", exc
    assert restarted
    acked = json.loads(state_path_for(third).read_text())["acked"]
    assert len(acked) >= 2
    stored = set(_keys(pg_gateway))
    third_keys = [(json.loads(line)["record_id"], 1) for line in third.read_text().splitlines()]
    for batch in acked:
        assert set(third_keys[batch * 20 : (batch + 1) * 20]) <= stored

    final = Pusher(dept).push_file(third, "housing_fund", batch_size=20)
    assert final.rejected == 0
    keys = _keys(pg_gateway)
    assert len(keys) == len(set(keys)) == 800
