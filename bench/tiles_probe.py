"""One fresh process of ``bench_tiles``: open the store, serve proofs, report timings and
RSS as one JSON line. Not a benchmark module itself (``bench/run.py`` runs
``bench_*.py``).

    python bench/tiles_probe.py DB_URL tiles|leaves PROOFS SEED
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.store.db import Store
from gateway.store.ledger import LeafCache, latest_checkpoint
from gateway.store.ledger_tiles import TileProofs

TILE_CACHE = 1024
"""The default of ``ledger_tile_cache_tiles``."""


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    url, mode, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = Store(url)
    proofs = TileProofs(TILE_CACHE) if mode == "tiles" else LeafCache()
    size = store.read(
        lambda c: c.exec_driver_sql("SELECT max(tree_size) FROM checkpoints")
    ).scalar_one()
    rng = random.Random(seed)
    # what a gateway does before it serves: connect, sign (or read) the latest checkpoint
    store.read(latest_checkpoint)
    before = rss_mb()
    started = time.perf_counter()
    store.read(lambda c: proofs.inclusion(c, rng.randrange(size), 0))
    cold = time.perf_counter() - started
    warm = []
    for _ in range(count - 1):
        index = rng.randrange(size)
        started = time.perf_counter()
        store.read(lambda c, i=index: proofs.inclusion(c, i, 0))
        warm.append(time.perf_counter() - started)
    warm.sort()
    print(
        json.dumps(
            {
                "size": size,
                "cold_s": cold,
                "warm_median_s": warm[len(warm) // 2],
                "rss_mb": rss_mb(),
                "rss_before_mb": before,
            }
        )
    )
    store.close()


if __name__ == "__main__":
    main()
