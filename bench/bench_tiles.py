"""Ledger tiles at 10⁶ entries: proofs in a fresh process, memory per process.

cold_proof_vs_warm
    an inclusion proof's latency in a process that has served proofs before (median of
    the 999 proofs after the first, random indices: most of them still load a level-0
    tile) divided by the latency of the first proof in a fresh process (which, like a
    gateway before it serves, has connected and read the latest checkpoint; every tile
    is read from the store), both direct calls of ``TileProofs.inclusion`` on a store
    read, no gRPC, on SQLite with 1,000,000 entries (target ≥ 0.2); medians over
    ``FRESH_PROCESSES`` processes. ``value`` is the warm latency, ``baseline`` the cold
    one (ms); ``leafcache_cold_ms`` is the first proof of the older ``LeafCache`` (every
    leaf hash read) on the same ledger.
proof_rss_growth_mb
    RSS of a fresh process after serving 1,000 random inclusion proofs on the ledger of
    10⁶ entries minus the same on a ledger of 10⁵ (target ≤ 16 MB; the tile cache holds
    at most ``ledger_tile_cache_tiles``, 1,024). Baseline: the same with ``LeafCache``.

The ledgers are built once and kept under ``var/bench-tiles`` (about 700 MB); delete the
directory to build them again.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, BenchContext, Figure

from audit.checkpoint import NoteSigner
from gateway.flows.checkpointer import sign_checkpoint
from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from xinlian.clock import SystemClock

LARGE = 1_000_000
SMALL = 100_000
PROOFS = 1000
FRESH_PROCESSES = 5
SEED_UNIT = 20_000
CHECKPOINT_EVERY = 100_000
CACHE_DIR = ROOT / "var" / "bench-tiles"
PROBE = Path(__file__).resolve().parent / "tiles_probe.py"


def _ledger(n: int) -> GatewayConfig:
    """The home of a ledger of ``n`` entries, built once (a ``done`` file marks it)."""
    from bench_ledger import _entry

    home = CACHE_DIR / f"gw-{n}"
    if (home / "done").exists():
        return GatewayConfig.load(home)
    if home.exists():
        import shutil

        shutil.rmtree(home)
    config = init_home(home)
    signer = NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip())
    clock = SystemClock()
    store = Store(config.database_url)
    try:
        done = 0
        started = time.perf_counter()
        while done < n:
            count = min(SEED_UNIT, n - done)

            def work(conn: object, ledger: LedgerTx, start: int = done, count: int = count) -> None:
                for i in range(start, start + count):
                    ledger.append(_entry(i))

            commit_now(store, clock, work)  # type: ignore[arg-type]
            done += count
            if done % CHECKPOINT_EVERY == 0 or done == n:
                sign_checkpoint(store, signer, config.origin, clock)
                print(
                    f"  bench_tiles: {done}/{n} entries ({time.perf_counter() - started:.0f} s)",
                    file=sys.stderr,
                )
    finally:
        store.close()
    (home / "done").write_text(str(n))
    return config


def _probe(config: GatewayConfig, mode: str, runs: int = 1) -> dict[str, float]:
    """``runs`` fresh processes; each figure is the median over them (one first proof
    per process: a single sample each)."""
    found = []
    for seed in range(runs):
        result = subprocess.run(
            [sys.executable, str(PROBE), config.database_url, mode, str(PROOFS), str(seed)],
            capture_output=True,
            text=True,
            timeout=1800,
            check=True,
        )
        found.append(json.loads(result.stdout))
    return {key: statistics.median(f[key] for f in found) for key in found[0]}


def run(ctx: BenchContext) -> dict[str, Figure]:
    large, small = _ledger(LARGE), _ledger(SMALL)
    tiles_large = _probe(large, "tiles", FRESH_PROCESSES)
    tiles_small = _probe(small, "tiles", FRESH_PROCESSES)
    leaves_large = _probe(large, "leaves")
    leaves_small = _probe(small, "leaves")
    cold_ms = tiles_large["cold_s"] * 1000
    warm_ms = tiles_large["warm_median_s"] * 1000
    growth = tiles_large["rss_mb"] - tiles_small["rss_mb"]
    old_growth = leaves_large["rss_mb"] - leaves_small["rss_mb"]
    return {
        "cold_proof_vs_warm": Figure(
            warm_ms,
            cold_ms,
            "ms",
            {
                "entries": int(tiles_large["size"]),
                "proofs": PROOFS,
                "fresh_processes": FRESH_PROCESSES,
                "leafcache_cold_ms": round(leaves_large["cold_s"] * 1000, 1),
                "leafcache_warm_ms": round(leaves_large["warm_median_s"] * 1000, 3),
                "backend": "sqlite",
            },
        ),
        "proof_rss_growth_mb": Figure(
            growth,
            old_growth,
            "MB",
            {
                "rss_1e6_mb": round(tiles_large["rss_mb"], 1),
                "rss_1e5_mb": round(tiles_small["rss_mb"], 1),
                "leafcache_rss_1e6_mb": round(leaves_large["rss_mb"], 1),
                "leafcache_rss_1e5_mb": round(leaves_small["rss_mb"], 1),
                "proofs": PROOFS,
                "tile_cache_tiles": 1024,
                "backend": "sqlite",
            },
        ),
    }


if __name__ == "__main__":
    sys.exit("run through bench/run.py")
