"""Reads of the audit ledger: entries, leaf hashes, checkpoints, and proofs over them.

The ledger is append-only, so each process keeps the leaf hashes it has read in memory
(``LeafCache``), together with every complete perfect subtree hash above them
(``HashLevels``). An inclusion or consistency proof then costs O(log² n) hash look-ups
instead of re-reading and re-hashing all n leaves per request.

Proofs are served only for tree sizes up to the latest stored checkpoint, so a client
can check every proof against a signed root. The cache is checked on every use:

1. the ledger head size must not be below the cached size (else the database was
   replaced: the cache is dropped);
2. new leaf hashes are read in index order and must be gapless;
3. whenever the cache is extended to a checkpoint's size, the root it computes must
   equal that checkpoint's signed root, or the cache is dropped and the request fails
   with ``IntegrityViolation``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Connection, select

from audit.levels import HashLevels
from gateway.store import schema
from xinlian.errors import IntegrityViolation, InvalidArgument, NotFound

LEAF_READ_CHUNK = 20_000
"""Leaf hashes read per query when the cache is extended."""
MAX_ENTRIES_PAGE = 1000
"""Most entries ``entries_page`` returns at once."""


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class LedgerRow:
    """One stored entry: its index, leaf hash, body (None once pruned), indexed columns."""

    idx: int
    leaf_hash: bytes
    body: bytes | None
    action: str
    actor: str
    credit_code: str | None
    outcome: str
    trace_id: str
    subject: str | None
    time_us: int


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    note: str
    created_at_us: int


ENTRY_COLUMNS = (
    schema.ledger_entries.c.idx,
    schema.ledger_entries.c.leaf_hash,
    schema.ledger_entries.c.body,
    schema.ledger_entries.c.action,
    schema.ledger_entries.c.actor,
    schema.ledger_entries.c.credit_code,
    schema.ledger_entries.c.outcome,
    schema.ledger_entries.c.trace_id,
    schema.ledger_entries.c.subject,
    schema.ledger_entries.c.time_us,
)


def row_to_entry(row: object) -> LedgerRow:
    r = row._mapping  # type: ignore[attr-defined]
    body = r["body"]
    return LedgerRow(
        idx=int(r["idx"]),
        leaf_hash=bytes(r["leaf_hash"]),
        body=bytes(body) if body is not None else None,
        action=r["action"],
        actor=r["actor"],
        credit_code=r["credit_code"],
        outcome=r["outcome"],
        trace_id=r["trace_id"],
        subject=r["subject"],
        time_us=int(r["time_us"]),
    )


def head_size(conn: Connection) -> int:
    size = conn.execute(
        select(schema.ledger_head.c.size).where(schema.ledger_head.c.id == 1)
    ).scalar_one()
    return int(size)


def entries_page(
    conn: Connection, start: int, limit: int, end: int | None = None
) -> list[LedgerRow]:
    """Entries with ``start <= idx < end``, in index order, at most ``limit``."""
    limit = max(0, min(limit, MAX_ENTRIES_PAGE))
    query = select(*ENTRY_COLUMNS).where(schema.ledger_entries.c.idx >= start)
    if end is not None:
        query = query.where(schema.ledger_entries.c.idx < end)
    rows = conn.execute(query.order_by(schema.ledger_entries.c.idx).limit(limit)).all()
    return [row_to_entry(r) for r in rows]


def leaf_hashes(conn: Connection, start: int, end: int) -> list[tuple[int, bytes]]:
    """``(idx, leaf_hash)`` for ``start <= idx < end``, in index order."""
    rows = conn.execute(
        select(schema.ledger_entries.c.idx, schema.ledger_entries.c.leaf_hash)
        .where(schema.ledger_entries.c.idx >= start, schema.ledger_entries.c.idx < end)
        .order_by(schema.ledger_entries.c.idx)
    ).all()
    return [(int(i), bytes(h)) for i, h in rows]


def _checkpoint(row: object) -> StoredCheckpoint:
    r = row._mapping  # type: ignore[attr-defined]
    return StoredCheckpoint(
        int(r["tree_size"]), bytes(r["root_hash"]), str(r["note"]), int(r["created_at_us"])
    )


def latest_checkpoint(conn: Connection) -> StoredCheckpoint | None:
    row = conn.execute(
        select(schema.checkpoints).order_by(schema.checkpoints.c.tree_size.desc()).limit(1)
    ).first()
    return _checkpoint(row) if row is not None else None


def checkpoint_at(conn: Connection, tree_size: int) -> StoredCheckpoint | None:
    row = conn.execute(
        select(schema.checkpoints).where(schema.checkpoints.c.tree_size == tree_size)
    ).first()
    return _checkpoint(row) if row is not None else None


def all_checkpoints(conn: Connection) -> list[StoredCheckpoint]:
    rows = conn.execute(select(schema.checkpoints).order_by(schema.checkpoints.c.tree_size)).all()
    return [_checkpoint(r) for r in rows]


# --------------------------------------------------------------------------- cache


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    proof: list[bytes]


class LeafCache:
    """Per-process cache of the ledger's leaf hashes, extended only up to checkpoints.

    Thread-safe (reads run on executor threads). See the module docstring for the
    checks made on each use.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._levels = HashLevels()

    @property
    def size(self) -> int:
        return self._levels.size

    def _sync(self, conn: Connection, checkpoint: StoredCheckpoint) -> HashLevels:
        # (1) a database that shrank (restored, replaced) invalidates the cache
        if head_size(conn) < self._levels.size:
            self._levels = HashLevels()
        target = checkpoint.tree_size
        if self._levels.size >= target:
            return self._levels
        # (2) read the missing leaf hashes in order; they must be gapless
        levels = self._levels
        while levels.size < target:
            start = levels.size
            chunk = leaf_hashes(conn, start, min(target, start + LEAF_READ_CHUNK))
            for offset, (idx, leaf) in enumerate(chunk):
                if idx != start + offset:
                    self._levels = HashLevels()
                    raise IntegrityViolation(
                        f"ledger index {start + offset} is missing", index=start + offset
                    )
                levels.append(leaf)
            if not chunk:
                self._levels = HashLevels()
                raise IntegrityViolation(f"ledger index {start} is missing", index=start)
        # (3) the extended cache must reproduce the signed root
        if levels.root(target) != checkpoint.root_hash:
            self._levels = HashLevels()
            raise IntegrityViolation(
                f"stored leaf hashes do not match the checkpoint of size {target}",
                reason="CHECKPOINT_MISMATCH",
            )
        return levels

    def inclusion(self, conn: Connection, index: int, tree_size: int) -> InclusionProof:
        """Inclusion proof of ``index`` in the tree of ``tree_size`` (0 = latest checkpoint)."""
        checkpoint = require_checkpoint(conn)
        size = tree_size or checkpoint.tree_size
        check_proof_size("tree_size", size, checkpoint.tree_size)
        if not 0 <= index < size:
            raise InvalidArgument.field("index", index, f"0..{size - 1}")
        with self._lock:
            levels = self._sync(conn, checkpoint)
            return InclusionProof(
                index, size, levels.leaf(index), levels.inclusion_proof(index, size)
            )

    def consistency(self, conn: Connection, first: int, second: int) -> list[bytes]:
        """Consistency proof between two sizes (``second`` 0 = latest checkpoint)."""
        checkpoint = require_checkpoint(conn)
        second = second or checkpoint.tree_size
        check_proof_size("second_size", second, checkpoint.tree_size)
        if not 0 <= first <= second:
            raise InvalidArgument.field("first_size", first, f"0..{second}")
        with self._lock:
            levels = self._sync(conn, checkpoint)
            return levels.consistency_proof(first, second)


def require_checkpoint(conn: Connection) -> StoredCheckpoint:
    checkpoint = latest_checkpoint(conn)
    if checkpoint is None:
        raise NotFound("no checkpoint has been signed yet", reason="NO_CHECKPOINT")
    return checkpoint


def check_proof_size(name: str, size: int, latest: int) -> None:
    if not 0 < size <= latest:
        raise InvalidArgument.field(name, size, f"1..{latest} (the latest checkpoint's size)")
