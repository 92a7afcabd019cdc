"""push_vs_raw_insert_{sqlite,postgres}: end-to-end department push against a raw insert.

value:    records/s pushed through a real gateway process (``xinlian gateway serve``) over
          gRPC with mTLS: per-batch signature check, per-record validation, duplicate
          detection, the batch row with its canonical bytes and signature (provenance),
          one ``push.batch`` ledger entry per batch in the group commit, acknowledged only
          after the commit. ``STREAMS`` concurrent Push streams of ``BATCH``-record
          batches; the agent's requests are signed before the clock starts (the figure
          measures the gateway, not the agent's JSON parsing).
baseline: records/s of a raw SQLAlchemy Core bulk insert (``conn.execute(insert(records),
          rows)``) of the same rows into the ``records`` table of a fresh database of the
          same kind, same engine settings (SQLite: WAL, synchronous=FULL), one transaction
          per ``BATCH`` rows — the same durability unit as an acknowledged batch.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import ROOT, BenchContext, Figure

sys.path.insert(0, str(ROOT / "tests" / "push"))

BATCH = 1000
RECORDS = 100_000
QUICK_RECORDS = 20_000
STREAMS = 2
CATEGORY = "utilities"
PER_ENTERPRISE = 500


def _records(n: int) -> list[Any]:
    from authz.catalog import Catalog
    from authz.sample_data import generate_enterprises, generate_records

    spec = Catalog.default().categories[CATEGORY]
    out: list[Any] = []
    for enterprise in generate_enterprises((n + PER_ENTERPRISE - 1) // PER_ENTERPRISE, 42):
        out.extend(generate_records(enterprise, spec, PER_ENTERPRISE, 42))
    return out[:n]


def _batch_records(records: list[Any]) -> list[Any]:
    from xinlian.batch import BatchRecord

    return [
        BatchRecord(r.credit_code, r.record_id, r.version, r.event_time, dict(r.fields))
        for r in records
    ]


def _raw_rows(records: list[Any]) -> list[dict[str, Any]]:
    from gateway.push import canonical_bytes
    from gateway.store.timeutil import to_us

    now = to_us(datetime.now(UTC))
    return [
        {
            "source_node_id": "bench-dept",
            "record_id": r.record_id,
            "version": r.version,
            "credit_code": r.credit_code,
            "category": CATEGORY,
            "event_time_us": to_us(r.event_time),
            "fields": canonical_bytes(r.fields).decode("utf-8"),
            "batch_pk": 1 + i // BATCH,
            "received_at_us": now,
        }
        for i, r in enumerate(records)
    ]


def raw_insert_rate(url: str, rows: list[dict[str, Any]]) -> float:
    from sqlalchemy import insert

    from gateway.store import migrate, schema
    from gateway.store.db import make_engine

    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        started = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            with engine.begin() as conn:
                conn.execute(insert(schema.records), rows[start : start + BATCH])
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    return len(rows) / elapsed


def push_rate(base: Path, url: str | None, records: list[Any]) -> tuple[float, dict[str, Any]]:
    from push_support import GatewayProcess

    from node_agent.push import Pusher
    from xinlian.v1 import exchange_pb2_grpc

    gw = GatewayProcess.create(base, url)
    gw.start()
    try:
        dept = gw.enroll("department", "bench-dept", (CATEGORY,))
        pusher = Pusher(dept)
        batch_records = _batch_records(records)
        requests = [
            pusher.make_request(f"bench-{i // BATCH:06d}", CATEGORY, batch_records[i : i + BATCH])
            for i in range(0, len(batch_records), BATCH)
        ]
        lanes = [requests[k::STREAMS] for k in range(STREAMS)]
        channels = [dept.channel() for _ in range(STREAMS)]
        # warm up: TLS handshakes, the registry cache, the stream path
        warm = pusher.make_request("warm-up", CATEGORY, batch_records[:1])
        for channel in channels:
            list(exchange_pb2_grpc.ExchangeServiceStub(channel).Push(iter([warm]), timeout=60))
        accepted = [0] * STREAMS
        errors: list[BaseException] = []

        def lane(k: int) -> None:
            try:
                stub = exchange_pb2_grpc.ExchangeServiceStub(channels[k])
                for response in stub.Push(iter(lanes[k]), timeout=600):
                    accepted[k] += response.accepted + response.duplicates
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=lane, args=(k,)) for k in range(STREAMS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        for channel in channels:
            channel.close()
        if errors:
            raise errors[0]
        if sum(accepted) != len(records):
            raise RuntimeError(f"pushed {sum(accepted)} of {len(records)} records")
        return len(records) / elapsed, {"seconds": round(elapsed, 2)}
    finally:
        gw.stop()


def run(ctx: BenchContext) -> dict[str, Figure]:
    n = QUICK_RECORDS if ctx.quick else RECORDS
    records = _records(n)
    rows = _raw_rows(records)
    figures: dict[str, Figure] = {}
    for kind in ("sqlite", "postgres"):
        if kind == "sqlite":
            raw_url = f"sqlite:///{ctx.scratch('push-raw-sqlite') / 'raw.db'}"
            gw_url = None  # the gateway's own SQLite file in its home
        else:
            raw_url, gw_url = ctx.pg_url(), ctx.pg_url()
        baseline = raw_insert_rate(raw_url, rows)
        value, extra = push_rate(ctx.scratch(f"push-{kind}"), gw_url, records)
        figures[f"push_vs_raw_insert_{kind}"] = Figure(
            value,
            baseline,
            "records/s",
            {"records": n, "batch": BATCH, "streams": STREAMS, **extra},
        )
    return figures


if __name__ == "__main__":
    sys.exit("run through bench/run.py")
