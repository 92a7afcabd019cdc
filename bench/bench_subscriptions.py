"""delivery_vs_push: 20 concurrent subscribers keep up with the push.

A gateway SUBPROCESS (``xinlian gateway serve``, SQLite) with mTLS. Twenty institutions
each hold a batch subscription (registration records of region 35) and stream
``Deliver`` in threads of this process, acknowledging every batch as it arrives (no
disk: the figure is the gateway's delivery, not the subscriber's storage). A department
then pushes ``PUSHES`` batches of ``BATCH`` registration records of region-35
enterprises, so every subscriber matches every pushed record.

The figure: the SLOWEST subscriber's rate of masked records delivered (its events ÷ the
time from the first push to its last event) divided by the push rate (records ÷ the
time from the first push to the last push's answer), same run. ≥ 1.0: every subscriber
keeps up with the push. ``extra`` has the delivery lag (event logged at the gateway →
received by the subscriber) p50/p99 over every event of every subscriber.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from datetime import UTC
from pathlib import Path
from typing import Any

from common import BenchContext, Figure

SUBSCRIBERS = 20
REGION = "35"
WAIT_S = 120.0
# `xinlian gateway serve --workers N` (SO_REUSEPORT): each subscriber's connection stays on
# one worker, so the streams spread over the workers; the push is one more connection
GATEWAY_WORKERS = int(os.environ.get("XINLIAN_BENCH_SUBSCRIPTION_WORKERS", "1"))


def _records(n: int) -> list[Any]:
    from authz.catalog import Catalog
    from xinlian_samples.generator import generate_enterprises, generate_records

    spec = Catalog.default().categories["registration"]
    fujian = [e for e in generate_enterprises(n * 3, seed=41) if e.credit_code[2:4] == REGION]
    out: list[Any] = []
    version = 1
    while len(out) < n:  # new versions of the same records until there are n
        out += [r for e in fujian for r in generate_records(e, spec, 1, 41, version=version)]
        version += 1
    return out[:n]


class Subscriber(threading.Thread):
    """Streams one subscription, acknowledging each batch; notes when each event came."""

    def __init__(self, identity: Any, subscription_id: str, expected: int) -> None:
        super().__init__(daemon=True)
        self.identity = identity
        self.subscription_id = subscription_id
        self.expected = expected
        self.received = 0
        self.last_at = 0.0
        self.lags_s: list[float] = []
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from node_agent.subscriptions import SubscriptionClient

        try:
            with SubscriptionClient(self.identity) as client:
                responses, acks = client.stream(self.subscription_id)
                for batch in responses:
                    now = time.time()
                    for event in batch.events:
                        logged = event.logged_at.ToDatetime(tzinfo=UTC).timestamp()
                        self.lags_s.append(now - logged)
                    self.received += len(batch.events)
                    self.last_at = time.monotonic()
                    acks.ack(batch.next_position)
                    if self.received >= self.expected:
                        acks.close()
                        self.done.set()
                        for _ in responses:
                            pass
                        return
        except BaseException as exc:  # reported by run()
            self.error = exc
            self.done.set()


def _measure(ctx: BenchContext) -> Figure:
    from support.processes import GatewayProcess

    from gateway.host.home import init_home
    from node_agent.push import Pusher
    from node_agent.subscriptions import SubscriptionClient
    from xinlian_samples.generator import write_jsonl

    pushes, batch = (5, 200) if ctx.quick else (20, 500)
    home: Path = ctx.scratch("subscriptions")
    init_home(home / "gateway")
    proc = GatewayProcess(home / "gateway", workers=GATEWAY_WORKERS).start()
    try:
        dept = proc.enroll("department", "bench-amr", ("registration",))
        records = _records(pushes * batch)
        paths = []
        for i in range(pushes):
            path = home / f"push-{i}.jsonl"
            write_jsonl(records[i * batch : (i + 1) * batch], path)
            paths.append(path)
        subscribers = []
        for i in range(SUBSCRIBERS):
            bank = proc.enroll("institution", f"bench-bank-{i}")
            with SubscriptionClient(bank) as client:
                sub = client.create("batch", ["registration"], region_prefix=REGION)
            subscribers.append(Subscriber(bank, sub.subscription_id, len(records)))
        for s in subscribers:
            s.start()
        time.sleep(1.0)  # every stream open and polling
        pusher = Pusher(dept)
        started = time.monotonic()
        for path in paths:
            assert pusher.push_file(path, "registration", batch_size=batch).accepted == batch
        pushed_s = time.monotonic() - started
        for s in subscribers:
            s.done.wait(WAIT_S)
            if s.error is not None:
                raise s.error
        slowest = min(s.received / max(1e-9, s.last_at - started) for s in subscribers)
        complete = all(s.received >= len(records) for s in subscribers)
    finally:
        proc.stop()
    push_rate = len(records) / pushed_s
    lags = sorted(lag for s in subscribers for lag in s.lags_s)
    extra = {
        "subscribers": SUBSCRIBERS,
        "records_pushed": len(records),
        "batch_records": batch,
        "all_delivered": complete,
        "delivery_lag_p50_ms": round(1000 * statistics.median(lags), 1) if lags else None,
        "delivery_lag_p99_ms": round(1000 * lags[int(0.99 * (len(lags) - 1))], 1) if lags else None,
        "database": "sqlite",
        "gateway_workers": GATEWAY_WORKERS,
    }
    return Figure(slowest, push_rate, "records/s", extra)


def run(ctx: BenchContext) -> dict[str, Figure]:
    return {"delivery_vs_push": _measure(ctx)}


if __name__ == "__main__":
    sys.exit("run through bench/run.py")
