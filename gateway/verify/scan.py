"""The leaf scan of verification over the stored ledger, split over two processes.

Steps (1) (leaf hashes) and (4) (gapless indices) of ``gateway.verify`` read and hash
every stored entry: on one thread, about 2 µs per entry in Python. On SQLite a large
ledger (``SPLIT_MIN_ENTRIES`` entries or more) is scanned in two processes:

1. in the verification's read snapshot, the ledger head size ``n`` and the smallest
   and largest stored index are read (rows outside ``0..n-1`` are the caller's to
   report);
2. a worker process (``gateway/verify/worker.py``, started with only the standard
   library and ``audit`` on its path) scans ``[s, n)`` on its own read-only
   connection, while this process scans ``[0, s)``. ``s`` is a multiple of a power
   of two (so the worker's tree levels up to that power are whole-tree levels,
   ``HashLevels.join``), at ``PARENT_SHARE`` of the ledger (this process also starts
   the worker);
3. the worker's snapshot is taken just after this one. The ledger is append-only and
   the range ends at this snapshot's head, so both see the same rows; the only change
   a running gateway makes to them, pruning a body, keeps the leaf hash the scan uses;
4. the two scans are joined. If the worker fails (it cannot start, exits non-zero,
   writes something ``audit.leaf_scan.decode`` refuses, or times out), this process
   scans its range itself: the result never depends on the worker having run.

Any other engine, or a smaller ledger, is scanned here in one pass.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from audit.leaf_scan import ROW_CHUNK, LeafScan, Row, decode, scan_rows
from gateway.store.dialect import dialect_of
from xinlian.errors import InvalidArgument

log = logging.getLogger(__name__)

SPLIT_MIN_ENTRIES = 16_384
"""Ledgers at least this large are scanned in two processes on SQLite."""
PARENT_SHARE = 0.62
"""The share of the entries this process scans (it also starts the worker, ~20 ms)."""
SPLIT_PARTS = 64
"""The split point is a multiple of the largest power of two at most n / SPLIT_PARTS."""
WORKER_TIMEOUT_S = 1800.0
"""How long the worker may take before this process scans its range itself."""
WORKER_SCRIPT = Path(__file__).resolve().parent / "worker.py"


@dataclass(frozen=True)
class LedgerScan:
    """The scan of ``[0, n)`` (``leaves``, contiguous from 0), the stored index bounds
    (None: no rows), and the processes whose scans were used (1 or 2)."""

    leaves: LeafScan
    lowest: int | None
    highest: int | None
    processes: int = 1


def scan_ledger(
    conn: Connection,
    head_size: int,
    *,
    sqlite_path: str | None = None,
    split_min_entries: int = SPLIT_MIN_ENTRIES,
    while_waiting: Callable[[], None] | None = None,
) -> LedgerScan:
    """Steps 1 to 4 of the module docstring, on ``conn`` (the verification's snapshot).
    ``sqlite_path``: the database file, for the worker (None: no worker).
    ``while_waiting``: more reading on ``conn`` to do once this process's share is
    scanned, while the worker finishes its own (verify's stored tiles)."""
    # (1) the bounds, in this snapshot
    # (two queries: SQLite answers a lone min() or max() from the key, both at once by
    # reading every row)
    lowest = conn.exec_driver_sql("SELECT min(idx) FROM ledger_entries").scalar()
    highest = conn.exec_driver_sql("SELECT max(idx) FROM ledger_entries").scalar()
    split = split_point(head_size) if head_size >= max(2, split_min_entries) else None
    if sqlite_path is None or not dialect_of(conn).embedded or split is None:
        return LedgerScan(scan_rows(_row_chunks(conn, 0, head_size), 0), lowest, highest)
    # (2) the worker scans [split, n) while this process scans [0, split)
    worker = _start_worker(sqlite_path, split, head_size)
    try:
        here = scan_rows(_row_chunks(conn, 0, split), 0)
    except BaseException:
        _stop(worker)
        raise
    if here.entries < split:  # a gap before the split: nothing after it has a position
        _stop(worker)
        if here.gap is None:
            here.gap = (here.entries, _next_index(conn, here.entries))
        return LedgerScan(here, lowest, highest)
    if while_waiting is not None:
        while_waiting()
    there = _worker_result(worker, split)
    # (4) join, or scan the rest here
    processes = 2
    if there is None:
        there = scan_rows(_row_chunks(conn, split, head_size), split)
        processes = 1
    here.levels.join(there.levels)
    here.entries += there.entries
    here.pruned += there.pruned
    here.bad_leaves += there.bad_leaves
    here.gap = there.gap
    return LedgerScan(here, lowest, highest, processes)


def split_point(n: int) -> int:
    """Where the worker's range of a ledger of ``n`` entries starts: ``PARENT_SHARE`` of
    ``n``, rounded to a multiple of the largest power of two at most ``n / SPLIT_PARTS``
    (so all but the top few levels of the worker's tree are the whole tree's), and
    strictly inside ``0..n``."""
    align = 1 << max(0, (n // SPLIT_PARTS).bit_length() - 1)
    split = round(n * PARENT_SHARE / align) * align
    return min(max(split, align), n - 1) if n > 1 else 0


def _start_worker(path: str, start: int, end: int) -> subprocess.Popen[bytes] | None:
    if not sys.executable:
        return None
    try:
        return subprocess.Popen(
            [sys.executable, "-I", "-S", str(WORKER_SCRIPT), path, str(start), str(end)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        log.warning("verify: the scan worker did not start (%s); scanning in one process", exc)
        return None


def _stop(worker: subprocess.Popen[bytes] | None) -> None:
    """Kill the worker (its result is not needed) and reap it, closing its pipes."""
    if worker is not None:
        worker.kill()
        worker.communicate()


def _worker_result(worker: subprocess.Popen[bytes] | None, start: int) -> LeafScan | None:
    """The worker's scan of ``[start, ...)``, or None (logged) if it cannot be used."""
    if worker is None:
        return None
    try:
        out, err = worker.communicate(timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _stop(worker)
        log.warning("verify: the scan worker timed out; scanning its range here")
        return None
    if worker.returncode != 0:
        detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        log.warning("verify: the scan worker failed (%s); scanning its range here", detail[0])
        return None
    try:
        scan = decode(out)
    except InvalidArgument as exc:
        log.warning("verify: the scan worker's output is unreadable (%s)", exc)
        return None
    if scan.start != start:
        log.warning("verify: the scan worker scanned from %d, not %d", scan.start, start)
        return None
    return scan


def _next_index(conn: Connection, after: int) -> int:
    """The first stored index above ``after`` (-1 if none), for a gap's message."""
    found = conn.exec_driver_sql(
        f"SELECT min(idx) FROM ledger_entries WHERE idx > {int(after)}"
    ).scalar()
    return int(found) if found is not None else -1


def _row_chunks(conn: Connection, start: int, end: int) -> Iterator[Sequence[Row]]:
    """``(idx, leaf_hash, body)`` rows of ``[start, end)`` in index order, through the
    DBAPI cursor of ``conn`` (same transaction, so same snapshot). SQLite steps one
    statement lazily; PostgreSQL reads one bounded query per chunk (its client cursor
    would hold the whole result)."""
    cursor = conn.connection.cursor()
    dialect = dialect_of(conn)
    mark = dialect.placeholder
    try:
        if dialect.streams_rows:
            cursor.execute(
                "SELECT idx, leaf_hash, body FROM ledger_entries "
                f"WHERE idx >= {mark} AND idx < {mark} ORDER BY idx",
                (start, end),
            )
            while rows := list(cursor.fetchmany(ROW_CHUNK)):
                yield rows
            return
        query = (
            f"SELECT idx, leaf_hash, body FROM ledger_entries WHERE idx >= {mark} "
            f"AND idx < {mark} ORDER BY idx LIMIT {int(ROW_CHUNK)}"
        )
        while True:
            cursor.execute(query, (start, end))
            rows = list(cursor.fetchall())
            if not rows:
                return
            yield rows
            start = int(rows[-1][0]) + 1
    finally:
        cursor.close()
