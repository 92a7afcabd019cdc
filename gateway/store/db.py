"""The store: its engine (set up by its dialect, ``gateway.store.dialect``), the transaction
helper, and the schema-revision check."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from gateway.store.dialect import dialect_for_url
from xinlian.errors import SchemaMismatch, Unavailable

T = TypeVar("T")
_NO_OPTIONS: Mapping[str, Any] = {}

MAX_TRANSACTION_ATTEMPTS = 5


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def make_engine(url: str) -> Engine:
    """Create an engine, set up for its dialect (``Dialect.create_engine``: SQLite gets
    WAL, full fsync and a busy timeout on every connection)."""
    return dialect_for_url(url).create_engine(url)


class Store:
    """The engine plus the rules for using it: short transactions, retried when the
    database reports a transient conflict. Transaction callbacks may run more than once."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = dialect_for_url(url)
        self.engine = self.dialect.create_engine(url)
        self.database_file = self.dialect.database_file(self.engine.url)
        """The database file (SQLite), or None."""

    def close(self) -> None:
        self.engine.dispose()

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a write transaction (SQLite: BEGIN IMMEDIATE), retrying on conflict."""
        return self._run(fn, write=True)

    def read(self, fn: Callable[[Connection], T]) -> T:
        return self._run(fn, write=False)

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A connection in a read transaction whose every read sees one snapshot (verify)."""
        with (
            self.engine.connect().execution_options(**self.dialect.snapshot_options) as conn,
            conn.begin(),
        ):
            yield conn

    def _run(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        options = self.dialect.write_options if write else _NO_OPTIONS
        for attempt in range(1, MAX_TRANSACTION_ATTEMPTS + 1):
            try:
                with self.engine.connect().execution_options(**options) as conn, conn.begin():
                    return fn(conn)
            except OperationalError as exc:
                if attempt == MAX_TRANSACTION_ATTEMPTS or not _transient(exc):
                    raise Unavailable(
                        "the store is unavailable", reason="STORE_UNAVAILABLE"
                    ) from exc
                time.sleep(0.01 * attempt)
            except DBAPIError as exc:
                if attempt == MAX_TRANSACTION_ATTEMPTS or not _transient(exc):
                    raise
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    def check_schema(self) -> None:
        """Refuse to serve on an unmigrated or newer schema."""
        from gateway.store.migrate import current_revision, head_revision

        current = current_revision(self.engine)
        head = head_revision()
        if current == head:
            return
        if current is None:
            raise SchemaMismatch(
                "the database has no XinLian schema; run: xinlian gateway migrate --home DIR"
            )
        raise SchemaMismatch(
            f"the database schema is at revision {current}, this gateway needs {head}; "
            "run: xinlian gateway migrate --home DIR (or upgrade the gateway if the "
            "database is newer)"
        )

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


def _transient(exc: DBAPIError) -> bool:
    message = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(
        marker in message
        for marker in (
            "database is locked",
            "deadlock",
            "could not serialize",
            "serialization failure",
            "server closed the connection",
            "connection refused",
            "terminating connection",
        )
    )
