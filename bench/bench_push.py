"""push_vs_raw_insert_{sqlite,postgres}: end-to-end department push against a raw insert.

value:    records/s pushed through a real gateway process (``xinlian gateway serve``) over
          gRPC with mTLS: per-batch signature check over the signed canonical bytes the
          agent sends (``Batch.signed_content``), canonical-form check, per-record
          validation, duplicate detection, the batch row with its canonical bytes and
          signature (provenance), one ``push.batch`` ledger entry per batch in the group
          commit, acknowledged only after the commit. ``STREAMS`` concurrent Push streams
          of ``BATCH``-record batches, each on its own TCP connection, spread evenly over
          the ``GATEWAY_WORKERS`` processes of ``xinlian gateway serve --workers N`` (one
          port, SO_REUSEPORT, one store; on SQLite their commits queue on the database
          write lock); the agent's requests are signed before the clock starts (the
          figure measures the gateway, not the agent's JSON parsing).
baseline: records/s of a raw SQLAlchemy Core bulk insert (``conn.execute(insert(records),
          rows)``) of the same rows into the ``records`` table of a database of the same
          kind, same engine settings (SQLite: WAL, synchronous=FULL), one transaction per
          ``BATCH`` rows — the same durability unit as an acknowledged batch — in ONE
          process (``extra``: ``raw_insert_processes``).

Both are measured ``ROUNDS`` times, alternating (baseline, push, baseline, push, …); round
*k* stores the same rows under source node ``bench-dept-k`` in both databases, so both
tables grow alike. The figures are the medians (p50) of the rounds; every round's rate is
in ``extra``.
"""

from __future__ import annotations

import os
import statistics
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
ROUNDS = 3
QUICK_ROUNDS = 1
STREAMS = 4  # concurrent Push streams, each on its own connection, spread over the workers
# ``xinlian gateway serve --workers N``: N stateless gateway processes on one port
# (SO_REUSEPORT) and one store, as deployed on a multi-core host; each stream gets its own
# connection, the streams spread evenly over the workers (``_lane_channels``). The raw
# baseline is one process. XINLIAN_BENCH_PUSH_WORKERS=1 measures a single gateway process.
GATEWAY_WORKERS = int(os.environ.get("XINLIAN_BENCH_PUSH_WORKERS", "2"))
MAX_PLACEMENT_ATTEMPTS = 32
CATEGORY = "utilities"
PER_ENTERPRISE = 500


def _records(n: int) -> list[Any]:
    from authz.catalog import Catalog
    from xinlian_samples.generator import generate_enterprises, generate_records

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


def _raw_rows(records: list[Any], node_id: str = "bench-dept") -> list[dict[str, Any]]:
    from gateway.store.batch_bytes import canonical_bytes
    from gateway.store.timeutil import to_us

    now = to_us(datetime.now(UTC))
    return [
        {
            "source_node_id": node_id,
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


def raw_insert_rate(engine: Any, rows: list[dict[str, Any]]) -> float:
    from sqlalchemy import insert

    from gateway.store import schema

    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        with engine.begin() as conn:
            conn.execute(insert(schema.records), rows[start : start + BATCH])
    return len(rows) / (time.perf_counter() - started)


def push_rate(gw: Any, node_id: str, records: list[Any]) -> tuple[float, list[int]]:
    """Records/s of one push of ``records`` over ``STREAMS`` streams, and the pid of the
    worker serving each stream."""
    from node_agent.push import Pusher
    from xinlian.v1 import exchange_pb2_grpc

    dept = gw.enroll("department", node_id, (CATEGORY,))
    pusher = Pusher(dept)
    batch_records = _batch_records(records)
    requests = [
        pusher.make_request(f"bench-{i // BATCH:06d}", CATEGORY, batch_records[i : i + BATCH])
        for i in range(0, len(batch_records), BATCH)
    ]
    lanes = [requests[k::STREAMS] for k in range(STREAMS)]
    # warm up: TLS handshakes, the registry cache, the stream path
    warm = pusher.make_request("warm-up", CATEGORY, batch_records[:1])
    channels, placement = _lane_channels(gw, dept, warm)
    try:
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
    finally:
        for channel in channels:
            channel.close()
    if errors:
        raise errors[0]
    if sum(accepted) != len(records):
        raise RuntimeError(f"pushed {sum(accepted)} of {len(records)} records")
    return len(records) / elapsed, placement


def _lane_channels(gw: Any, dept: Any, warm: Any) -> tuple[list[Any], list[int]]:
    """One channel per stream, each on its own TCP connection (a distinct channel
    argument: gRPC may share one connection between identical channels), the
    lanes spread evenly over the gateway's worker processes: SO_REUSEPORT places
    connections, not streams, by a hash of the client port, so a connection that landed
    on a worker already serving its share of lanes is closed and opened again. Returns
    the channels and, per lane, the pid of the worker serving it (read from /proc)."""
    import grpc

    from xinlian.v1 import exchange_pb2_grpc

    workers = gw.worker_pids()
    per_worker = -(-STREAMS // len(workers))  # lanes per worker, at most
    channels: list[Any] = []
    placement: list[int] = []
    for attempt in range(MAX_PLACEMENT_ATTEMPTS * STREAMS):
        if len(channels) == STREAMS:
            break
        before = _client_ports(workers, gw.port)
        options = [*dept.channel_options(), ("xinlian.bench.connection", attempt)]
        channel = grpc.secure_channel(dept.gateway, dept.credentials(), options)
        list(exchange_pb2_grpc.ExchangeServiceStub(channel).Push(iter([warm]), timeout=60))
        after = _client_ports(workers, gw.port)
        landed = [pid for pid in workers if after[pid] - before[pid]]
        if len(landed) == 1 and placement.count(landed[0]) < per_worker:
            channels.append(channel)
            placement.append(landed[0])
        else:
            channel.close()
    if len(channels) != STREAMS:
        for channel in channels:
            channel.close()
        raise RuntimeError("could not place the push streams on distinct gateway workers")
    return channels, placement


def _client_ports(pids: list[int], port: int) -> dict[int, set[int]]:
    """Per process: the remote ports of its established TCP connections on ``port``."""
    inodes: dict[str, int] = {}
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes[target[8:-1]] = pid
    out: dict[int, set[int]] = {pid: set() for pid in pids}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
            owner = inodes.get(inode)
            if owner is not None and state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                out[owner].add(int(remote.rsplit(":", 1)[1], 16))
    return out


def measure(
    base: Path, raw_url: str, gw_url: str | None, records: list[Any], rounds: int
) -> tuple[list[float], list[float], list[list[int]]]:
    """(push rates, raw rates, per round the worker number of each stream), alternating,
    round k as node ``bench-dept-k``."""
    from support.processes import GatewayProcess

    from gateway.store import migrate
    from gateway.store.db import make_engine

    engine = make_engine(raw_url)
    gw = GatewayProcess.create(base, gw_url, workers=GATEWAY_WORKERS)
    pushed: list[float] = []
    raw: list[float] = []
    placements: list[list[int]] = []
    try:
        migrate.upgrade(engine)
        gw.start()
        workers = gw.worker_pids()
        for k in range(rounds):
            node_id = f"bench-dept-{k}"
            raw.append(raw_insert_rate(engine, _raw_rows(records, node_id)))
            rate, placement = push_rate(gw, node_id, records)
            pushed.append(rate)
            placements.append([workers.index(pid) for pid in placement])
    finally:
        gw.stop()
        engine.dispose()
    return pushed, raw, placements


def run(ctx: BenchContext) -> dict[str, Figure]:
    n = QUICK_RECORDS if ctx.quick else RECORDS
    rounds = QUICK_ROUNDS if ctx.quick else ROUNDS
    records = _records(n)
    figures: dict[str, Figure] = {}
    for kind in ("sqlite", "postgres"):
        if kind == "sqlite":
            raw_url = f"sqlite:///{ctx.scratch('push-raw-sqlite') / 'raw.db'}"
            gw_url = None  # the gateway's own SQLite file in its home
        else:
            raw_url, gw_url = ctx.pg_url(), ctx.pg_url()
        pushed, raw, placements = measure(
            ctx.scratch(f"push-{kind}"), raw_url, gw_url, records, rounds
        )
        figures[f"push_vs_raw_insert_{kind}"] = Figure(
            statistics.median(pushed),
            statistics.median(raw),
            "records/s",
            {
                "records": n,
                "batch": BATCH,
                "streams": STREAMS,
                "gateway_workers": GATEWAY_WORKERS,
                "stream_workers": placements,
                "raw_insert_processes": 1,
                "rounds": rounds,
                "statistic": "p50 of rounds",
                "push_rounds": [round(v) for v in pushed],
                "raw_rounds": [round(v) for v in raw],
            },
        )
    return figures


if __name__ == "__main__":
    sys.exit("run through bench/run.py")
