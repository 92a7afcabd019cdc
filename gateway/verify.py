"""Verification of the whole ledger and of the stored provenance, from the database.

What ``xinlian audit verify --home DIR`` runs. All reads happen in one snapshot (SQLite:
one read transaction; PostgreSQL: REPEATABLE READ), so a gateway may keep writing.

Steps, numbered as in the code:

1. recompute each leaf hash from its stored body (pruned bodies are skipped, their
   stored leaf hash is still used) and make sure that the indexed columns (action,
   actor, outcome, trace id, credit code, subject, time) say what the body says. On
   SQLite the engine generates them from the body (``gateway.store.ledger_ddl``), so
   they cannot differ: the table's stored definition is compared with the expected one
   instead, and if it differs (say the table was rebuilt with stored columns to edit
   them) that is reported (``SCHEMA_CHANGED``) and every row's columns are checked in
   Python. On PostgreSQL they are stored: checked row by row in SQL, the rows it flags
   re-checked in Python. Not checkable: a pruned row's columns (SQLite: its
   ``summary``), its body being gone; and, on SQLite, a table definition rewritten in
   ``sqlite_master`` (``writable_schema``) so that it no longer describes how the rows
   are stored, which corrupts the file (``PRAGMA integrity_check`` finds it);
2. recompute the root at every stored checkpoint's size and at the head, and compare
   with each checkpoint and with the sequencer row ``ledger_head`` (size and frontier);
3. check each checkpoint's signature with the verifier key (and its origin), and the
   consistency proof between consecutive checkpoints;
4. check indices are gapless ``0..size-1`` (a deleted, reordered or inserted row);
5. check each batch's signature with the public key of the signer certificate (which
   must belong to the pushing node), and that every stored record row, fields included,
   is one the agent signed in that batch's canonical bytes (records that retention
   deleted, expired negative credit information, may be missing: ``Retention``). A
   batch whose signed bytes retention erased (``gateway.erasure``) has instead:
   (a) its ``batch_erasures`` row (else ``BATCH_BYTES_MISSING``) and a signer
   certificate of the pushing node; (b) a ``retention.erased`` entry at the erasure's
   ledger index saying this batch, the erased bytes' SHA-256 and the SHA-256 of the
   erasure's ``kept`` list (else ``ERASURE_MISMATCH``; retention never prunes the body
   of such an entry, so a missing body is a mismatch too); (c) every stored record row
   in ``kept`` with the same record digest, and every kept record stored unless
   retention may have deleted it since;
6. check each ``push.batch`` entry against its batch row.

The result is a ``VerifyReport``: every problem found (up to ``MAX_PROBLEMS``), and the
first bad ledger index. An entry whose body does not hash to its stored leaf hash is
named (``LEAF_MISMATCH``); if only its stored leaf hash was changed, the roots it breaks
are reproduced with its body's hash instead, and that entry is named for them too. An
alteration that keeps every leaf hash consistent with its body (a body rewritten with
its leaf hash, rows swapped or renumbered) shows only as a root that no longer matches:
it is reported as an interval, ``[a, b)`` between the largest checkpoint size whose
root still matches and the smallest whose root does not (``ROOT_MISMATCH`` with
``first_index``/``last_index``), the first bad index being ``a``. Entries after the
largest signed checkpoint are covered by nothing signed: they are reported as
``UNCOVERED_TAIL``, a notice unless ``require_covered`` makes it a problem.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from cryptography import x509
from sqlalchemy import Connection, select

from audit.checkpoint import NoteVerifier, open_note
from audit.entry import Action
from audit.levels import HashLevels
from audit.merkle import ProofError, verify_consistency
from gateway import batch_storage
from gateway.committer import decode_frontier
from gateway.erasure import KeptRecord, decode_kept, erasure_mismatch, record_sha256
from gateway.ledger_store import all_checkpoints
from gateway.store import schema
from gateway.store.db import Store
from gateway.store.ledger_ddl import columns_generated, definition_difference
from gateway.store.timeutil import from_us, to_us
from gateway.verify_scan import SPLIT_MIN_ENTRIES, scan_ledger
from xinlian.batch import decode_batch, format_time, parse_time, record_json
from xinlian.errors import PermissionDenied, XinLianError
from xinlian.signing import load_public_key, public_key_pem, verify

MAX_PROBLEMS = 100
"""Problems collected before verification stops listing (it still counts them)."""
ROW_CHUNK = 16_384
"""Ledger rows read per query (index, leaf hash and body only)."""
CANDIDATE_CHUNK = 500
"""Rows re-checked in Python per query (those the engine's column check flagged)."""
BATCH_CHUNK = 500
"""Batches (with their records) read per query."""

_LEAF_PREFIX = b"\x00"
T = TypeVar("T")

EntryBodies = dict[int, bytes | None]
"""Ledger entry bodies by index (None: pruned)."""


@dataclass(frozen=True)
class Problem:
    """One finding. ``kind`` is ledger, head, checkpoint, batch or record. A finding
    about a range of entries (``ROOT_MISMATCH`` that the checkpoints cannot narrow
    further, ``UNCOVERED_TAIL``) has ``first_index`` and ``last_index`` (inclusive), and
    ``index`` is ``first_index``."""

    kind: str
    code: str
    message: str
    index: int | None = None
    object_id: str | None = None
    first_index: int | None = None
    last_index: int | None = None

    @property
    def is_interval(self) -> bool:
        """Some entry in ``first_index..last_index`` was changed, which one is unknown."""
        return self.code == "ROOT_MISMATCH" and self.first_index is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "message": self.message,
            "index": self.index,
            "first_index": self.first_index,
            "last_index": self.last_index,
            "object": self.object_id,
        }


@dataclass
class VerifyReport:
    tree_size: int = 0
    root_hash: bytes = b""
    entries: int = 0
    pruned: int = 0
    checkpoints: int = 0
    batches: int = 0
    erased_batches: int = 0
    records: int = 0
    scan_processes: int = 1
    covered_size: int = 0
    """Entries ``0..covered_size-1`` are covered by a validly signed checkpoint."""
    uncovered: int = 0
    """Entries after ``covered_size`` up to the head: covered by no checkpoint."""
    problem_count: int = 0
    problems: list[Problem] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)
    """Findings that do not fail the report (``UNCOVERED_TAIL`` unless required)."""

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first_bad_index(self) -> int | None:
        indices = [p.index for p in self.problems if p.index is not None]
        return min(indices) if indices else None

    @property
    def first_bad_interval(self) -> tuple[int, int] | None:
        """``[a, b)`` when the first bad index is only known to lie in an interval (the
        checkpoints allow no narrower one; ``a`` is ``first_bad_index``), else None."""
        first = self.first_bad_index
        at = [p for p in self.problems if p.index is not None and p.index == first]
        if not at or not all(p.is_interval for p in at):
            return None
        last = min(p.last_index for p in at if p.last_index is not None)
        return (at[0].first_index or 0, last + 1)

    @property
    def uncovered_range(self) -> tuple[int, int] | None:
        """First and last index (inclusive) of the entries no checkpoint covers."""
        if not self.uncovered:
            return None
        return (self.covered_size, self.covered_size + self.uncovered - 1)

    @property
    def first_bad_object(self) -> str | None:
        for problem in self.problems:
            if problem.kind in ("batch", "record"):
                return problem.object_id
        return None

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "entries": self.entries,
            "pruned": self.pruned,
            "checkpoints": self.checkpoints,
            "batches": self.batches,
            "erased_batches": self.erased_batches,
            "records": self.records,
            "scan_processes": self.scan_processes,
            "covered_size": self.covered_size,
            "uncovered": self.uncovered,
            "uncovered_range": list(r) if (r := self.uncovered_range) else None,
            "first_bad_index": self.first_bad_index,
            "first_bad_interval": list(i) if (i := self.first_bad_interval) else None,
            "first_bad_object": self.first_bad_object,
            "problem_count": self.problem_count,
            "problems": [p.to_json() for p in self.problems],
            "notices": [p.to_json() for p in self.notices],
        }


@dataclass(frozen=True)
class Retention:
    """What retention may have deleted: records of ``negative_categories`` whose signed
    event time is before ``negative_cutoff`` (see ``gateway.retention``)."""

    negative_categories: frozenset[str] = frozenset()
    negative_cutoff: datetime | None = None

    def allows_missing(self, category: str, item: dict[str, Any]) -> bool:
        if self.negative_cutoff is None or category not in self.negative_categories:
            return False
        try:
            return parse_time(str(item.get("event_time"))) < self.negative_cutoff
        except ValueError:
            return False


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
    of ``split_min_entries`` or more is scanned in two processes (``verify_scan``).
    ``require_covered``: entries no checkpoint covers are a problem, not a notice."""
    options: dict[str, Any] = {} if store.sqlite else {"isolation_level": "REPEATABLE READ"}
    with (
        _gc_paused(),
        store.engine.connect().execution_options(**options) as conn,
        conn.begin(),
    ):
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
    scan = _LeafScanPlan(head_size, _sqlite_file(store), split_min_entries)
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


def _problem_order(problem: Problem) -> tuple[int, int]:
    index = problem.index if problem.index is not None else 2**63
    return (index, 0 if problem.kind == "ledger" else 1)


# --------------------------------------------------------------------------- (1) + (4)

# The indexed-column check in the database engine (PostgreSQL; SQLite generates the
# columns from the body): the indices of the rows whose columns may not say what their
# body says (a superset: each is re-checked in Python). Per row, the body's values of
# the seven keys, as a JSON array, must equal the array of the column values (the time
# column formatted as the body writes it). Both sides are JSON values made by the same
# engine, so equal arrays mean equal values; a value the engine merely spells
# differently only costs a Python re-check. A body the engine cannot parse makes the
# query fail: every row is then checked in Python.
_POSTGRES_COLUMN_CANDIDATES = """
SELECT e.idx FROM ledger_entries e
CROSS JOIN LATERAL (SELECT convert_from(e.body, 'UTF8')::jsonb AS j) b
WHERE e.body IS NOT NULL
  AND jsonb_build_array(b.j -> 'action', b.j -> 'actor', b.j -> 'outcome',
                        b.j -> 'trace_id', b.j -> 'credit_code', b.j -> 'subject',
                        b.j -> 'time')
  IS DISTINCT FROM
      jsonb_build_array(e.action, e.actor, e.outcome, e.trace_id, e.credit_code, e.subject,
                        to_char(TIMESTAMP '1970-01-01' + e.time_us * INTERVAL '1 microsecond',
                                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
"""
_COLUMN_CANDIDATES = {"postgresql": _POSTGRES_COLUMN_CANDIDATES}


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
    (b) the leaf scan (``_scan_leaves``: ``gateway.verify_scan``, in two processes on
        a large SQLite ledger);
    (c) the column check's candidates (before the first gap, leaf hash good) are
        re-checked in Python, which names the column;
    (d) the bodies of the ``push.batch`` entries (for step (6)) and of the
        ``retention.erased`` entries (for step (5)) are read.
    """
    pool = None
    pending: Future[list[int] | None] | None = None
    generated = _columns_generated(conn, report)
    if not generated and column_store is not None and conn.dialect.name in _COLUMN_CANDIDATES:
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
    if store is None or not store.sqlite:
        return None
    path = store.engine.url.database
    return path if path and path != ":memory:" else None


@dataclass(frozen=True)
class _LeafScanPlan:
    head_size: int
    scan_db: str | None
    split_min_entries: int


def _scan_leaves(
    conn: Connection, report: VerifyReport, plan: _LeafScanPlan
) -> tuple[HashLevels, set[int]]:
    """(b): gapless indices and leaf hashes over ``0..head_size-1`` (``verify_scan``:
    in two processes on a large SQLite ledger); returns the tree and the bad-leaf
    indices. Rows stored outside that range are reported here too."""
    scan = scan_ledger(
        conn,
        plan.head_size,
        sqlite_path=plan.scan_db,
        split_min_entries=plan.split_min_entries,
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


def _columns_generated(conn: Connection, report: VerifyReport) -> bool:
    """(a) True if the engine generates the indexed columns from each row's body (or
    ``summary``): on SQLite, when ``ledger_entries`` is defined exactly as
    ``ledger_ddl.SQLITE_LEDGER_TABLE``. A SQLite table defined otherwise is reported
    (``SCHEMA_CHANGED``) and False returned, so every row's columns are checked."""
    if not columns_generated(conn.dialect.name):
        return False
    found = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger_entries'"
    ).scalar()
    difference = definition_difference(found)
    if difference is None:
        return True
    report.add(
        Problem(
            "ledger",
            "SCHEMA_CHANGED",
            f"table ledger_entries: {difference} (its indexed columns are not generated "
            "from the entries; every row's columns are checked instead)",
            index=None,
        )
    )
    return False


def _column_candidates_on(store: Store) -> list[int] | None:
    """(a) on a connection of its own: a read snapshot taken just after the caller's.
    The ledger is append-only, so the rows the scan checks are the same ones (a body
    pruned in between is skipped here and still hash-checked by the scan)."""
    options: dict[str, Any] = {} if store.sqlite else {"isolation_level": "REPEATABLE READ"}
    with store.engine.connect().execution_options(**options) as conn, conn.begin():
        return _column_candidates(conn)


def _column_candidates(conn: Connection) -> list[int] | None:
    """(a) the indices the engine finds suspicious, or None if it cannot tell (a body
    it cannot parse, an engine without the query: SQLite, whose table was changed):
    then every row is checked in Python."""
    query = _COLUMN_CANDIDATES.get(conn.dialect.name)
    if query is None:
        return None
    errors = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.cursor()
    try:
        cursor.execute("SAVEPOINT verify_columns")
        try:
            cursor.execute(query)
            found = sorted(int(idx) for (idx,) in cursor.fetchall())
        except errors:
            cursor.execute("ROLLBACK TO SAVEPOINT verify_columns")
            found = None
        cursor.execute("RELEASE SAVEPOINT verify_columns")
        return found
    finally:
        cursor.close()


def _check_columns(
    conn: Connection,
    report: VerifyReport,
    end: int,
    bad_leaf: set[int],
    candidates: list[int] | None,
) -> None:
    """(c) the indexed columns of each candidate row (all rows if ``candidates`` is None)
    before ``end``, whose body hashed right, say what the body says."""
    t = schema.ledger_entries.c
    columns = (
        t.idx,
        t.leaf_hash,
        t.body,
        t.action,
        t.actor,
        t.outcome,
        t.trace_id,
        t.credit_code,
        t.subject,
        t.time_us,
    )
    check = _ColumnCheck()
    if candidates is None:
        queries = [
            select(*columns).where(t.idx >= start, t.idx < min(end, start + ROW_CHUNK))
            for start in range(0, end, ROW_CHUNK)
        ]
    else:
        wanted = [idx for idx in candidates if 0 <= idx < end and idx not in bad_leaf]
        queries = [
            select(*columns).where(t.idx.in_(wanted[i : i + CANDIDATE_CHUNK]))
            for i in range(0, len(wanted), CANDIDATE_CHUNK)
        ]
    for query in queries:
        for row in conn.execute(query.order_by(t.idx)):
            idx, body = int(row[0]), row[2]
            if body is None or idx in bad_leaf:
                continue
            bad = check.mismatch(bytes(body), row)
            if bad:
                report.add(
                    Problem(
                        "ledger",
                        "COLUMN_MISMATCH",
                        f"entry {idx}: indexed column {bad} differs from the entry",
                        index=idx,
                    )
                )


def _quote(value: str | None) -> str:
    """``json.dumps(value, ensure_ascii=False)``, with a fast path for plain text."""
    if value is None:
        return "null"
    if value.isprintable() and '"' not in value and "\\" not in value:
        return '"' + value + '"'
    return json.dumps(value, ensure_ascii=False)


class _ColumnCheck:
    """Compares a row's indexed columns with its canonical entry bytes without parsing.

    Canonical entry JSON has its keys sorted, no spaces, and strings escaped (so no
    unescaped quote inside a value). Hence the bytes *start* with
    ``{"action":A,"actor":B,"actor_kind":`` and *end* with
    ``,"outcome":O,"subject":S,"time":T,"trace_id":R,"v":1}``; the first
    ``,"credit_code":`` after the prefix is the top-level key (``details`` comes later)
    and is followed by the credit code and ``,"details":``. Anything else is a mismatch;
    the slow path (``json.loads``) then names the column.
    """

    MAX_TIME_CACHE = 4096
    MAX_QUOTE_CACHE = 4096

    def __init__(self) -> None:
        self._seconds: dict[int, str] = {}
        self._quotes: dict[str | None, str] = {}

    def _time(self, time_us: int) -> str:
        seconds, micros = divmod(time_us, 1_000_000)
        text = self._seconds.get(seconds)
        if text is None:
            if len(self._seconds) >= self.MAX_TIME_CACHE:
                self._seconds.clear()
            text = _entry_time(seconds * 1_000_000)[:19]
            self._seconds[seconds] = text
        return f"{text}.{micros:06d}Z"

    def _quoted(self, value: str | None) -> str:
        """``_quote`` for values that repeat (actions, actors, outcomes, codes), cached."""
        text = self._quotes.get(value)
        if text is None:
            if len(self._quotes) >= self.MAX_QUOTE_CACHE:
                self._quotes.clear()
            text = self._quotes[value] = _quote(value)
        return text

    def mismatch(self, body: bytes, row: Any) -> str | None:
        _, _, _, action, actor, outcome, trace_id, code, subject, time_us = row
        quoted = self._quoted
        head = '{"action":' + quoted(action) + ',"actor":' + quoted(actor) + ',"actor_kind":'
        tail = (
            ',"outcome":'
            + quoted(outcome)
            + ',"subject":'
            + _quote(subject)
            + ',"time":"'
            + self._time(time_us)
            + '","trace_id":'
            + _quote(trace_id)
            + ',"v":1}'
        )
        prefix, suffix = head.encode(), tail.encode()
        if body.startswith(prefix) and body.endswith(suffix):
            at = body.find(b',"credit_code":', len(prefix))
            value = (quoted(code) + ',"details":').encode()
            if at >= 0 and body.startswith(value, at + 15):
                return None
        return _slow_mismatch(body, row)


def _entry_time(time_us: int) -> str:
    """``time_us`` as an entry's body writes its time (``audit.entry``: ISO 8601, four
    digit years even below 1000, which ``strftime("%Y")`` does not pad on glibc)."""
    naive = from_us(time_us).replace(tzinfo=None)
    return naive.isoformat(timespec="microseconds") + "Z"


def _slow_mismatch(body: bytes, row: Any) -> str:
    """Name the first indexed column that does not say what the body says."""
    _, _, _, action, actor, outcome, trace_id, code, subject, time_us = row
    try:
        obj = json.loads(body)
    except ValueError:
        return "body (not JSON)"
    if not isinstance(obj, dict):
        return "body (not an object)"
    named = {
        "action": action,
        "actor": actor,
        "outcome": outcome,
        "trace_id": trace_id,
        "credit_code": code,
        "subject": subject,
        "time": _entry_time(int(time_us)),
    }
    for name, value in named.items():
        if obj.get(name) != value:
            return name
    return "body (not canonical)"


# --------------------------------------------------------------------------- (5) + (6)


def _check_batches(
    conn: Connection,
    report: VerifyReport,
    push_entries: EntryBodies,
    erasure_entries: EntryBodies,
    retention: Retention,
) -> None:
    b, r, e = schema.batches.c, schema.records.c, schema.batch_erasures.c
    keys: dict[str, Any] = {}
    batch_ids: set[int] = set()
    last = 0
    while True:
        batches = conn.execute(
            select(schema.batches).where(b.id > last).order_by(b.id).limit(BATCH_CHUNK)
        ).all()
        if not batches:
            break
        first, last = last, int(batches[-1].id)
        pks = [int(row.id) for row in batches]
        batch_ids.update(pks)
        records: dict[int, list[Any]] = {}
        for rec in conn.execute(
            select(schema.records).where(r.batch_pk.in_(pks)).order_by(r.id)
        ).all():
            records.setdefault(int(rec.batch_pk), []).append(rec)
        erasures = {
            int(row.batch_pk): row
            for row in conn.execute(
                select(schema.batch_erasures).where(e.batch_pk > first, e.batch_pk <= last)
            )
        }
        for batch in batches:
            report.batches += 1
            rows = records.get(int(batch.id), [])
            report.records += len(rows)
            erasure = erasures.get(int(batch.id))
            if batch.canonical is None:
                report.erased_batches += 1
                _check_erased_batch(conn, report, batch, erasure, erasure_entries, keys)
                _check_kept_records(report, batch, rows, erasure, retention)
                _check_push_entry(report, batch, rows, push_entries, None, retention, erasure)
                continue
            if erasure is not None:
                report.add(_erasure_problem(batch, "its signed bytes are still stored"))
            check_stored_batch(conn, report, batch, rows, push_entries, retention, keys)
    # records pointing at no batch: provenance lost
    orphans = conn.execute(
        select(r.id, r.source_node_id, r.record_id, r.version, r.batch_pk).order_by(r.id)
    ).all()
    for rec in orphans:
        if int(rec.batch_pk) not in batch_ids:
            report.records += 1
            report.add(
                Problem(
                    "record",
                    "NO_BATCH",
                    f"record {_record_name(rec)} refers to batch {rec.batch_pk}, not stored",
                    object_id=_record_name(rec),
                )
            )


def _batch_name(batch: Any) -> str:
    return f"batch {batch.node_id}/{batch.batch_id}"


def _record_name(rec: Any) -> str:
    return f"{rec.source_node_id}/{rec.record_id}@{rec.version}"


def check_stored_batch(
    conn: Connection,
    report: VerifyReport,
    batch: Any,
    rows: list[Any],
    push_entries: EntryBodies,
    retention: Retention,
    keys: dict[str, Any],
) -> list[dict[str, Any]] | None:
    """(5) + (6) for a batch row whose signed bytes are stored, with its record rows and
    the ``push.batch`` bodies by index; ``keys`` caches signer keys by fingerprint.
    Returns the signed records, or None if the bytes cannot be trusted (reported)."""
    signed = _check_batch(conn, report, batch, keys)
    if signed is not None:
        _check_records(report, batch, rows, signed)
        _check_earliest_event(report, batch, signed)
    _check_push_entry(report, batch, rows, push_entries, signed, retention)
    return signed


def _check_earliest_event(report: VerifyReport, batch: Any, signed: list[dict[str, Any]]) -> None:
    """(5) ``earliest_event_us``, which retention selects batches by, is the earliest
    event time of the signed records (NULL: stored before it existed, nothing to
    compare): a later value would keep due records' bytes from being erased."""
    stored = batch.earliest_event_us
    if stored is None:
        return
    try:
        earliest: int | None = min(to_us(parse_time(str(i.get("event_time")))) for i in signed)
    except ValueError:
        earliest = None
    if earliest != int(stored):
        name = _batch_name(batch)
        report.add(
            Problem(
                "batch",
                "EARLIEST_EVENT_MISMATCH",
                f"{name}: earliest_event_us differs from its signed records' earliest event",
                None,
                name,
            )
        )


def _check_signer(conn: Connection, report: VerifyReport, batch: Any, keys: dict[str, Any]) -> Any:
    """(5) the signer certificate is stored and is the pushing node's; returns its key."""
    name = _batch_name(batch)
    fp = str(batch.signer_fingerprint)
    if fp not in keys:
        keys[fp] = _signer_key(conn, fp)
    signer = keys[fp]
    if signer is None:
        report.add(
            Problem("batch", "UNKNOWN_SIGNER", f"{name}: signer certificate not stored", None, name)
        )
        return None
    node_id, key = signer
    if node_id != batch.node_id:
        report.add(
            Problem(
                "batch",
                "WRONG_SIGNER",
                f"{name}: signed with a certificate of node {node_id}",
                None,
                name,
            )
        )
        return None
    return key


def stored_bytes(batch: Any) -> bytes | None:
    """The signed bytes a batch row keeps (``gateway.batch_storage``), or None if they
    do not unpack (reported by the caller)."""
    try:
        return batch_storage.unpack(bytes(batch.canonical), str(batch.canonical_encoding))
    except batch_storage.UnreadableBytes:
        return None


def _check_batch(
    conn: Connection, report: VerifyReport, batch: Any, keys: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """(5) the signature and the signed bytes' header; returns the signed records."""
    name = _batch_name(batch)
    key = _check_signer(conn, report, batch, keys)
    if key is None:
        return None
    canonical = stored_bytes(batch)
    if canonical is None:
        report.add(
            Problem("batch", "BAD_CANONICAL", f"{name}: stored bytes unreadable", None, name)
        )
        return None
    try:
        verify(key, canonical, bytes(batch.signature), what=name)
    except PermissionDenied:
        report.add(
            Problem("batch", "BAD_SIGNATURE", f"{name}: signature does not verify", None, name)
        )
        return None
    try:
        obj = decode_batch(canonical)
    except (ValueError, UnicodeDecodeError):
        report.add(
            Problem("batch", "BAD_CANONICAL", f"{name}: signed bytes unreadable", None, name)
        )
        return None
    for column in ("node_id", "batch_id", "category"):
        if obj.get(column) != getattr(batch, column):
            report.add(
                Problem(
                    "batch", "HEADER_MISMATCH", f"{name}: {column} differs from signed", None, name
                )
            )
            return None
    records = obj.get("records")
    if not isinstance(records, list) or not all(isinstance(i, dict) for i in records):
        report.add(
            Problem("batch", "BAD_CANONICAL", f"{name}: signed records unreadable", None, name)
        )
        return None
    return records


def _signer_key(conn: Connection, fp: str) -> tuple[str, Any] | None:
    row = conn.execute(
        select(schema.certificates.c.node_id, schema.certificates.c.pem).where(
            schema.certificates.c.fingerprint == fp
        )
    ).first()
    if row is None:
        return None
    try:
        cert = x509.load_pem_x509_certificate(str(row.pem).encode("ascii"))
        key = load_public_key(public_key_pem(cert.public_key()))  # type: ignore[arg-type]
    except (ValueError, TypeError, XinLianError):
        return None
    return str(row.node_id), key


def _check_records(
    report: VerifyReport,
    batch: Any,
    rows: list[Any],
    signed_records: list[dict[str, Any]],
) -> None:
    """(5) every stored record row is, field for field, one the agent signed."""
    signed = {(str(i.get("record_id")), i.get("version")): i for i in signed_records}
    _check_rows(report, batch, rows, signed, _signed_mismatch, ("its batch", "the signed batch"))


def _signed_mismatch(rec: Any, item: dict[str, Any]) -> str | None:
    try:
        fields = json.loads(rec.fields)
    except ValueError:
        fields = None
    if item.get("credit_code") != rec.credit_code:
        return "credit_code"
    if item.get("event_time") != format_time(from_us(int(rec.event_time_us))):
        return "event_time"
    if item.get("fields") != fields:
        return "fields"
    return None


def _check_rows(
    report: VerifyReport,
    batch: Any,
    rows: list[Any],
    reference: Mapping[tuple[str, Any], T],
    mismatch: Callable[[Any, T], str | None],
    names: tuple[str, str],
) -> None:
    """(5) every stored record row is in ``reference`` by (record id, version) (else
    ``NOT_SIGNED``), belongs to the batch's node and category, and ``mismatch`` finds
    nothing that differs from its reference (else ``RECORD_MISMATCH``). ``names``: what
    the reference is, for the messages."""
    where, against = names
    for rec in rows:
        name = _record_name(rec)
        item = reference.get((str(rec.record_id), int(rec.version)))
        if item is None:
            report.add(
                Problem("record", "NOT_SIGNED", f"record {name}: not in {where}", None, name)
            )
            continue
        if rec.source_node_id != batch.node_id:
            bad: str | None = "source_node_id"
        elif rec.category != batch.category:
            bad = "category"
        else:
            bad = mismatch(rec, item)
        if bad is not None:
            report.add(
                Problem(
                    "record",
                    "RECORD_MISMATCH",
                    f"record {name}: {bad} differs from {against}",
                    None,
                    name,
                )
            )


def _erasure_problem(batch: Any, what: str) -> Problem:
    name = _batch_name(batch)
    return Problem("batch", "ERASURE_MISMATCH", f"{name}: {what}", None, name)


def _check_erased_batch(
    conn: Connection,
    report: VerifyReport,
    batch: Any,
    erasure: Any,
    erasure_entries: EntryBodies,
    keys: dict[str, Any],
) -> None:
    """(5a, 5b) a batch whose signed bytes are gone: the signer is still the pushing
    node's, and the erasure row says what its ``retention.erased`` entry says."""
    name = _batch_name(batch)
    _check_signer(conn, report, batch, keys)
    if erasure is None:
        report.add(
            Problem(
                "batch",
                "BATCH_BYTES_MISSING",
                f"{name}: signed bytes missing and no erasure recorded",
                None,
                name,
            )
        )
        return
    index = int(erasure.ledger_index)
    if index not in erasure_entries:
        report.add(_erasure_problem(batch, f"ledger entry {index} is not a retention.erased entry"))
        return
    body = erasure_entries[index]
    if body is None:  # retention keeps these bodies: this one was removed by hand
        report.add(_erasure_problem(batch, f"the body of retention.erased entry {index} is gone"))
        return
    bad = erasure_mismatch(
        body,
        str(batch.node_id),
        str(batch.batch_id),
        str(batch.category),
        str(erasure.canonical_sha256),
        str(erasure.kept),
    )
    if bad is not None:
        report.add(_erasure_problem(batch, f"{bad} differs from retention.erased entry {index}"))


def _check_kept_records(
    report: VerifyReport, batch: Any, rows: list[Any], erasure: Any, retention: Retention
) -> None:
    """(5c) every stored record row of an erased batch is one kept at the erasure, with
    the same digest; every kept record is stored unless retention may have deleted it."""
    if erasure is None:
        return  # reported by (5a): nothing to check the rows against
    try:
        kept = decode_kept(str(erasure.kept))
    except ValueError:
        return  # reported by (5b)
    _check_rows(
        report,
        batch,
        rows,
        kept,
        _kept_mismatch,
        ("the records kept at its batch's erasure", "the digest kept at erasure"),
    )
    stored = {(str(rec.record_id), int(rec.version)) for rec in rows}
    for key, item in kept.items():
        if key not in stored and not retention.allows_missing(
            str(batch.category), {"event_time": item.event_time}
        ):
            name = f"{batch.node_id}/{key[0]}@{key[1]}"
            report.add(
                Problem(
                    "record",
                    "RECORD_MISSING",
                    f"record {name}: kept at its batch's erasure, no longer stored",
                    None,
                    name,
                )
            )


def _kept_mismatch(rec: Any, item: KeptRecord) -> str | None:
    """``record_sha256`` of the stored row, rebuilt as ``_signed_mismatch`` compares it
    with the signed record (event time formatted, fields parsed), against the kept one."""
    try:
        fields = json.loads(rec.fields)
        if isinstance(fields, dict):
            event_time = from_us(int(rec.event_time_us))
            row = record_json(rec.credit_code, rec.record_id, int(rec.version), event_time, fields)
            if record_sha256(row) == item.sha256:
                return None
    except (ValueError, TypeError, OverflowError):
        pass
    return "content"


# entry details key → batch row column (the push path writes the first spellings)
_DETAIL_COLUMNS = {
    "category": "category",
    "batch_id": "batch_id",
    "records": "record_count",
    "record_count": "record_count",
    "accepted": "accepted",
    "duplicates": "duplicates",
    "rejected": "rejected",
    "signer": "signer_fingerprint",
    "signer_fingerprint": "signer_fingerprint",
}
_DETAIL_HASH_KEYS = ("batch_sha256", "canonical_sha256")
_ACCEPTED_LETTER = "A"


def _check_push_entry(
    report: VerifyReport,
    batch: Any,
    rows: list[Any],
    push_entries: EntryBodies,
    signed: list[dict[str, Any]] | None,
    retention: Retention,
    erasure: Any = None,
) -> None:
    """(6) the ``push.batch`` entry the batch row points at says what the row says.

    The entry's actor is the batch's node and its subject the batch id. Compared when
    present in the details: category, batch_id, records / record_count, accepted,
    duplicates, rejected, signer / signer_fingerprint, batch_sha256 / canonical_sha256
    (hex SHA-256 of the signed bytes; of a batch whose bytes retention erased, the
    hash its ``erasure`` row kept), ``outcomes`` (one letter per signed record, in
    batch order; the records marked ``A`` are exactly the record rows stored for the
    batch, less those retention may have deleted since — skipped for an erased batch,
    whose signed records are gone; its rows are checked against the erasure's kept
    digests instead) and ``record_ids`` (every stored record of the batch is listed).
    """
    if batch.ledger_index is None:
        return
    name = _batch_name(batch)
    index = int(batch.ledger_index)
    if index not in push_entries:
        report.add(
            Problem(
                "batch",
                "NO_PUSH_ENTRY",
                f"{name}: ledger entry {index} is not a push.batch entry",
                None,
                name,
            )
        )
        return
    body = push_entries[index]
    if body is None:  # pruned: nothing left to compare
        return
    try:
        entry = json.loads(body)
        details = entry.get("details") or {}
    except (ValueError, AttributeError):
        details, entry = {}, {}
    bad: str | None = None
    if entry.get("actor") != batch.node_id:
        bad = "actor"
    elif entry.get("subject") not in (None, batch.batch_id):
        bad = "subject"
    for key, column in _DETAIL_COLUMNS.items():
        if bad is None and key in details and details[key] != getattr(batch, column):
            bad = key
    digest: str | None
    if batch.canonical is not None:
        canonical = stored_bytes(batch)
        digest = hashlib.sha256(canonical).hexdigest() if canonical is not None else None
    else:  # erased: the hash kept by the erasure (none: reported by (5a))
        digest = str(erasure.canonical_sha256) if erasure is not None else None
    for key in _DETAIL_HASH_KEYS:
        if bad is None and digest is not None and key in details and details[key] != digest:
            bad = key
    stored = {(str(rec.record_id), int(rec.version)) for rec in rows}
    outcomes = details.get("outcomes")
    if bad is None and isinstance(outcomes, str) and signed is not None:
        accepted = {
            (str(item.get("record_id")), item.get("version"))
            for item, letter in zip(signed, outcomes, strict=False)
            if letter == _ACCEPTED_LETTER
        }
        # retention may have deleted expired negative records since
        expired = {
            (str(item.get("record_id")), item.get("version"))
            for item in signed
            if retention.allows_missing(batch.category, item)
        }
        if len(outcomes) != len(signed) or not stored <= accepted <= stored | expired:
            bad = "outcomes"
    if bad is None and isinstance(details.get("record_ids"), list):
        listed = {
            str(item.get("record_id")) if isinstance(item, dict) else str(item)
            for item in details["record_ids"]
        }
        if any(record_id not in listed for record_id, _ in stored):
            bad = "record_ids"
    if bad is not None:
        report.add(
            Problem(
                "batch",
                "ENTRY_MISMATCH",
                f"{name}: {bad} differs from push.batch entry {index}",
                None,
                name,
            )
        )


__all__ = [
    "MAX_PROBLEMS",
    "EntryBodies",
    "Problem",
    "Retention",
    "VerifyReport",
    "check_stored_batch",
    "verify_connection",
    "verify_store",
]
