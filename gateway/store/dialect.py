"""Every difference between the two engines the store runs on, SQLite and PostgreSQL.

A :class:`Dialect` is chosen once, from the database URL (``dialect_for_url``) or from a
connection (``dialect_of``); callers ask it and branch on nothing themselves. There are
two, ``SQLITE`` and ``POSTGRES``:

============================  ===================================  ============================
what                          SQLite                               PostgreSQL
============================  ===================================  ============================
engine set-up                 WAL, full fsync, busy timeout, page  a pool, pre-ping, psycopg 3
                              cache, foreign keys; SQLAlchemy
                              emits BEGIN itself
driver parameter mark         ``?``                                ``%s``
write transaction             ``BEGIN IMMEDIATE`` (the database    ``BEGIN``; the sequencer row
                              write lock from the start)           is locked ``FOR UPDATE``
read snapshot (verify)        every read transaction (WAL)         ``REPEATABLE READ``
ledger indexed columns        generated from the body              stored with the row
pruning a body                keeps ``summary`` (same UPDATE)      sets it to NULL only
time window search            ``idx + 0`` (no rowid range)         ``idx``
bulk insert                   multi-row VALUES, numbered           ``COPY`` (in a savepoint)
                              parameters, split by the limit       or an ``executemany``
ids as one parameter          a JSON array read by ``json_each``   an ``ARRAY``
deleted content               ``secure_delete``, WAL truncated     VACUUM (operations)
schema migration lock         ``BEGIN IMMEDIATE`` (write lock)     ``pg_advisory_xact_lock``
a database file               yes: backup, scan worker, lock file  no
============================  ===================================  ============================

``tests/store/test_dialect.py`` runs every function here on both engines.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite as sq
from sqlalchemy.engine import URL, make_url
from sqlalchemy.types import TypeEngine

from gateway.store.ledger_ddl import SUMMARY_KEYS

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 32 * 1024  # page cache per connection (PRAGMA cache_size, negative = KiB)
SQLITE_STATEMENT_PARAMETERS = 32_766
"""At most this many parameters in one statement even where the SQLite build allows more
(SQLite's default limit since 3.32): preparing a multi-row VALUES takes time growing
with the square of its rows (5 000 rows: 0.4 s, 83 000 rows: 50 s)."""
POSTGRES_POOL_SIZE = 10
POSTGRES_MAX_OVERFLOW = 20
POSTGRES_MAX_PARAMETERS = 65_535
"""Bind parameters one statement may carry (the wire protocol counts them in 16 bits)."""

_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


class Dialect:
    """What differs between the engines. Use the two instances, ``SQLITE`` and
    ``POSTGRES``; they compare (and hash) by identity, so a table keyed by dialect is a
    cheap lookup."""

    name: ClassVar[str]
    """SQLAlchemy's name of the engine (``conn.dialect.name``)."""
    placeholder: ClassVar[str]
    """The driver's positional parameter mark, for SQL run on a driver cursor."""
    head_lock: ClassVar[str]
    """Appended to the SELECT of the sequencer row in a write transaction: what makes
    concurrent writers queue on it."""
    write_options: ClassVar[Mapping[str, Any]]
    """Execution options of a write transaction (``Store.write``)."""
    snapshot_options: ClassVar[Mapping[str, Any]]
    """Execution options under which every read of one transaction sees one snapshot."""
    columns_generated: ClassVar[bool]
    """Whether the ledger's indexed columns are generated from the body (else they are
    stored, and written with the row): ``gateway.store.ledger_ddl``."""
    embedded: ClassVar[bool]
    """Whether the database is a file this process opens itself: the online backup, the
    scan worker of verify, the committers' lock file and the WAL apply."""
    streams_rows: ClassVar[bool]
    """Whether a driver cursor steps through a result as it is fetched (else it holds
    the whole result: read large ranges in bounded queries)."""
    as_bytes: ClassVar[str]
    """Driver SQL reading binary column ``{}`` as bytes (SQLite: also a TEXT value)."""
    _insert: ClassVar[Any]

    def __repr__(self) -> str:
        return f"<Dialect {self.name}>"

    # ------------------------------------------------------------------ connections

    def create_engine(self, url: str) -> Engine:
        raise NotImplementedError

    def database_file(self, url: str | URL) -> str | None:
        """The database file of ``url``, or None (no file: PostgreSQL, memory)."""
        return None

    # ------------------------------------------------------------------ statements

    def insert(self, table: Table) -> Any:
        """The engine's INSERT of ``table``, which has ``on_conflict_do_nothing``."""
        return self._insert(table)

    def insert_if_absent(
        self,
        conn: Connection,
        table: Table,
        values: Mapping[str, Any],
        conflict: Sequence[str] | None = None,
    ) -> bool:
        """Insert one row unless a row with the same key (``conflict``: the columns of a
        unique index; None: any unique constraint) is stored; True if it was inserted.
        The stored row is then the first one, whichever caller wrote it."""
        stmt = self.insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict)
        # preserve_rowcount: psycopg forgets the count once SQLAlchemy closes the cursor
        # of a statement without rows (it then reads -1)
        return bool(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount == 1)

    @functools.lru_cache(maxsize=256)  # noqa: B019 (two instances, both for good)
    def insert_sql(
        self,
        table: str,
        columns: tuple[str, ...],
        *,
        conflict: tuple[str, ...] | None = None,
        returning: str | None = None,
    ) -> str:
        """Driver SQL inserting one row (``conflict``: ``ON CONFLICT (…) DO NOTHING``;
        ``returning``: a column the insert returns, no row when the key was stored).
        Cached: one text per arguments, built once."""
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join([self.placeholder] * len(columns))})"
        )
        if conflict is not None:
            sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
        if returning is not None:
            sql += f" RETURNING {returning}"
        return sql

    def ids_in(
        self, column: ColumnElement[Any], ids: Sequence[Any], *, name: str = "ids"
    ) -> ColumnElement[bool]:
        """``column`` is one of ``ids`` (deduplicated), with the ids bound as ONE
        parameter: a long IN list costs a compile per length and plans badly once the
        driver prepares the statement."""
        return self._one_of(column, list(dict.fromkeys(ids)), name)

    def _one_of(self, column: ColumnElement[Any], ids: list[Any], name: str) -> ColumnElement[bool]:
        raise NotImplementedError

    def time_window_position(self, idx: ColumnElement[int]) -> ColumnElement[int]:
        """The ledger index to bound a search by when the search also has a time window."""
        return idx

    def prune_values(self) -> dict[str, Any]:
        """The values of an UPDATE pruning ledger entry bodies: the body to NULL and,
        where the indexed columns are generated, ``summary`` to the body's seven keys
        (in the same statement: SQLite computes the new values from the row before the
        update)."""
        return {"body": None}

    # ------------------------------------------------------------------ bulk writes

    def max_parameters(self, conn: Connection) -> int:
        """How many bind parameters one statement may carry on ``conn``."""
        raise NotImplementedError

    def bulk_insert(
        self,
        conn: Connection,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        shared: Mapping[str, Any] | None = None,
        conflict: Sequence[str] | None = None,
        flat: Sequence[Any] | None = None,
    ) -> int:
        """Insert ``rows`` (values of ``columns``, plus the ``shared`` column values
        every row has) on the driver's cursor in ``conn``'s transaction; return how
        many were inserted.

        ``conflict``: the columns of a unique index; a row whose key is stored is
        skipped (``ON CONFLICT DO NOTHING``). Without it a stored key is an error (the
        driver's ``unique_violation()``) and nothing is inserted. ``flat``: the rows'
        values in one list, if the caller made it already (outside a lock, say)."""
        if not rows:
            return 0
        head = tuple((shared or {}).values())
        bulk = _Bulk(
            table,
            (*(shared or {}), *columns),
            head,
            len(columns),
            rows,
            flat,
            tuple(conflict) if conflict is not None else None,
        )
        return self._insert_rows(conn, bulk)

    def _insert_rows(self, conn: Connection, bulk: _Bulk) -> int:
        raise NotImplementedError

    def unique_violation(self) -> type[Exception]:
        """The driver's exception for a row refused by a unique index (driver cursor)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ deleted data

    def overwrite_deletes(self, conn: Connection) -> None:
        """From now on ``conn`` overwrites what it deletes (no deleted value left in
        free pages of the file). PostgreSQL: nothing to do here (VACUUM)."""

    def truncate_wal(self, engine: Engine) -> bool | None:
        """Checkpoint the whole WAL into the database file and truncate it to zero bytes:
        False if a reader kept part of it; None where there is nothing to truncate."""
        return None

    def migration_lock(self, conn: Connection, key: int) -> None:
        """Hold schema migration lock ``key`` until ``conn``'s write transaction ends."""


def _cursor(conn: Connection) -> Any:
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


@dataclass(frozen=True)
class _Bulk:
    """One ``bulk_insert``: the shared columns first, then each row's."""

    table: str
    columns: tuple[str, ...]
    head: tuple[Any, ...]
    """The shared columns' values."""
    width: int
    """Values per row."""
    rows: Sequence[Sequence[Any]]
    flat: Sequence[Any] | None
    conflict: tuple[str, ...] | None


class _SQLite(Dialect):
    name = "sqlite"
    placeholder = "?"
    head_lock = ""  # the write transaction holds the database write lock already
    write_options = MappingProxyType({"sqlite_begin": "IMMEDIATE"})
    snapshot_options = _NO_OPTIONS
    columns_generated = True
    embedded = True
    streams_rows = True
    as_bytes = "CAST({} AS BLOB)"
    _insert = staticmethod(sq.insert)

    def create_engine(self, url: str) -> Engine:
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

    def database_file(self, url: str | URL) -> str | None:
        path = make_url(url).database
        return path if path and path != ":memory:" else None

    def _one_of(self, column: ColumnElement[Any], ids: list[Any], name: str) -> ColumnElement[bool]:
        values = func.json_each(bindparam(name, value=json.dumps(ids))).table_valued("value")
        return column.in_(select(values.c.value))

    def time_window_position(self, idx: ColumnElement[int]) -> ColumnElement[int]:
        # idx is the rowid (revision 0004). Offered a rowid range, the planner walks the
        # whole table in index order rather than use ix_ledger_time for a time window;
        # ``idx + 0`` is no rowid range, so the window's index is used
        return idx + 0

    def prune_values(self) -> dict[str, Any]:
        return {"body": None, "summary": literal_column(_PRUNED_SUMMARY)}

    def max_parameters(self, conn: Connection) -> int:
        dbapi: Any = conn.connection.dbapi_connection
        limit = int(dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        return min(limit, SQLITE_STATEMENT_PARAMETERS)

    def _insert_rows(self, conn: Connection, bulk: _Bulk) -> int:
        # ONE multi-row INSERT: one sqlite3_step inserts every row with the GIL
        # released (an executemany takes the GIL back after every row). The shared
        # values are bound once, as ?1…?s; more statements only if the rows need more
        # parameters than this SQLite allows.
        rows, width, head = bulk.rows, bulk.width, list(bulk.head)
        values = bulk.flat if bulk.flat is not None else [v for row in rows for v in row]
        per_statement = max(1, (self.max_parameters(conn) - len(head)) // width)
        inserted = 0
        cursor = _cursor(conn)
        try:
            for start in range(0, len(rows), per_statement):
                n = min(per_statement, len(rows) - start)
                sql = _sqlite_values_insert(bulk.table, bulk.columns, len(head), n, bulk.conflict)
                cursor.execute(sql, head + list(values[start * width : (start + n) * width]))
                inserted += cursor.rowcount
        finally:
            cursor.close()
        return inserted

    def unique_violation(self) -> type[Exception]:
        return sqlite3.IntegrityError

    def overwrite_deletes(self, conn: Connection) -> None:
        # PRAGMA secure_delete is per connection: deleted content is overwritten with
        # zeros, in free pages and in the free space of pages
        conn.exec_driver_sql("PRAGMA secure_delete=ON")

    def truncate_wal(self, engine: Engine) -> bool | None:
        raw = engine.raw_connection()  # autocommit: the checkpoint needs no transaction
        try:
            cursor = raw.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                row = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            raw.close()
        return row is not None and int(row[0]) == 0


_PRUNED_SUMMARY = "json_object({})".format(
    ", ".join(f"'{key}', json_extract(CAST(body AS TEXT), '$.{key}')" for key in SUMMARY_KEYS)
)
"""SQLite: the ``summary`` of a ledger row whose body is being pruned, from the body."""


@functools.lru_cache(maxsize=64)
def _sqlite_values_insert(
    table: str, columns: tuple[str, ...], shared: int, rows: int, conflict: tuple[str, ...] | None
) -> str:
    """The INSERT of ``rows`` rows whose first ``shared`` columns take the same values
    (?1…?shared) in every row (cached: one SQL text, and SQLite's prepared statement,
    per row count)."""
    width = len(columns) - shared
    heads = [f"?{i}" for i in range(1, shared + 1)]
    values = ",".join(
        "(" + ",".join(heads + [f"?{k + j}" for j in range(width)]) + ")"
        for k in range(shared + 1, shared + 1 + width * rows, width)
    )
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"
    if conflict is not None:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    return sql


class _PostgreSQL(Dialect):
    name = "postgresql"
    placeholder = "%s"
    head_lock = " FOR UPDATE"
    write_options = _NO_OPTIONS
    snapshot_options = MappingProxyType({"isolation_level": "REPEATABLE READ"})
    columns_generated = False
    embedded = False
    streams_rows = False
    as_bytes = "{}"
    _insert = staticmethod(pg.insert)

    def create_engine(self, url: str) -> Engine:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return create_engine(
            url,
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=POSTGRES_MAX_OVERFLOW,
            pool_pre_ping=True,
        )

    def _one_of(self, column: ColumnElement[Any], ids: list[Any], name: str) -> ColumnElement[bool]:
        element: Any = Integer if ids and isinstance(ids[0], int) else String
        return column == any_(bindparam(name, value=ids, type_=pg.ARRAY(element)))

    def max_parameters(self, conn: Connection) -> int:
        return POSTGRES_MAX_PARAMETERS

    def migration_lock(self, conn: Connection, key: int) -> None:
        conn.execute(select(func.pg_advisory_xact_lock(key)))

    def _insert_rows(self, conn: Connection, bulk: _Bulk) -> int:
        # COPY: the fastest way in. It has no ON CONFLICT, so with ``conflict`` it runs
        # in a savepoint, and if a key is stored already the rows go in again with an
        # INSERT … ON CONFLICT DO NOTHING per row (the rare case: a replay)
        if bulk.conflict is None:
            _copy(conn, bulk)
            return len(bulk.rows)
        try:
            with conn.begin_nested():
                _copy(conn, bulk)
            return len(bulk.rows)
        except self.unique_violation():
            pass
        sql = self.insert_sql(bulk.table, bulk.columns, conflict=bulk.conflict)
        cursor = _cursor(conn)
        try:
            cursor.executemany(sql, [bulk.head + tuple(row) for row in bulk.rows])
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def unique_violation(self) -> type[Exception]:
        import psycopg  # the PostgreSQL driver; SQLite-only hosts need not have it

        return psycopg.errors.UniqueViolation


def _copy(conn: Connection, bulk: _Bulk) -> None:
    """PostgreSQL: ``COPY`` the rows of ``bulk`` in ``conn``'s transaction."""
    dbapi: Any = conn.connection.dbapi_connection
    head = bulk.head
    with (
        dbapi.cursor() as cursor,
        cursor.copy(f"COPY {bulk.table} ({', '.join(bulk.columns)}) FROM STDIN") as copy,
    ):
        write = copy.write_row
        for row in bulk.rows:
            write((*head, *row))


SQLITE: Dialect = _SQLite()
POSTGRES: Dialect = _PostgreSQL()
DIALECTS: tuple[Dialect, ...] = (SQLITE, POSTGRES)
_BY_NAME = {dialect.name: dialect for dialect in DIALECTS}

ROWID_BIGINT: TypeEngine[int] = BigInteger().with_variant(Integer(), SQLITE.name)
"""An integer key that is the rowid on SQLite (``INTEGER PRIMARY KEY``), a BIGINT elsewhere."""


def dialect_for_url(url: str) -> Dialect:
    """The dialect of a database URL (``sqlite…``; anything else is PostgreSQL)."""
    return SQLITE if url.startswith("sqlite") else POSTGRES


def dialect_by_name(name: str) -> Dialect:
    """The dialect SQLAlchemy calls ``name`` (``sqlite``, ``postgresql``)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unsupported database engine: {name}") from None


def dialect_of(conn: Connection) -> Dialect:
    """The dialect of the engine ``conn`` belongs to."""
    return dialect_by_name(conn.dialect.name)


__all__ = [
    "DIALECTS",
    "POSTGRES",
    "ROWID_BIGINT",
    "SQLITE",
    "Dialect",
    "dialect_by_name",
    "dialect_for_url",
    "dialect_of",
]
