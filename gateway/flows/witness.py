"""Witnessing: this gateway cosigns the linked gateways' checkpoints (C2SP
tlog-cosignature/v1, ``audit.cosignature``) after checking a consistency proof from the
last one it cosigned, keeps its cosignatures, and detects split views. At an interval
(``run_witness``, started with the server) and on demand (``xinlian audit witness``).

Steps of ``witness_peer`` (one peer, one round), numbered as in the code:

1. fetch the peer's latest signed checkpoint: it must carry the peer's signature (its
   verifier key, from the peer descriptor) and the peer's origin;
2. keep it as a *view* of the peer's log (source: the peer itself);
3. the checkpoint the peer serves with its cosignatures (``GetCosignedCheckpoint``), if
   another known peer cosigned it, and what every other reachable peer says it last
   cosigned of this log (``GetWitnessed``) are views too (sources: ``cosigned by …``,
   ``witness …``); each must carry the log's signature. Any (origin, size) now seen
   with two roots is a *split view*: both signed notes are kept as evidence
   (``split_views``), logged, counted, and this gateway refuses to cosign that log;
4. compare with the last checkpoint of this log this gateway cosigned: a smaller one is
   stale (refused); the same one is already cosigned (its cosignature is sent again); a
   larger one needs the peer's consistency proof from the last size, which must verify
   (else refused, ``inconsistent``); the first checkpoint of a log is trusted on first
   use, as a tlog witness does;
5. cosign it (timestamp: now) and keep the cosignature with the peer's note;
6. hand the cosignature to the peer (``SubmitCosignature``); a failure leaves it for the
   next round, which sends it again.

No step writes a ledger entry: the peer cosigns back, and an entry per cosignature would
keep both ledgers growing for ever. Evidence of a split view is kept in ``split_views``
and reported by ``xinlian audit witness --evidence``, the log line ``SPLIT VIEW`` and the
``xinlian.witness.split_views`` counter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection

from audit.checkpoint import Checkpoint, NoteSigner, open_note, split_note
from audit.cosignature import Cosigner, SignedView, SplitView, verified_cosignatures
from audit.merkle import ProofError, verify_consistency
from gateway.core import metrics
from gateway.flows.witness_peers import PeerConnector, PeerLog, WitnessPeer
from gateway.store.db import Store
from gateway.store.timeutil import to_us
from gateway.store.witness_store import (
    Cosigned,
    SplitRow,
    View,
    last_cosigned,
    record_view,
    save_cosigned,
    save_split,
)
from xinlian.clock import Clock
from xinlian.errors import IntegrityViolation, InvalidArgument, Unavailable, XinLianError

log = logging.getLogger(__name__)
T = TypeVar("T")

MIN_WITNESS_INTERVAL_S = 0.05
"""Shortest interval the background task accepts."""

COSIGNED = "cosigned"
UNCHANGED = "unchanged"
SPLIT_VIEW = "split_view"
INCONSISTENT = "inconsistent"
STALE = "stale"
BAD_CHECKPOINT = "bad_checkpoint"
UNAVAILABLE = "unavailable"
NOT_REACHABLE = "not_configured"
FAILED_OUTCOMES = frozenset({SPLIT_VIEW, INCONSISTENT, STALE, BAD_CHECKPOINT})


@dataclass(frozen=True)
class WitnessOutcome:
    """What one round did for one peer."""

    peer_id: str
    status: str
    tree_size: int | None = None
    message: str = ""
    delivered: bool = False
    """The cosignature reached the peer."""

    def to_json(self) -> dict[str, object]:
        return {
            "peer": self.peer_id,
            "status": self.status,
            "tree_size": self.tree_size,
            "delivered": self.delivered,
            "message": self.message,
        }


@dataclass
class Witness:
    """The parts a round needs: the store, this gateway's ledger key (it cosigns with
    it), the clock, and how to reach a peer."""

    store: Store
    signer: NoteSigner
    clock: Clock
    connect: PeerConnector

    async def _db(self, fn: Callable[[Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, self.store.write, fn)

    def _now_us(self) -> int:
        return to_us(self.clock.now())

    async def round(self, peers: Sequence[WitnessPeer]) -> list[WitnessOutcome]:
        """Witness every peer once, in order; one peer's failure never stops the others."""
        outcomes = []
        for peer in peers:
            if not peer.reachable:
                outcomes.append(WitnessOutcome(peer.gateway_id, NOT_REACHABLE))
                continue
            others = [p for p in peers if p.gateway_id != peer.gateway_id]
            outcome = await self.witness_peer(peer, others)
            metrics.witness_rounds.add(1, {"peer": peer.gateway_id, "outcome": outcome.status})
            outcomes.append(outcome)
        return outcomes

    async def witness_peer(
        self, peer: WitnessPeer, others: Sequence[WitnessPeer] = ()
    ) -> WitnessOutcome:
        """One round for ``peer``; ``others``: the other peers (the reachable ones are
        asked what they cosigned; the cosignatures of all are recognized)."""
        try:
            client = self.connect(peer)
        except XinLianError as exc:
            return WitnessOutcome(peer.gateway_id, NOT_REACHABLE, message=str(exc))
        try:
            return await self._witness(peer, client, others)
        except Unavailable as exc:
            return WitnessOutcome(peer.gateway_id, UNAVAILABLE, message=str(exc))
        except XinLianError as exc:
            return WitnessOutcome(peer.gateway_id, BAD_CHECKPOINT, message=str(exc))
        finally:
            await client.close()

    async def _witness(
        self, peer: WitnessPeer, client: PeerLog, others: Sequence[WitnessPeer]
    ) -> WitnessOutcome:
        pid, key = peer.gateway_id, peer.log_verifier
        # (1) the peer's latest checkpoint, signed by its key, with its origin
        note = await client.checkpoint()
        try:
            checkpoint = open_note(note, key, origin=peer.origin)
        except (IntegrityViolation, InvalidArgument) as exc:
            return WitnessOutcome(pid, BAD_CHECKPOINT, message=str(exc))
        # (2) + (3) views of the log: the peer's own, the checkpoint it serves with other
        # witnesses' cosignatures, then what each other witness says it cosigned
        views = [SignedView(note, f"peer {pid}")]
        attached = await self._attached(peer, client, others)
        if attached is not None:
            views.append(attached)
        for other in others:
            seen = await self._witnessed_by(other, peer) if other.reachable else None
            if seen is not None:
                views.append(seen)
        splits: list[SplitView] = []
        for view in views:
            splits.extend(await self._keep_view(peer, view))
        if splits:
            return WitnessOutcome(
                pid, SPLIT_VIEW, splits[0].tree_size, "refused: " + _split_text(splits[0])
            )
        # (4) against the last checkpoint of this log cosigned here
        last = await self._db(lambda conn: last_cosigned(conn, peer.origin))
        if last is not None and checkpoint.size < last.tree_size:
            return WitnessOutcome(
                pid, STALE, checkpoint.size, f"older than the cosigned size {last.tree_size}"
            )
        if last is not None and checkpoint.size == last.tree_size:
            delivered = await self._deliver(client, last.tree_size, last.cosignature)
            return WitnessOutcome(pid, UNCHANGED, last.tree_size, delivered=delivered)
        if last is not None:
            proof = await client.consistency(last.tree_size, checkpoint.size)
            try:
                verify_consistency(
                    last.tree_size, checkpoint.size, last.root_hash, checkpoint.root_hash, proof
                )
            except ProofError as exc:
                log.error(
                    "witness: peer %s's checkpoint %d is not consistent with the cosigned %d: %s",
                    pid,
                    checkpoint.size,
                    last.tree_size,
                    exc,
                )
                return WitnessOutcome(pid, INCONSISTENT, checkpoint.size, f"refused: {exc}")
        # (5) cosign and keep
        body, _ = split_note(note)
        cosig = Cosigner(self.signer).cosign(body, int(self.clock.now().timestamp()))
        row = Cosigned(
            checkpoint.origin,
            checkpoint.size,
            checkpoint.root_hash,
            pid,
            note,
            cosig.line(),
            self._now_us(),
        )
        await self._db(lambda conn: save_cosigned(conn, row))
        # (6) hand it to the peer
        delivered = await self._deliver(client, checkpoint.size, row.cosignature)
        return WitnessOutcome(pid, COSIGNED, checkpoint.size, delivered=delivered)

    async def _attached(
        self, peer: WitnessPeer, client: PeerLog, others: Sequence[WitnessPeer]
    ) -> SignedView | None:
        """(3) The checkpoint the peer serves with cosignatures, if it carries the log's
        signature and a valid cosignature of another known peer (a statement by that
        witness that it saw this tree)."""
        by_name = {o.cosignature_verifier.name: o for o in others}
        try:
            note = await client.cosigned_checkpoint()
            open_note(note, peer.log_verifier, origin=peer.origin)
            found = verified_cosignatures(note, [o.cosignature_verifier for o in others])
        except XinLianError as exc:
            log.info("witness: no cosigned checkpoint of %s (%s)", peer.gateway_id, exc.reason)
            return None
        names = sorted({by_name[c.name].gateway_id for c in found if c.name in by_name})
        return SignedView(note, "cosigned by " + ", ".join(names)) if names else None

    async def _witnessed_by(self, other: WitnessPeer, peer: WitnessPeer) -> SignedView | None:
        """(3) What ``other`` last cosigned of ``peer``'s log, if it carries the log's
        signature; an unreachable witness or a note that does not open is skipped."""
        try:
            client = self.connect(other)
        except XinLianError:
            return None
        try:
            note = await client.witnessed(peer.origin)
            if note:
                open_note(note, peer.log_verifier, origin=peer.origin)
                return SignedView(note, f"witness {other.gateway_id}")
        except XinLianError as exc:
            log.info(
                "witness: %s has no usable view of %s (%s)",
                other.gateway_id,
                peer.origin,
                exc.reason,
            )
        finally:
            await client.close()
        return None

    async def _keep_view(self, peer: WitnessPeer, view: SignedView) -> list[SplitView]:
        """Keep ``view``; a second root for its (origin, size) is a split view, whose
        evidence is kept too."""
        checkpoint = view.open(peer.log_verifier)
        row = View(
            checkpoint.origin,
            checkpoint.size,
            checkpoint.root_hash,
            view.note,
            view.source,
            self._now_us(),
        )
        known = await self._db(lambda conn: record_view(conn, row))
        found = []
        first = SignedView(known[0].note, known[0].source)
        for other in known[1:]:
            split = SplitView.between(
                peer.log_verifier, first, SignedView(other.note, other.source)
            )
            if split is not None:
                found.append(split)
                await self._keep_split(peer, split, known[0], other)
        return found

    async def _keep_split(self, peer: WitnessPeer, split: SplitView, a: View, b: View) -> None:
        row = SplitRow(
            0,
            peer.gateway_id,
            split.origin,
            split.tree_size,
            a.root_hash,
            a.note,
            a.source,
            b.root_hash,
            b.note,
            b.source,
            self._now_us(),
        )
        if await self._db(lambda conn: save_split(conn, row)):
            metrics.split_views.add(1, {"peer": peer.gateway_id})
            log.error("SPLIT VIEW: %s; both signed notes kept as evidence", _split_text(split))

    async def _deliver(self, client: PeerLog, tree_size: int, line: str) -> bool:
        try:
            await client.submit_cosignature(tree_size, line)
        except XinLianError as exc:
            log.warning("witness: cosignature of size %d not delivered (%s)", tree_size, exc.reason)
            return False
        return True


def _split_text(split: SplitView) -> str:
    return (
        f"log {split.origin} showed two trees of size {split.tree_size} "
        f"({split.first.source} and {split.second.source})"
    )


def checkpoint_of(note: str) -> Checkpoint:
    """The checkpoint a stored note carries (its signature was checked when stored)."""
    body, _ = split_note(note)
    return Checkpoint.parse(body)


async def run_witness(
    witness: Witness, peers: Callable[[], Sequence[WitnessPeer]], interval_s: float
) -> None:
    """Background task started with the server: a round at once, then every interval.
    ``peers`` is asked each round (``gateway.flows.witness_peers.configured_peers``).
    Returns when cancelled; a failed round is logged and retried at the next tick."""
    interval = max(MIN_WITNESS_INTERVAL_S, float(interval_s))
    while True:
        try:
            current = peers()
            if current:
                for outcome in await witness.round(current):
                    if outcome.status in FAILED_OUTCOMES:
                        log.warning(
                            "witness %s: %s %s", outcome.peer_id, outcome.status, outcome.message
                        )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("witness round failed: %s", type(exc).__name__)
        await asyncio.sleep(interval)
