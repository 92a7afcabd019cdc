"""Acceptance: SIGKILL of the gateway process during a 100,000-record push loses no
acknowledged record; after a restart the agent resumes and the store holds every record
exactly once. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.processes import GatewayProcess

from authz.catalog import Catalog
from gateway.store import schema
from gateway.store.db import make_engine
from node_agent.push import Pusher, PushFailed, PushProgress, read_records, state_path_for
from xinlian_samples.generator import generate_enterprises, generate_records, write_jsonl

pytestmark = [pytest.mark.slow, pytest.mark.integration]

RECORDS = 100_000
PER_ENTERPRISE = 500
BATCH = 1000
KILL_AFTER_BATCHES = 30


def _write_input(path: Path) -> None:
    spec = Catalog.default().categories["utilities"]
    records = [
        r
        for e in generate_enterprises(RECORDS // PER_ENTERPRISE, 2024)
        for r in generate_records(e, spec, PER_ENTERPRISE, 2024)
    ]
    assert write_jsonl(records, path) == RECORDS


def _stored(url: str, node_id: str) -> tuple[int, set[tuple[str, int]], int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            r = schema.records
            keys = conn.execute(
                sa.select(r.c.record_id, r.c.version).where(r.c.source_node_id == node_id)
            ).all()
            batches = conn.execute(sa.select(sa.func.count()).select_from(schema.batches))
            return len(keys), {(k[0], int(k[1])) for k in keys}, int(batches.scalar_one())
    finally:
        engine.dispose()


def test_sigkill_during_push_loses_nothing_acknowledged(tmp_path: Path, db_url: str) -> None:
    gw = GatewayProcess.create(tmp_path, db_url)
    gw.start()
    try:
        dept = gw.enroll("department", "utilities-dept", ("utilities",))
        path = tmp_path / "utilities.jsonl"
        _write_input(path)
        keys = [
            (i.record.record_id, i.record.version)
            for i in read_records(path, "utilities")
            if i.record is not None
        ]
        assert len(set(keys)) == RECORDS
        seen_acked: list[int] = []

        def kill_midway(report: PushProgress) -> None:
            seen_acked[:] = list(report.acknowledged)
            if report.batches_done == KILL_AFTER_BATCHES:
                gw.kill()  # SIGKILL while later batches are in flight

        # (1) the push dies with the gateway
        with pytest.raises(PushFailed) as failed:
            Pusher(dept, window=4).push_file(
                path, "utilities", batch_size=BATCH, progress=kill_midway
            )
        assert failed.value.code == "UNAVAILABLE"
        # acknowledgements already on their way when the gateway died still count
        acked = len(seen_acked)
        assert acked >= KILL_AFTER_BATCHES
        state = json.loads(state_path_for(path).read_text())
        assert sorted(state["acked"]) == sorted(seen_acked)

        # (2) every record the agent saw acknowledged is in the store
        url = gw.config.database_url
        count, stored, _ = _stored(url, dept.node_id)
        acked_keys = {keys[i] for b in seen_acked for i in range(b * BATCH, (b + 1) * BATCH)}
        assert acked_keys <= stored
        assert count == len(stored)

        # (3) restart; the agent resumes and finishes
        gw.start()
        summary = Pusher(dept).push_file(path, "utilities", batch_size=BATCH)
        assert summary.batches_skipped == acked
        assert summary.batches_sent == RECORDS // BATCH - acked
        assert summary.rejected == 0
        # batches committed but not acknowledged before the kill come back as duplicates
        assert summary.accepted + summary.duplicates == RECORDS - acked * BATCH
        assert summary.accepted == RECORDS - count

        # (4) every record exactly once; every batch stored once
        count, stored, batches = _stored(url, dept.node_id)
        assert count == RECORDS
        assert stored == set(keys)
        assert batches == RECORDS // BATCH
    finally:
        gw.stop()
