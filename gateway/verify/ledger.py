"""Verification in one read snapshot: steps (1) to (4) of ``gateway.verify`` here (the leaf
scan, the checkpoints, the head), the column check of (1) in ``columns``, then (5) and (6)
in ``batches``."""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, select

from audit.checkpoint import NoteVerifier, open_note
from audit.entry import Action
from audit.levels import HashLevels
from audit.merkle import ProofError, verify_consistency
from gateway.store import schema
from gateway.store.committer import decode_frontier
from gateway.store.db import Store
from gateway.store.dialect import dialect_of
from gateway.store.ledger import all_checkpoints
from gateway.verify.batches import _check_batches
from gateway.verify.columns import (
    _check_columns,
    _column_candidates,
    _column_candidates_on,
    _columns_generated,
)
from gateway.verify.report import (
    _LEAF_PREFIX,
    CANDIDATE_CHUNK,
    EntryBodies,
    Problem,
    Retention,
    VerifyReport,
    _problem_order,
)
from gateway.verify.scan import SPLIT_MIN_ENTRIES, scan_ledger
from gateway.verify.tiles import TilePrefetch, check_tiles
from xinlian.errors import XinLianError


def verify_store(
    store: Store,
    verifier: NoteVerifier,
    origin: str,
    retention: Retention | None = None,
    *,
    split_min_entries: int = SPLIT_MIN_ENTRIES,
    require_covered: bool = False,
) -> VerifyReport:
    """Run every step of the module docstring in one read snapshot. On SQLite, a ledger
    of ``split_min_entries`` or more is scanned in two processes (``gateway.verify.scan``).
    ``require_covered``: entries no checkpoint covers are a problem, not a notice."""
    with _gc_paused(), store.snapshot() as conn:
        return verify_connection(
            conn,
            verifier,
            origin,
            retention or Retention(),
            store=store,
            split_min_entries=split_min_entries,
            require_covered=require_covered,
        )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The scan allocates a tuple per row, none in a reference cycle; pausing the cyclic
    collector meanwhile saves its repeated passes over them (a third of the scan time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def verify_connection(
    conn: Connection,
    verifier: NoteVerifier,
    origin: str,
    retention: Retention,
    *,
    store: Store | None = None,
    split_min_entries: int = SPLIT_MIN_ENTRIES,
    require_covered: bool = False,
) -> VerifyReport:
    """Every step on ``conn``. With ``store`` (the store ``conn`` belongs to), the
    PostgreSQL indexed-column check of step (1) runs concurrently on a second
    connection, and a SQLite ledger of ``split_min_entries`` or more is scanned in two
    processes; without it, everything runs on ``conn``."""
    report = VerifyReport()
    head_size, head_blob = conn.execute(
        select(schema.ledger_head.c.size, schema.ledger_head.c.frontier).where(
            schema.ledger_head.c.id == 1
        )
    ).one()
    head_size = int(head_size)
    report.tree_size = head_size
    checkpoints = all_checkpoints(conn)
    report.checkpoints = len(checkpoints)
    push_entries: EntryBodies = {}
    erasure_entries: EntryBodies = {}

    # (1) + (4) leaf hashes, columns and gaplessness, streaming in index order
    prefetch = TilePrefetch(conn)
    scan = _LeafScanPlan(head_size, _sqlite_file(store), split_min_entries, prefetch.read)
    levels, bad_leaves = _scan_entries(conn, report, push_entries, erasure_entries, store, scan)
    if levels.size != head_size:
        report.add(
            Problem(
                "head",
                "SIZE_MISMATCH",
                f"{levels.size} contiguous entries stored, ledger head says {head_size}",
                index=min(levels.size, head_size),
            )
        )

    # (2) + (3) checkpoints: signature, origin, root, consistency with the previous one
    roots = _RootCheck(conn, levels, bad_leaves)
    previous: tuple[int, bytes] | None = None
    for stored in checkpoints:
        size = stored.tree_size
        try:
            note = open_note(stored.note, verifier, origin=origin)
        except XinLianError as exc:
            report.add(Problem("checkpoint", exc.reason, f"checkpoint {size}: {exc}", index=None))
            continue
        if note.size != size or note.root_hash != stored.root_hash:
            report.add(
                Problem(
                    "checkpoint",
                    "CHECKPOINT_ROW_MISMATCH",
                    f"checkpoint {size}: stored size/root differ from the signed note",
                )
            )
            continue
        report.covered_size = max(report.covered_size, size)
        if size > levels.size:
            report.add(
                Problem(
                    "checkpoint",
                    "CHECKPOINT_BEYOND_LEDGER",
                    f"checkpoint {size} covers entries that are not stored "
                    f"(only {levels.size} contiguous entries)",
                    index=levels.size,
                )
            )
            continue
        exact, problem = roots.check(size, note.root_hash, f"checkpoint {size}")
        if problem is not None:
            report.add(problem)
        if not exact:
            continue
        if previous is not None:
            first_size, first_root = previous
            try:
                proof = levels.consistency_proof(first_size, size)
                verify_consistency(first_size, size, first_root, note.root_hash, proof)
            except (ProofError, XinLianError) as exc:
                report.add(
                    Problem(
                        "checkpoint",
                        "INCONSISTENT_CHECKPOINTS",
                        f"checkpoints {first_size} and {size}: {exc}",
                        index=first_size,
                    )
                )
        previous = (size, note.root_hash)

    # (2) the head: its frontier must be the one of the stored entries
    if levels.size == head_size:
        report.root_hash = levels.root(head_size)
        try:
            frontier = decode_frontier(head_size, bytes(head_blob))
        except (ProofError, ValueError):
            frontier = None
        if frontier is None:
            report.add(
                Problem("head", "ROOT_MISMATCH", "the ledger head's frontier cannot be decoded")
            )
        else:
            _, problem = roots.check(head_size, frontier.root(), "the ledger head")
            if problem is not None:
                report.add(problem)

    # (2) the stored tiles, against the recomputed tree
    check_tiles(conn, report, levels, bad_leaves, prefetch)

    # (2) entries that no checkpoint covers: rewritten together with their leaf hashes
    # and the head's frontier, nothing signed would disagree
    _check_covered(report, head_size, require_covered)

    # (5) + (6) provenance
    _check_batches(conn, report, push_entries, erasure_entries, retention)
    report.problems.sort(key=_problem_order)
    return report


MAX_LEAF_OVERRIDES = 10_000
"""Entries whose body does not hash to the stored leaf hash, at most, for which a root
that differs is recomputed with the bodies' hashes (``_RootCheck``)."""


class _RootCheck:
    """(2): the root of the stored leaf hashes at a checkpoint's size (or the head's)
    against the signed one, and where they differ, the narrowest place the checkpoints
    allow. Sizes come in increasing order.

    * the root matches: everything below that size verifies (``good``);
    * it does not, but it does once the stored leaf hash of each entry whose body does
      not hash to it (``LEAF_MISMATCH``) is replaced by its body's hash: only those
      stored leaf hashes were changed below that size, and the first of them not yet
      named is reported (``good`` moves on, a later checkpoint can still narrow down a
      further change);
    * otherwise some entry in ``[good, size)`` was changed consistently (body and leaf
      hash, rows swapped or renumbered): that interval is reported, once, since every
      later root contains the same change.

    Only the roots at these sizes are computed (the scan's levels hold every complete
    subtree), so this costs nothing per entry.
    """

    def __init__(self, conn: Connection, levels: HashLevels, bad_leaves: list[int]) -> None:
        self.conn = conn
        self.levels = levels
        self.bad_leaves = bad_leaves
        self.good = 0
        self.broken = False
        self._body_leaves: dict[int, bytes] | None = None

    def check(self, size: int, want: bytes, what: str) -> tuple[bool, Problem | None]:
        """Whether the stored leaf hashes reproduce ``want`` at ``size``, and the
        problem to report, if any (``what``: the checkpoint, or the ledger head)."""
        head = what == "the ledger head"
        kind = "head" if head else "ledger"
        if self.levels.root(size) == want:
            self.good = max(self.good, size)
            return True, None
        edited = self._explained(size, want)
        if edited is not None:
            new = [i for i in edited if i >= self.good]
            self.good = max(self.good, size)
            if not new:
                return False, None
            named = ", ".join(map(str, new[:10])) + (" …" if len(new) > 10 else "")
            return False, Problem(
                kind,
                "ROOT_MISMATCH",
                f"{what}: the stored leaf hashes do not reproduce its root, the hashes of "
                f"the entries' bodies do: the stored leaf hash of entry {named} was changed",
                index=new[0],
            )
        if size <= self.good:  # the head, at the size of a checkpoint that verifies
            return False, Problem(
                kind,
                "ROOT_MISMATCH",
                f"{what}: its frontier was changed (the entries reproduce the signed root "
                f"at its size {size})",
            )
        if self.broken:
            return False, None
        self.broken = True
        good = self.good
        where = "an entry" + (" or the ledger head's frontier" if head else "")
        return False, Problem(
            kind,
            "ROOT_MISMATCH",
            f"{where} in [{good}, {size}) was changed; the checkpoints do not allow a "
            f"narrower interval ({what}: the entries do not reproduce its root"
            + (f"; the first {good} entries reproduce a signed root)" if good else ")"),
            index=good,
            first_index=good,
            last_index=size - 1,
        )

    def _explained(self, size: int, want: bytes) -> list[int] | None:
        """The ``LEAF_MISMATCH`` entries below ``size`` if their bodies' hashes in place
        of their stored leaf hashes reproduce ``want``, else None."""
        edited = [i for i in self.bad_leaves if i < size]
        if not edited or len(self.bad_leaves) > MAX_LEAF_OVERRIDES:
            return None
        if self._body_leaves is None:
            self._body_leaves = _body_leaf_hashes(self.conn, self.bad_leaves)
        if any(i not in self._body_leaves for i in edited):
            return None
        if self.levels.root_with(size, self._body_leaves) != want:
            return None
        return edited


def _body_leaf_hashes(conn: Connection, indices: list[int]) -> dict[int, bytes]:
    """The leaf hashes of the bodies at ``indices`` (those still stored)."""
    t = schema.ledger_entries.c
    found: dict[int, bytes] = {}
    for start in range(0, len(indices), CANDIDATE_CHUNK):
        chunk = indices[start : start + CANDIDATE_CHUNK]
        for idx, body in conn.execute(select(t.idx, t.body).where(t.idx.in_(chunk))):
            if isinstance(body, str):
                body = body.encode("utf-8", "surrogatepass")
            if isinstance(body, bytes | bytearray | memoryview):
                found[int(idx)] = hashlib.sha256(_LEAF_PREFIX + bytes(body)).digest()
    return found


def _check_covered(report: VerifyReport, head_size: int, require_covered: bool) -> None:
    """``UNCOVERED_TAIL``: the entries after the largest validly signed checkpoint. A
    notice, or with ``require_covered`` a problem."""
    first = report.covered_size
    if head_size <= first:
        return
    last = head_size - 1
    report.uncovered = head_size - first
    finding = Problem(
        "ledger",
        "UNCOVERED_TAIL",
        f"entries {first}..{last} ({report.uncovered}) are covered by no signed checkpoint: "
        "rewritten together with their leaf hashes and the ledger head, they would still "
        "verify (sign one: xinlian audit checkpoint)",
        index=first,
        first_index=first,
        last_index=last,
    )
    if require_covered:
        report.add(finding)
    else:
        report.notices.append(finding)


# --------------------------------------------------------------------------- (1) + (4)


def _scan_entries(
    conn: Connection,
    report: VerifyReport,
    push_entries: EntryBodies,
    erasure_entries: EntryBodies,
    column_store: Store | None,
    plan: _LeafScanPlan,
) -> tuple[HashLevels, list[int]]:
    """(1) + (4) over every stored row, in index order; returns the tree of the stored
    leaf hashes and the indices whose body does not hash to its stored leaf hash.

    (a) SQLite: if the table is the expected one, the engine generates the indexed
        columns from the bodies and there is nothing to check (else ``SCHEMA_CHANGED``
        and every row is checked in (c)). PostgreSQL: the indexed-column check starts
        first, in the database engine: on a second connection in a thread when
        ``column_store`` is given (the engine works while this thread hashes), else on
        ``conn`` after the scan;
    (b) the leaf scan (``_scan_leaves``: ``gateway.verify.scan``, in two processes on
        a large SQLite ledger);
    (c) the column check's candidates (before the first gap, leaf hash good) are
        re-checked in Python, which names the column;
    (d) the bodies of the ``push.batch`` entries (for step (6)) and of the
        ``retention.erased`` entries (for step (5)) are read.
    """
    pool = None
    pending: Future[list[int] | None] | None = None
    generated = _columns_generated(conn, report)
    if not generated and column_store is not None and not dialect_of(conn).columns_generated:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-columns")
        pending = pool.submit(_column_candidates_on, column_store)
    candidates: list[int] | None = []  # generated columns: none to re-check
    try:
        levels, bad_leaf = _scan_leaves(conn, report, plan)
        if not generated:
            candidates = pending.result() if pending is not None else _column_candidates(conn)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    _check_columns(conn, report, levels.size, bad_leaf, candidates)
    # (d) push.batch and retention.erased bodies, as hashed above (same snapshot),
    # before the first gap
    t = schema.ledger_entries.c
    for idx, action, body in conn.execute(
        select(t.idx, t.action, t.body).where(
            t.action.in_((Action.PUSH_BATCH.value, Action.RETENTION_ERASED.value)),
            t.idx >= 0,
            t.idx < levels.size,
        )
    ):
        bodies = push_entries if action == Action.PUSH_BATCH.value else erasure_entries
        bodies[int(idx)] = bytes(body) if body is not None else None
    return levels, sorted(bad_leaf)


def _sqlite_file(store: Store | None) -> str | None:
    """The database file of a SQLite ``store``, for the scan worker (None: no file)."""
    return None if store is None else store.database_file


@dataclass(frozen=True)
class _LeafScanPlan:
    head_size: int
    scan_db: str | None
    split_min_entries: int
    while_waiting: Callable[[], None] | None = None


def _scan_leaves(
    conn: Connection, report: VerifyReport, plan: _LeafScanPlan
) -> tuple[HashLevels, set[int]]:
    """(b): gapless indices and leaf hashes over ``0..head_size-1`` (``gateway.verify.scan``:
    in two processes on a large SQLite ledger); returns the tree and the bad-leaf
    indices. Rows stored outside that range are reported here too."""
    scan = scan_ledger(
        conn,
        plan.head_size,
        sqlite_path=plan.scan_db,
        split_min_entries=plan.split_min_entries,
        while_waiting=plan.while_waiting,
    )
    found = scan.leaves
    for idx in found.bad_leaves:
        report.add(
            Problem(
                "ledger",
                "LEAF_MISMATCH",
                f"entry {idx}: body does not hash to the stored leaf hash",
                index=idx,
            )
        )
    if found.gap is not None:
        expected, stored = found.gap
        what = "missing" if stored > expected or stored < 0 else "out of order or duplicated"
        report.add(
            Problem(
                "ledger",
                "INDEX_GAP",
                f"ledger index {expected} is {what} (next stored index {stored})",
                index=expected,
            )
        )
    if scan.lowest is not None and scan.lowest < 0:
        report.add(
            Problem(
                "ledger",
                "INDEX_OUT_OF_RANGE",
                f"ledger index {scan.lowest} is stored; indices start at 0",
                index=0,
            )
        )
    if scan.highest is not None and scan.highest >= plan.head_size:
        report.add(
            Problem(
                "head",
                "SIZE_MISMATCH",
                f"entries are stored up to index {scan.highest}, "
                f"beyond the ledger head's size {plan.head_size}",
                index=plan.head_size,
            )
        )
    report.entries += found.entries
    report.pruned += found.pruned
    report.scan_processes = scan.processes
    return found.levels, set(found.bad_leaves)
