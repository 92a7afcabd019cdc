"""Engine set-up, the transaction helper, and the schema-revision check."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from xinlian.errors import SchemaMismatch, Unavailable

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 32 * 1024  # page cache per connection (PRAGMA cache_size, negative = KiB)
MAX_TRANSACTION_ATTEMPTS = 5
POSTGRES_POOL_SIZE = 10


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def make_engine(url: str) -> Engine:
    """Create an engine. SQLite gets WAL, full fsync and a busy timeout on every connection."""
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (so BEGIN IMMEDIATE is possible).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            # A page cache large enough for the records indexes a push batch touches
            # (the default, 2 MiB, re-reads index pages from the OS on every batch).
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_size=POSTGRES_POOL_SIZE, max_overflow=20, pool_pre_ping=True)


class Store:
    """The engine plus the rules for using it: short transactions, retried when the
    database reports a transient conflict. Transaction callbacks may run more than once."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sqlite = is_sqlite(url)

    def close(self) -> None:
        self.engine.dispose()

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a write transaction (SQLite: BEGIN IMMEDIATE), retrying on conflict."""
        return self._run(fn, write=True)

    def read(self, fn: Callable[[Connection], T]) -> T:
        return self._run(fn, write=False)

    def _run(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        options = {"sqlite_begin": "IMMEDIATE"} if (write and self.sqlite) else {}
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
