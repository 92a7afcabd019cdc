"""Witnessing figures (docs/witness.md).

cosignature_verify_vs_note_verify
    C2SP cosignature/v1 checks per second (``CosignatureVerifier.verify`` over a
    checkpoint body: header and time line prepended, one Ed25519 verification) divided by
    plain checkpoint note checks per second (``verify_note``: parse the note, one Ed25519
    verification), same run, same key type. Shows what a cosignature costs a client that
    checks a quorum of witnesses besides the log's own signature (target ≈ 1).
witness_round_vs_checkpoint_fetch
    full witnessing rounds per second of one gateway over one peer on loopback mTLS (fetch
    the peer's signed checkpoint, check it, keep the view, ask no other witness, fetch and
    check the consistency proof from the size last cosigned, cosign, store, hand the
    cosignature to the peer, which checks and keeps it), the peer's tree grown by one
    entry and checkpoint between rounds (outside the timing). Baseline: ``GetCheckpoint``
    calls per second to the same peer over the same kind of channel, same run. p50/p99 of
    the round in ms.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from common import BenchContext, Figure

from audit.checkpoint import Checkpoint, NoteSigner, verify_note
from audit.cosignature import Cosigner
from audit.merkle import leaf_hash
from gateway.flows.witness import COSIGNED, Witness
from gateway.flows.witness_peers import configured_peers
from gateway.services.peer_client import connect_peer
from xinlian.clock import SystemClock

VERIFY_ITERATIONS = 3000
ROUNDS = 60
QUICK_ROUNDS = 15


def _verify_rates() -> tuple[float, float]:
    log = NoteSigner.generate("gw-a.example/ledger")
    note = log.sign_checkpoint(Checkpoint(log.name, 123456, leaf_hash(b"root")))
    body = verify_note(note, log.verifier())
    witness = Cosigner(NoteSigner.generate("gw-b.example/ledger"))
    cosig = witness.cosign(body, 1_765_000_000)
    verifier, key = witness.verifier(), log.verifier()
    best_cosig = best_note = 0.0
    for _ in range(3):  # interleaved, best of three
        start = time.perf_counter()
        for _ in range(VERIFY_ITERATIONS):
            assert verifier.verify(body, cosig)
        best_cosig = max(best_cosig, VERIFY_ITERATIONS / (time.perf_counter() - start))
        start = time.perf_counter()
        for _ in range(VERIFY_ITERATIONS):
            verify_note(note, key)
        best_note = max(best_note, VERIFY_ITERATIONS / (time.perf_counter() - start))
    return best_cosig, best_note


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _rounds(ctx: BenchContext) -> Figure:
    from support.witness_net import network

    count = QUICK_ROUNDS if ctx.quick else ROUNDS
    with network(ctx.scratch("witness"), ["a", "b"]) as (a, b):
        peer = next(p for p in configured_peers(a.config()) if p.gateway_id == "gw-b")
        rt = a.running.runtime
        witness = Witness(rt.store, rt.signer, SystemClock(), connect_peer)
        durations: list[float] = []
        fetches: list[float] = []

        async def fetch_many(n: int) -> None:
            client = connect_peer(peer)
            try:
                await client.checkpoint()  # the channel's handshake, untimed
                for _ in range(n):
                    start = time.perf_counter()
                    await client.checkpoint()
                    fetches.append(time.perf_counter() - start)
            finally:
                await client.close()

        for _ in range(count):
            b.append("bench", {"n": len(durations)})
            b.checkpoint()
            start = time.perf_counter()
            outcome = asyncio.run(witness.witness_peer(peer))
            durations.append(time.perf_counter() - start)
            assert outcome.status == COSIGNED and outcome.delivered, outcome
        asyncio.run(fetch_many(count * 4))
    rounds_per_s = 1 / statistics.mean(durations)
    fetches_per_s = 1 / statistics.mean(fetches)
    return Figure(
        rounds_per_s,
        fetches_per_s,
        "rounds/s",
        {
            "p50_ms": round(_percentile(durations, 0.5) * 1000, 2),
            "p99_ms": round(_percentile(durations, 0.99) * 1000, 2),
            "baseline_p50_ms": round(_percentile(fetches, 0.5) * 1000, 2),
            "rounds": count,
            "note": "a round opens its own mTLS channel; the baseline reuses one",
        },
    )


def run(ctx: BenchContext) -> dict[str, Figure]:
    cosig_rate, note_rate = _verify_rates()
    return {
        "cosignature_verify_vs_note_verify": Figure(
            cosig_rate, note_rate, "verifications/s", {"iterations": VERIFY_ITERATIONS}
        ),
        "witness_round_vs_checkpoint_fetch": _rounds(ctx),
    }
