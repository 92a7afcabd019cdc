"""Helpers for the localization and tail tests: grow a ledger to exact sizes, and
rewrite rows the way a forger with database access would (body, leaf hash, whole rows,
the head's frontier)."""

from __future__ import annotations

from sqlalchemy import Connection, func, select, update

from audit.entry import Action, Entry, Outcome
from audit.merkle import CompactRange, leaf_hash
from gateway.store import schema
from gateway.store.committer import LedgerTx, commit_now, encode_frontier
from gateway.store.db import Store
from xinlian.clock import SystemClock

T = schema.ledger_entries


def head_size(store: Store) -> int:
    return int(
        store.read(
            lambda c: c.execute(
                select(schema.ledger_head.c.size).where(schema.ledger_head.c.id == 1)
            ).scalar_one()
        )
    )


def latest_checkpoint_size(store: Store) -> int:
    return int(
        store.read(
            lambda c: c.execute(
                select(func.coalesce(func.max(schema.checkpoints.c.tree_size), 0))
            ).scalar_one()
        )
    )


def grow_to(store: Store, size: int) -> None:
    """Append officer searches until the ledger holds ``size`` entries; the details of
    entry ``i`` are ``{"query": "q<i>"}`` (not an indexed column: a rewrite of them
    keeps the PostgreSQL column copies right)."""
    start = head_size(store)

    def work(conn: Connection, ledger: LedgerTx) -> None:
        for i in range(start, size):
            ledger.append(
                Entry(
                    action=Action.AUDIT_SEARCH,
                    time=SystemClock().now(),
                    actor="officer-1",
                    actor_kind="officer",
                    outcome=Outcome.OK,
                    trace_id="t-localize",
                    details={"query": f"q{i}"},
                )
            )

    if size > start:
        commit_now(store, SystemClock(), work)
    assert head_size(store) == size


def row(store: Store, idx: int) -> tuple[bytes, bytes]:
    body, leaf = store.read(
        lambda c: c.execute(select(T.c.body, T.c.leaf_hash).where(T.c.idx == idx)).one()
    )
    return bytes(body), bytes(leaf)


def rewritten_body(store: Store, idx: int) -> bytes:
    """Entry ``idx`` (made by ``grow_to``) with another query in its details."""
    body, _ = row(store, idx)
    forged = body.replace(f'"q{idx}"'.encode(), b'"forged"')
    assert forged != body
    return forged


def set_leaf_hash(store: Store, idx: int, value: bytes) -> None:
    store.write(lambda c: c.execute(update(T).where(T.c.idx == idx).values(leaf_hash=value)))


def rewrite_consistently(store: Store, idx: int) -> None:
    """Body and leaf hash together: the row is self-consistent."""
    body = rewritten_body(store, idx)
    store.write(
        lambda c: c.execute(
            update(T).where(T.c.idx == idx).values(body=body, leaf_hash=leaf_hash(body))
        )
    )


def swap_rows(store: Store, a: int, b: int) -> None:
    """Swap two whole rows (every column, by renumbering): each stays self-consistent."""

    def run(conn: Connection) -> None:
        conn.execute(update(T).where(T.c.idx == a).values(idx=-1_000_000))
        conn.execute(update(T).where(T.c.idx == b).values(idx=a))
        conn.execute(update(T).where(T.c.idx == -1_000_000).values(idx=b))

    store.write(run)


def rewrite_head_frontier(store: Store) -> None:
    """Recompute the sequencer row's frontier from the stored leaf hashes."""

    def run(conn: Connection) -> None:
        leaves = [bytes(h) for (h,) in conn.execute(select(T.c.leaf_hash).order_by(T.c.idx))]
        conn.execute(
            update(schema.ledger_head)
            .where(schema.ledger_head.c.id == 1)
            .values(
                size=len(leaves), frontier=encode_frontier(CompactRange.from_leaf_hashes(leaves))
            )
        )

    store.write(run)
