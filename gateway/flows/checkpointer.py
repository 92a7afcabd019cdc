"""Signs checkpoints of the ledger: at an interval (background task), on demand, and
when a gateway starts (before it serves) and stops gracefully (``sign_now``).

A checkpoint is the C2SP signed note ``origin / tree size / base64 root`` over the tree
the sequencer row ``ledger_head`` describes. Steps of ``sign_checkpoint``:

1. read the head (size and frontier) and the latest stored checkpoint in one transaction;
2. if the tree did not grow since the latest checkpoint, return that one (nothing new);
3. sign the note for the head's size and root;
4. insert it *if absent* by tree size: several gateway replicas may race to sign the
   same size, and the first row wins; the stored row is returned either way;
5. extend the stored tiles (``gateway.store.ledger_tiles``) to the same size, in the
   same transaction, unless they are too far behind (a ledger from before revision
   0008 whose tiles ``xinlian gateway tiles build`` has not built yet: logged once).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from audit.checkpoint import Checkpoint, NoteSigner
from gateway.flows.runtime import Runtime
from gateway.store import schema
from gateway.store.committer import decode_frontier
from gateway.store.db import Store
from gateway.store.ledger import StoredCheckpoint, checkpoint_at, latest_checkpoint
from gateway.store.ledger_tiles import MAX_CHECKPOINT_TILE_LEAVES, extend_tiles
from gateway.store.timeutil import to_us
from xinlian.clock import Clock

log = logging.getLogger(__name__)

MIN_CHECKPOINT_INTERVAL_S = 0.05
"""Shortest interval the background task accepts (protects the store from a bad config)."""

_tiles_warned: list[bool] = []


def _warn_tiles_behind() -> None:
    if not _tiles_warned:
        _tiles_warned.append(True)
        log.warning(
            "ledger tiles are behind the checkpoints; proofs read every leaf until "
            "'xinlian gateway tiles build' has run"
        )


def sign_checkpoint(
    store: Store, signer: NoteSigner, origin: str, clock: Clock
) -> StoredCheckpoint | None:
    """Sign and store a checkpoint of the current tree; None while the ledger is empty."""

    def txn(conn: Connection) -> StoredCheckpoint | None:
        # (1) head and latest checkpoint, one transaction
        size, blob = conn.execute(
            select(schema.ledger_head.c.size, schema.ledger_head.c.frontier).where(
                schema.ledger_head.c.id == 1
            )
        ).one()
        latest = latest_checkpoint(conn)
        # (2) nothing new to sign
        if size == 0:
            return latest
        if latest is not None and latest.tree_size >= size:
            return latest
        # (3) sign the head's tree
        root = decode_frontier(int(size), bytes(blob)).root()
        note = signer.sign_checkpoint(Checkpoint(origin, int(size), root))
        # (4) insert if absent (replicas may race for the same size)
        values = {
            "tree_size": int(size),
            "root_hash": root,
            "note": note,
            "created_at_us": to_us(clock.now()),
        }
        store.dialect.insert_if_absent(conn, schema.checkpoints, values, ("tree_size",))
        # (5) the tiles, in the same commit
        if extend_tiles(conn, store.dialect, int(size), MAX_CHECKPOINT_TILE_LEAVES) is None:
            _warn_tiles_behind()
        return checkpoint_at(conn, int(size))

    return store.write(txn)


async def sign_now(rt: Runtime) -> StoredCheckpoint | None:
    """``sign_checkpoint`` off the event loop. The server calls it at start-up, before
    it serves (a SIGKILL may have left entries that no checkpoint covers), and at a
    graceful shutdown, once the committer has stopped (the entries since the last tick);
    errors are the caller's."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        None, sign_checkpoint, rt.store, rt.signer, rt.config.origin, rt.clock
    )


async def sign_at_shutdown(rt: Runtime) -> None:
    """``sign_now`` at a graceful shutdown; a failure is logged (the next start-up signs
    over what is left), never raised."""
    try:
        stored = await sign_now(rt)
    except Exception as exc:
        log.error("checkpoint at shutdown failed: %s", type(exc).__name__)
        return
    if stored is not None:
        log.info("checkpoint at shutdown: tree size %d", stored.tree_size)


@dataclass
class CheckpointerState:
    """What the background task last achieved, for readiness and metrics: when a tick
    last left the whole ledger covered by a checkpoint (signed one, or found nothing new
    to sign), and the tree size it covered. An idle gateway keeps this fresh; a
    checkpointer that cannot sign lets it age."""

    covered_at: datetime | None = None
    tree_size: int = 0


async def run_checkpointer(rt: Runtime, state: CheckpointerState | None = None) -> None:
    """Background task started with the server: sign at once, then every interval.

    Returns when cancelled. A failed attempt is logged (type only) and retried at the
    next tick; it never stops the gateway.
    """
    interval = max(MIN_CHECKPOINT_INTERVAL_S, float(rt.config.checkpoint_interval_s))
    loop = asyncio.get_running_loop()
    while True:
        try:
            stored = await loop.run_in_executor(
                None, sign_checkpoint, rt.store, rt.signer, rt.config.origin, rt.clock
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("checkpoint signing failed: %s", type(exc).__name__)
        else:
            if state is not None:
                state.covered_at = rt.clock.now()
                state.tree_size = stored.tree_size if stored is not None else 0
        await asyncio.sleep(interval)
