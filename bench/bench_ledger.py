"""Ledger figures: verification speed, proof serving, append throughput under load.

verify_vs_hashlib
    entries per second verified by ``gateway.verify.verify_store`` (the code path of
    ``xinlian audit verify --home``: read every row, recompute every leaf hash, check the
    ledger table's schema (its indexed columns are generated from the bodies), recompute
    every checkpoint root and the head, check signatures and consistency) over N stored
    entries on SQLite, divided by the raw hashlib SHA-256 rate over the same entry
    bodies in the same run (target ≥ 0.25). Both are timed interleaved, best of
    ``VERIFY_ROUNDS``. Verification scans in two processes (``gateway.verify.scan``:
    a worker process reads and hashes the upper part of the ledger); the hashlib
    baseline is one thread.
inclusion_proofs_per_s
    inclusion proofs per second through ``TileProofs.inclusion`` on a store read (what
    ``GetInclusionProof`` runs per request, gRPC excluded: stored tiles through the
    process's LRU, ``gateway.store.ledger_tiles``), for random indices in the latest
    checkpoint. Baseline: the naive reference, ``audit.merkle.inclusion_proof``
    recomputing the proof from all N leaf hashes per request (what a server without
    tiles or a cache would do), same run. ``leafcache_proofs_per_s``: the older
    per-process cache of every leaf hash (``LeafCache``), warm.
ledger_append_per_s
    ledger entries committed per second by the GroupCommitter on SQLite with 32
    concurrent submitters, each unit one entry (fail-closed: each waits for the commit
    of its group). Baseline: sequential single-entry transactions (no grouping), same
    run, same store.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
import sys
import time
from datetime import UTC, datetime

from common import BenchContext, Figure

from audit import merkle
from audit.checkpoint import NoteSigner, NoteVerifier
from audit.entry import Action, Entry, Outcome
from authz.catalog import Catalog
from gateway.flows.checkpointer import sign_checkpoint
from gateway.flows.retention import verify_retention
from gateway.host.config import DEFAULT_TILE_CACHE_TILES
from gateway.host.home import init_home
from gateway.store.committer import GroupCommitter, LedgerTx, commit_now
from gateway.store.db import Store
from gateway.store.ledger import LeafCache, latest_checkpoint
from gateway.store.ledger_tiles import TileProofs
from gateway.verify import verify_store
from xinlian.clock import SystemClock

APPEND_CONCURRENCY = 32
VERIFY_ROUNDS = 5
ENTRIES_PER_SEED_UNIT = 2000


def _entry(i: int) -> Entry:
    return Entry(
        action=Action.QUERY,
        time=datetime.now(UTC),
        actor=f"bank-{i % 50}",
        actor_kind="institution",
        outcome=Outcome.OK,
        trace_id=secrets.token_hex(12),
        credit_code="91350100MA2Y00013X",
        subject="91350100MA2Y00013X",
        details={
            "purpose": "financing",
            "grant_id": f"grant-{i % 997}",
            "fields": {"tax_rating": "keep", "total_tax_paid": "range_10k", "vat_paid": "mask"},
            "record_ids": [f"tax-{i}-{j}" for j in range(3)],
        },
    )


def _seed(store: Store, n: int, signer: NoteSigner, origin: str, checkpoints: int) -> None:
    clock = SystemClock()
    per_checkpoint = max(1, n // checkpoints)
    done = 0
    while done < n:
        count = min(ENTRIES_PER_SEED_UNIT, n - done)

        def work(conn: object, ledger: LedgerTx, start: int = done, count: int = count) -> None:
            for i in range(start, start + count):
                ledger.append(_entry(i))

        commit_now(store, clock, work)  # type: ignore[arg-type]
        done += count
        if done % per_checkpoint < count:
            sign_checkpoint(store, signer, origin, clock)
    sign_checkpoint(store, signer, origin, clock)


def run(ctx: BenchContext) -> dict[str, Figure]:
    n = 10_000 if ctx.quick else 50_000
    home = ctx.scratch("ledger") / "gw"
    config = init_home(home)
    signer = NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip())
    verifier = NoteVerifier.from_key_string(config.ledger_verifier_key.read_text().strip())
    store = Store(config.database_url)
    try:
        _seed(store, n, signer, config.origin, checkpoints=20)
        figures = {
            "verify_vs_hashlib": _verify_figure(ctx, store, verifier, config.origin),
            "inclusion_proofs_per_s": _proof_figure(ctx, store),
        }
        figures["ledger_append_per_s"] = _append_figure(ctx, store)
        return figures
    finally:
        store.close()


def _verify_figure(ctx: BenchContext, store: Store, verifier: NoteVerifier, origin: str) -> Figure:
    retention = verify_retention(Catalog.default(), SystemClock().now())
    bodies = store.read(
        lambda c: [bytes(b) for (b,) in c.exec_driver_sql("SELECT body FROM ledger_entries")]
    )
    sha256 = hashlib.sha256
    # interleaved, best of VERIFY_ROUNDS each: both sides see the same machine load
    verify_s = hash_s = float("inf")
    for _ in range(VERIFY_ROUNDS):
        started = time.perf_counter()
        report = verify_store(store, verifier, origin, retention)
        verify_s = min(verify_s, time.perf_counter() - started)
        if not report.ok:
            raise RuntimeError(f"bench ledger does not verify: {report.problems[:3]}")
        started = time.perf_counter()
        for body in bodies:
            sha256(body).digest()
        hash_s = min(hash_s, time.perf_counter() - started)
    size = sum(len(b) for b in bodies) / len(bodies)
    return Figure(
        report.entries / verify_s,
        len(bodies) / hash_s,
        "entries/s",
        {
            "entries": report.entries,
            "mean_entry_bytes": round(size),
            "checkpoints": report.checkpoints,
            "verify_s": round(verify_s, 3),
            "rounds": VERIFY_ROUNDS,
            # verify: this process and a worker process each read and hash part of
            # the ledger; the baseline is one thread
            "scan_processes": report.scan_processes,
            "backend": "sqlite",
        },
    )


def _proof_rate(ctx: BenchContext, store: Store, proofs: TileProofs | LeafCache) -> float:
    size = store.read(lambda c: proofs.inclusion(c, 0, 0)).tree_size  # warm the cache
    rng = random.Random(7)
    deadline = time.perf_counter() + ctx.duration_s / 4
    count = 0
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        index = rng.randrange(size)
        store.read(lambda c, i=index: proofs.inclusion(c, i, 0))
        count += 1
    return count / (time.perf_counter() - started)


def _proof_figure(ctx: BenchContext, store: Store) -> Figure:
    rate = _proof_rate(ctx, store, TileProofs(DEFAULT_TILE_CACHE_TILES))
    old_rate = _proof_rate(ctx, store, LeafCache())
    size = store.read(latest_checkpoint).tree_size
    # naive: the reference proof from all leaves, per request
    rng = random.Random(7)
    leaves = _all_leaves(store, size)
    naive = 0
    deadline = time.perf_counter() + min(ctx.duration_s / 2, 3.0)
    started = time.perf_counter()
    while time.perf_counter() < deadline or naive == 0:
        merkle.inclusion_proof(leaves, rng.randrange(size), size)
        naive += 1
    naive_rate = naive / (time.perf_counter() - started)
    return Figure(
        rate,
        naive_rate,
        "proofs/s",
        {
            "tree_size": size,
            "leafcache_proofs_per_s": round(old_rate, 1),
            "backend": "sqlite",
        },
    )


def _all_leaves(store: Store, size: int) -> list[bytes]:
    rows = store.read(
        lambda c: c.exec_driver_sql(
            "SELECT leaf_hash FROM ledger_entries WHERE idx < ? ORDER BY idx", (size,)
        ).all()
    )
    return [bytes(r[0]) for r in rows]


def _append_figure(ctx: BenchContext, store: Store) -> Figure:
    clock = SystemClock()
    duration = ctx.duration_s / 2

    def one(i: int) -> object:
        entry = _entry(i)

        def work(conn: object, ledger: LedgerTx) -> int:
            return ledger.append(entry)

        return work

    # baseline: sequential single-entry transactions
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < duration:
        commit_now(store, clock, one(count))  # type: ignore[arg-type]
        count += 1
    sequential = count / (time.perf_counter() - started)

    async def grouped() -> tuple[float, int]:
        committer = GroupCommitter(store, clock)
        committer.start()
        done = 0
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await committer.submit(one(done))  # type: ignore[arg-type]
                done += 1

        begin = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(APPEND_CONCURRENCY)))
        elapsed = time.perf_counter() - begin
        await committer.stop()
        return done / elapsed, done

    rate, total = asyncio.run(grouped())
    return Figure(
        rate,
        sequential,
        "entries/s",
        {"concurrency": APPEND_CONCURRENCY, "entries": total, "backend": "sqlite"},
    )


if __name__ == "__main__":
    sys.exit("run through bench/run.py")
