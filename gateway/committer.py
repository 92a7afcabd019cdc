"""Group commit: every write of the gateway and its ledger entries, in one transaction.

Requests hand in a *unit of work*: a function that does its writes on the connection and
appends its ledger entries through the :class:`LedgerTx` it is given. One committer task
per process gathers the units waiting (up to ``MAX_GROUP_SIZE``) and runs them in a single
transaction on one writer thread:

1. begin; lock the sequencer row ``ledger_head`` (PostgreSQL ``FOR UPDATE``; SQLite holds
   the database write lock from ``BEGIN IMMEDIATE``), read the tree size and frontier;
2. run each unit inside its own savepoint; a unit that raises is rolled back alone and
   its ledger appends are undone;
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
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, insert, select, update

from audit.entry import Entry
from audit.merkle import CompactRange, leaf_hash
from gateway.store import schema
from gateway.store.db import Store
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

    def _mark(self) -> tuple[int, tuple[int, list[bytes]]]:
        return len(self.rows), self.frontier.state()

    def _undo(self, mark: tuple[int, tuple[int, list[bytes]]]) -> None:
        count, (size, hashes) = mark
        del self.rows[count:]
        self.frontier = CompactRange.from_state(size, list(hashes))


Work = Callable[[Connection, LedgerTx], T]


@dataclass
class _Pending(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]
    result: Any = None
    error: BaseException | None = None
    done: bool = field(default=False)


def commit_group(store: Store, clock: Clock, units: list[_Pending[Any]]) -> None:
    """Run ``units`` in one transaction (steps (1)–(4) of the module docstring)."""

    def txn(conn: Connection) -> None:
        # (1) lock the sequencer row and load the frontier
        query = select(schema.ledger_head.c.size, schema.ledger_head.c.frontier).where(
            schema.ledger_head.c.id == 1
        )
        if not store.sqlite:
            query = query.with_for_update()
        size, blob = conn.execute(query).one()
        ledger = LedgerTx(decode_frontier(size, blob))
        # (2) each unit in its own savepoint
        for unit in units:
            unit.result, unit.error = None, None
            mark = ledger._mark()
            try:
                with conn.begin_nested():
                    unit.result = unit.work(conn, ledger)
            except XinLianError as exc:
                ledger._undo(mark)
                unit.error = exc
        # (3) ledger rows and the new head
        if ledger.rows:
            conn.execute(
                insert(schema.ledger_entries),
                [
                    {
                        "idx": row.idx,
                        "leaf_hash": row.leaf,
                        "body": row.body,
                        "action": str(row.entry.action),
                        "actor": row.entry.actor,
                        "credit_code": row.entry.credit_code,
                        "outcome": row.entry.outcome,
                        "trace_id": row.entry.trace_id,
                        "subject": row.entry.subject,
                        "time_us": to_us(row.entry.time),
                    }
                    for row in ledger.rows
                ],
            )
            conn.execute(
                update(schema.ledger_head)
                .where(schema.ledger_head.c.id == 1)
                .values(
                    size=ledger.frontier.size,
                    frontier=encode_frontier(ledger.frontier),
                    updated_at_us=to_us(clock.now()),
                )
            )
        # (4) commit happens when this function returns

    store.write(txn)


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
            try:
                await loop.run_in_executor(
                    self._executor, commit_group, self._store, self._clock, group
                )
            except Exception as exc:
                log.error("ledger group commit failed: %s", type(exc).__name__)
                failure = Unavailable(
                    "the audit ledger could not be written; nothing was disclosed",
                    reason="LEDGER_UNAVAILABLE",
                )
                failure.__cause__ = exc
                for unit in group:
                    if not unit.future.done():
                        unit.future.set_exception(failure)
                continue
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
