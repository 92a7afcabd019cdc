"""Group commit: every write of the gateway and its ledger entries, in one transaction.

Requests hand in a *unit of work*: a function that does its writes on the connection and
appends its ledger entries through the :class:`LedgerTx` it is given. One committer task
per process gathers the units waiting (up to ``MAX_GROUP_SIZE``) and runs them in a single
transaction on one writer thread:

1. begin; lock the sequencer row ``ledger_head`` (PostgreSQL ``FOR UPDATE``; SQLite holds
   the database write lock from ``BEGIN IMMEDIATE``), read the tree size and frontier;
2. run each unit; a unit that raises is rolled back alone and its ledger appends are
   undone (a savepoint per unit — taken only when some unit of the group refused, see
   ``commit_group``);
3. insert the ledger rows, store the new size and frontier;
4. commit; only then resolve each request's future.

So no response leaves before its entry is durable, and if the ledger cannot be written
every request of the group fails (fail closed). Several gateway processes on one
PostgreSQL serialize on the sequencer row, so there is one consistent ledger.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from audit.entry import Entry
from audit.merkle import CompactRange, leaf_hash
from gateway.core.metrics import commit_duration, commit_errors, commit_group_size
from gateway.store.db import Store
from gateway.store.dialect import DIALECTS, Dialect
from gateway.store.ledger_ddl import INDEXED_COLUMNS
from gateway.store.timeutil import to_us
from xinlian.clock import Clock
from xinlian.errors import Unavailable, XinLianError

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_GROUP_SIZE = 256
HASH_SIZE = 32


def encode_frontier(frontier: CompactRange) -> bytes:
    return b"".join(frontier.state()[1])


def decode_frontier(size: int, blob: bytes) -> CompactRange:
    hashes = [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]
    return CompactRange.from_state(size, hashes)


@dataclass
class _Row:
    idx: int
    leaf: bytes
    body: bytes
    entry: Entry


class LedgerTx:
    """Ledger appends within one group transaction. ``append`` returns the entry's index."""

    def __init__(self, frontier: CompactRange) -> None:
        self.frontier = frontier
        self.rows: list[_Row] = []
        self.deferred: list[tuple[str, list[tuple[Any, ...]]]] = []

    @property
    def size(self) -> int:
        return self.frontier.size

    def append(self, entry: Entry) -> int:
        body = entry.encode()
        leaf = leaf_hash(body)
        idx = self.frontier.size
        self.frontier.append(leaf)
        self.rows.append(_Row(idx, leaf, body, entry))
        return idx

    def insert_later(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows`` with ``statement`` (driver SQL, the driver's parameter marks)
        after every unit of the group has run, in the same transaction, one batch per
        statement for the whole group (undone like the appends if the unit refuses)."""
        if rows:
            self.deferred.append((statement, rows))

    def mark(self) -> tuple[int, int, tuple[int, list[bytes]]]:
        """A point to ``undo`` back to: the appends and deferred rows made after it."""
        return len(self.rows), len(self.deferred), self.frontier.state()

    def undo(self, mark: tuple[int, int, tuple[int, list[bytes]]]) -> None:
        count, deferred, (size, hashes) = mark
        del self.rows[count:]
        del self.deferred[deferred:]
        self.frontier = CompactRange.from_state(size, list(hashes))


Work = Callable[[Connection, LedgerTx], T]


@dataclass
class _Pending(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]
    result: Any = None
    error: BaseException | None = None
    done: bool = field(default=False)


def _error_kind(exc: BaseException) -> str:
    """The ``kind`` label of ``xinlian.commit.errors`` for a group whose commit failed:
    ``operational`` (the database is unreachable, locked, read-only or full),
    ``integrity`` (it refused a row), ``database`` (any other database error), ``io``
    (the SQLite commit lock file) or ``other`` (a unit's own bug failed the group).
    The store reports an unreachable database as ``Unavailable`` from the driver's
    ``OperationalError``: that cause decides."""
    if isinstance(exc, XinLianError) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, OperationalError):
        return "operational"
    if isinstance(exc, IntegrityError):
        return "integrity"
    if isinstance(exc, SQLAlchemyError):
        return "database"
    if isinstance(exc, OSError):
        return "io"
    return "other"


class _Refused(Exception):
    """A unit refused (raised a XinLianError) in a pass without savepoints: roll the whole
    transaction back; the group is then run again with a savepoint per unit."""


def commit_group(store: Store, clock: Clock, units: list[_Pending[Any]]) -> int | None:
    """Run ``units`` in one transaction (steps (1)–(4) of the module docstring).

    Units rarely refuse, so the group first runs without savepoints (two statements
    fewer per unit). If one refuses, that transaction is rolled back as a whole and the
    group runs again with a savepoint per unit, so only the refusing unit is undone — the
    same outcome as step (2), with every unit retried once (units may be retried). A
    group of one needs no second run: its refusal is its outcome, nothing is committed.
    Returns the ledger's size after the commit (None when nothing was committed).
    """
    with _sqlite_write_lock(store):
        try:
            return store.write(lambda conn: _txn(conn, store, clock, units, savepoints=False))
        except _Refused as refused:
            if len(units) == 1:
                units[0].result, units[0].error = None, refused.__cause__
                return None
            return store.write(lambda conn: _txn(conn, store, clock, units, savepoints=True))


@contextlib.contextmanager
def _sqlite_write_lock(store: Store) -> Iterator[None]:
    """SQLite: an exclusive lock on ``<database>.commit-lock`` around the group's write
    transaction. Committers of several processes on one database (``serve --workers``)
    then queue in the kernel and wake the moment the lock is free, instead of sleeping
    in SQLite's busy handler (1, 2, 5, 10 … ms). The database's own write lock stays
    the guarantee; this only orders the committers. No-op for PostgreSQL and memory."""
    path = store.database_file
    if path is None:
        yield
        return
    fd = os.open(f"{path}.commit-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


# The group's own statements run on the driver's cursor (in the transaction the store
# began): they are the same for every group, so SQLAlchemy's per-statement work buys
# nothing here. SQLite generates the indexed columns from the body
# (``gateway.store.ledger_ddl``); PostgreSQL stores them with the row.
_WRITTEN_COLUMNS = ("idx", "leaf_hash", "body")


def _inserted_columns(dialect: Dialect) -> tuple[str, ...]:
    if dialect.columns_generated:
        return _WRITTEN_COLUMNS
    return _WRITTEN_COLUMNS + INDEXED_COLUMNS


def _statements(dialect: Dialect) -> tuple[str, str, str]:
    columns = _inserted_columns(dialect)
    mark = dialect.placeholder
    return (
        f"SELECT size, frontier FROM ledger_head WHERE id = 1{dialect.head_lock}",
        f"INSERT INTO ledger_entries ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})",
        f"UPDATE ledger_head SET size = {mark}, frontier = {mark}, updated_at_us = {mark} "
        "WHERE id = 1",
    )


_STATEMENTS = {dialect: _statements(dialect) for dialect in DIALECTS}
"""Per dialect, built once: select (and lock) the head, insert ledger rows, update the head."""


def _ledger_values(rows: list[_Row], dialect: Dialect) -> list[tuple[Any, ...]]:
    """The values of ``rows`` for ``_inserted_columns(dialect)``."""
    if dialect.columns_generated:
        return [(row.idx, row.leaf, row.body) for row in rows]
    return [
        (
            row.idx,
            row.leaf,
            row.body,
            row.entry.action.value,
            row.entry.actor,
            row.entry.credit_code,
            row.entry.outcome.value,
            row.entry.trace_id,
            row.entry.subject,
            to_us(row.entry.time),
        )
        for row in rows
    ]


def _txn(
    conn: Connection, store: Store, clock: Clock, units: list[_Pending[Any]], *, savepoints: bool
) -> int:
    select_head, insert_rows, update_head = _STATEMENTS[store.dialect]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        # (1) lock the sequencer row (PostgreSQL FOR UPDATE; SQLite holds the write lock
        # since BEGIN IMMEDIATE) and load the frontier
        cursor.execute(select_head)
        head = cursor.fetchone()
        if head is None:
            raise RuntimeError("the ledger_head row is missing (schema not migrated)")
        size, blob = head
        ledger = LedgerTx(decode_frontier(int(size), bytes(blob)))
        # (2) each unit; in its own savepoint on the second run
        for unit in units:
            unit.result, unit.error = None, None
            if not savepoints:
                try:
                    unit.result = unit.work(conn, ledger)
                except XinLianError as exc:
                    raise _Refused() from exc
                continue
            mark = ledger.mark()
            try:
                with conn.begin_nested():
                    unit.result = unit.work(conn, ledger)
            except XinLianError as exc:
                ledger.undo(mark)
                unit.error = exc
        # (3) the units' deferred rows, one batch per statement; ledger rows; the new head
        batches: dict[str, list[tuple[Any, ...]]] = {}
        for statement, rows in ledger.deferred:
            batches.setdefault(statement, []).extend(rows)
        for statement, rows in batches.items():
            cursor.executemany(statement, rows)
        if ledger.rows:
            cursor.executemany(
                insert_rows,
                _ledger_values(ledger.rows, store.dialect),
            )
            cursor.execute(
                update_head,
                (ledger.frontier.size, encode_frontier(ledger.frontier), to_us(clock.now())),
            )
    finally:
        cursor.close()
    # (4) commit happens when the transaction helper returns
    return ledger.size


class GroupCommitter:
    """Gathers units of work from request handlers and commits them in groups."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._queue: asyncio.Queue[_Pending[Any]] = asyncio.Queue()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="xinlian-commit"
        )
        self._task: asyncio.Task[None] | None = None
        self.ledger_size: int | None = None
        """The ledger's size after this process's latest commit (metrics; None before)."""

    @property
    def alive(self) -> bool:
        """The committer task runs (readiness)."""
        return self._task is not None and not self._task.done()

    @property
    def queue_depth(self) -> int:
        """Units waiting for a group (metrics)."""
        return self._queue.qsize()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="committer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    async def submit(self, work: Work[T]) -> T:
        """Queue ``work`` and wait until the group holding it has committed."""
        if self._task is None:
            raise Unavailable("the ledger writer is not running", reason="LEDGER_UNAVAILABLE")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(work, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            group = [first]
            while len(group) < MAX_GROUP_SIZE and not self._queue.empty():
                group.append(self._queue.get_nowait())
            commit_group_size.record(len(group))
            started = time.perf_counter()
            try:
                size = await loop.run_in_executor(
                    self._executor, commit_group, self._store, self._clock, group
                )
            except Exception as exc:
                log.error("ledger group commit failed: %s", type(exc).__name__)
                commit_errors.add(1, {"kind": _error_kind(exc)})
                failure = Unavailable(
                    "the audit ledger could not be written; nothing was disclosed",
                    reason="LEDGER_UNAVAILABLE",
                )
                failure.__cause__ = exc
                for unit in group:
                    if not unit.future.done():
                        unit.future.set_exception(failure)
                continue
            commit_duration.record((time.perf_counter() - started) * 1000)
            if size is not None:
                self.ledger_size = size
            for unit in group:
                if unit.future.done():
                    continue
                if unit.error is not None:
                    unit.future.set_exception(unit.error)
                else:
                    unit.future.set_result(unit.result)


def commit_now(store: Store, clock: Clock, work: Work[T]) -> T:
    """Run one unit of work synchronously (command-line tools on the gateway host)."""
    unit: _Pending[T] = _Pending(work, None)  # type: ignore[arg-type]
    commit_group(store, clock, [unit])
    if unit.error is not None:
        raise unit.error
    return unit.result  # type: ignore[no-any-return]
