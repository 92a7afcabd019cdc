"""sync_vs_push: the agent's database sync against a file push of the same records.

value:    records/s of ``xinlian agent sync`` (in process: ``CategorySync.run``) reading a
          PostgreSQL source table (the department's ``tax_records``, 万元 amounts, code
          list, naive times: ``xinlian_samples.tax_source``), mapping every row, and pushing
          over the agent's push path into a fresh gateway process (its own SQLite store),
          the watermark saved after each acknowledged page.
baseline: records/s of ``agent push`` (``Pusher.push_file``) of the same records, written
          beforehand as a JSONL file, into another fresh gateway process — same batch size,
          same window.

Both run ``ROUNDS`` times in the same run, alternating; the figures are the medians.
Target (issue 18): ratio ≥ 0.8.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import BenchContext, Figure

RECORDS = 20_000
QUICK_RECORDS = 5_000
ROUNDS = 2
QUICK_ROUNDS = 1
BATCH = 1000


def _sync_rate(base: Path, source_url: str, n: int) -> tuple[float, list[dict[str, Any]]]:
    """Sync the table into a fresh gateway; also returns the records it sent (for the
    baseline's file)."""
    from support.processes import GatewayProcess

    from authz.catalog import Catalog
    from node_agent.push import Pusher
    from node_agent.sync.config import load_config
    from node_agent.sync.runner import CategorySync
    from node_agent.sync.watermark import SyncState
    from xinlian_samples.tax_source import sql_source, write_config

    gw = GatewayProcess.create(base / "sync")
    gw.start()
    try:
        dept = gw.enroll("department", "tax-sync", ("tax",))
        path = write_config(
            base / "agent.toml",
            identity=dept.files.root,
            state_dir=base / "state",
            source=sql_source(source_url),
            extra="",
        )
        text = path.read_text(encoding="utf-8").replace("batch_size = 500", f"batch_size = {BATCH}")
        # the default page size (DEFAULT_PAGE_SIZE)
        path.write_text(text.replace("page_size = 2000\n", ""), encoding="utf-8")
        config = load_config(path)
        state = SyncState(config.state_dir)
        sync = CategorySync(config, config.categories[0], state, Catalog.default())
        records: list[dict[str, Any]] = []
        sync.run(None, lambda item: records.append(item["record"]))  # dry run: the records
        started = time.perf_counter()
        result = sync.run(Pusher(dept))
        elapsed = time.perf_counter() - started
        sync.close()
        state.close()
    finally:
        gw.stop()
    assert result.accepted == n, result
    return n / elapsed, records


def _push_rate(base: Path, path: Path, n: int) -> float:
    from support.processes import GatewayProcess

    from node_agent.push import Pusher

    gw = GatewayProcess.create(base / "push")
    gw.start()
    try:
        dept = gw.enroll("department", "tax-push", ("tax",))
        started = time.perf_counter()
        summary = Pusher(dept).push_file(path, "tax", batch_size=BATCH, resume=False)
        elapsed = time.perf_counter() - started
    finally:
        gw.stop()
    assert summary.accepted == n, summary
    return n / elapsed


def run(ctx: BenchContext) -> dict[str, Figure]:
    from xinlian_samples.tax_source import create_source, tax_rows

    n = QUICK_RECORDS if ctx.quick else RECORDS
    rounds = QUICK_ROUNDS if ctx.quick else ROUNDS
    source_url = ctx.pg_url()
    create_source(source_url, tax_rows(n)).dispose()
    synced: list[float] = []
    pushed: list[float] = []
    for k in range(rounds):
        base = ctx.scratch(f"agentsync-{k}")
        rate, records = _sync_rate(base, source_url, n)
        synced.append(rate)
        jsonl = base / "tax.jsonl"
        with jsonl.open("w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        pushed.append(_push_rate(base, jsonl, n))
    return {
        "sync_vs_push": Figure(
            statistics.median(synced),
            statistics.median(pushed),
            "records/s",
            {
                "records": n,
                "batch": BATCH,
                "source": "postgresql",
                "rounds": rounds,
                "statistic": "p50 of rounds",
                "sync_rounds": [round(v) for v in synced],
                "push_rounds": [round(v) for v in pushed],
            },
        )
    }


if __name__ == "__main__":
    sys.exit("run through bench/run.py")
