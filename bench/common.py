"""Shared pieces of the benchmarks: figures, a scratch directory, a loopback PostgreSQL,
a PKI for the bare echo baseline, and a closed-loop load generator."""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


@dataclass
class Figure:
    value: float
    baseline: float
    unit: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else 0.0

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "value": round(self.value, 3),
            "baseline": round(self.baseline, 3),
            "ratio": round(self.ratio, 3),
            "unit": self.unit,
        }
        clash = set(self.extra) & set(data)
        if clash:
            raise ValueError(f"Figure.extra must not override {sorted(clash)}")
        data.update(self.extra)
        return data

    def describe(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.extra.items())
        return (
            f"{self.value:.1f} {self.unit} vs baseline {self.baseline:.1f} "
            f"→ ratio {self.ratio:.3f} {extra}"
        ).strip()


class BenchContext:
    def __init__(self, quick: bool = False) -> None:
        self.quick = quick
        self.tmp = Path(tempfile.mkdtemp(prefix="xinlian-bench-"))
        self.shared: dict[str, Any] = {}
        self._cluster: Any = None

    @property
    def duration_s(self) -> float:
        """How long each closed-loop measurement runs."""
        return 2.0 if self.quick else 8.0

    def scratch(self, name: str) -> Path:
        path = self.tmp / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def pg_url(self) -> str:
        """A fresh database on a throwaway PostgreSQL cluster (started once per run)."""
        from support.postgres import start_cluster

        if self._cluster is None:
            self._cluster = start_cluster()
        return str(self._cluster.create_database())

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.destroy()
        shutil.rmtree(self.tmp, ignore_errors=True)


@dataclass
class LoadResult:
    count: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[k]

    def summary(self) -> dict[str, float]:
        return {
            "p50_ms": round(self.percentile(50), 3),
            "p99_ms": round(self.percentile(99), 3),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 3) if self.latencies_ms else 0,
        }


async def closed_loop(
    call: Callable[[int], Awaitable[Any]], *, concurrency: int, duration_s: float
) -> LoadResult:
    """``concurrency`` workers each call ``call(i)`` back to back for ``duration_s``."""
    latencies: list[float] = []
    deadline = time.perf_counter() + duration_s
    counter = 0

    async def worker() -> None:
        nonlocal counter
        while time.perf_counter() < deadline:
            counter += 1
            started = time.perf_counter()
            await call(counter)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), elapsed, latencies)
