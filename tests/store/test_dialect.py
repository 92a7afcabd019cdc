"""Conformance of ``gateway.store.dialect``: every function of a ``Dialect``, run directly on
SQLite and on a real PostgreSQL (the ``db_url`` fixture), each test the same on both.

In the spirit of trillian's ``storage/testonly`` and spicedb's ``pkg/datastore/test``:
what the callers rely on, said once per engine, not per caller.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    select,
    update,
)

from audit.entry import Action, Entry, Outcome
from gateway.store import migrate, schema
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from gateway.store.dialect import (
    DIALECTS,
    POSTGRES,
    ROWID_BIGINT,
    SQLITE,
    Dialect,
    dialect_by_name,
    dialect_for_url,
    dialect_of,
)
from gateway.store.ledger_ddl import INDEXED_COLUMNS
from xinlian.clock import SystemClock

HOLD_S = 0.2
"""How long the first writer holds the head lock while the second one waits."""
SMALL_PARAMETER_LIMIT = 999
"""A low SQLite parameter limit (the oldest builds' default), to split a bulk insert."""

meta = MetaData()
kv = Table(
    "kv",
    meta,
    Column("k", String(16), primary_key=True),
    Column("v", String(16), nullable=False),
)
items = Table(
    "items",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch", Integer, nullable=False),
    Column("k", String(32), nullable=False),
    Column("v", Integer, nullable=False),
    Column("w", String(32), nullable=True),
    UniqueConstraint("batch", "k"),
)
head = Table(
    "head",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", Integer, nullable=False),
)


def _opened(db_url: str, create: Callable[[Engine], object]) -> Iterator[Store]:
    store = Store(db_url)
    create(store.engine)
    yield store
    store.close()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """The tables of this suite only."""
    yield from _opened(db_url, meta.create_all)


@pytest.fixture
def ledger_store(db_url: str) -> Iterator[Store]:
    """The gateway's schema, migrated."""
    yield from _opened(db_url, migrate.upgrade)


def _count(store: Store, table: Table) -> int:
    return int(
        store.read(lambda c: c.execute(select(func.count()).select_from(table)).scalar_one())
    )


def _driver(store: Store, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    def run(conn: Any) -> list[tuple[Any, ...]]:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    return store.write(run)


# ---------------------------------------------------------------------- choosing one


def test_one_dialect_per_engine_from_url_connection_and_name(store: Store, db_url: str) -> None:
    dialect = dialect_for_url(db_url)
    assert store.dialect is dialect
    assert store.read(dialect_of) is dialect
    assert dialect_by_name(dialect.name) is dialect
    assert dialect in DIALECTS and dialect in (SQLITE, POSTGRES)
    assert {dialect.name for dialect in DIALECTS} == {"sqlite", "postgresql"}
    with pytest.raises(ValueError, match="oracle"):
        dialect_by_name("oracle")


def test_engine_set_up(store: Store) -> None:
    def pragmas(conn: Any) -> tuple[Any, ...]:
        return tuple(
            conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        )

    if store.dialect.embedded:
        assert store.read(pragmas) == ("wal", 2, 1, 30_000)  # synchronous FULL = 2
    else:
        assert store.engine.pool.size() == 10  # type: ignore[attr-defined]
        assert store.engine.driver == "psycopg"
    assert store.read(lambda c: c.exec_driver_sql("SELECT 1").scalar()) == 1


# ---------------------------------------------------------------------- statements


def test_placeholder_works_in_a_raw_query(store: Store) -> None:
    mark = store.dialect.placeholder
    _driver(store, f"INSERT INTO kv (k, v) VALUES ({mark}, {mark})", ("a", "1"))
    assert _driver(store, f"SELECT v FROM kv WHERE k = {mark}", ("a",)) == [("1",)]


def test_insert_if_absent_keeps_the_stored_row(store: Store) -> None:
    insert = store.dialect.insert_if_absent
    assert store.write(lambda c: insert(c, kv, {"k": "a", "v": "first"}))
    assert not store.write(lambda c: insert(c, kv, {"k": "a", "v": "second"}))
    assert not store.write(lambda c: insert(c, kv, {"k": "a", "v": "third"}, ("k",)))
    assert store.write(lambda c: insert(c, kv, {"k": "b", "v": "other"}, ("k",)))
    stored = store.read(lambda c: c.execute(select(kv.c.k, kv.c.v).order_by(kv.c.k)).all())
    assert [tuple(row) for row in stored] == [("a", "first"), ("b", "other")]


def test_insert_returning_answers_nothing_on_conflict(store: Store) -> None:
    sql = store.dialect.insert_sql(
        "items", ("batch", "k", "v"), conflict=("batch", "k"), returning="id"
    )
    assert (
        store.dialect.insert_sql(
            "items", ("batch", "k", "v"), conflict=("batch", "k"), returning="id"
        )
        is sql
    )  # built once
    [(first,)] = _driver(store, sql, (1, "a", 10))
    assert _driver(store, sql, (1, "a", 11)) == []
    [(second,)] = _driver(store, sql, (2, "a", 12))
    assert second != first
    values = store.read(lambda c: c.execute(select(items.c.v).order_by(items.c.id)).scalars())
    assert list(values) == [10, 12]


def test_ids_bound_as_one_parameter(store: Store) -> None:
    rows = [{"batch": 1, "k": f"k{i}", "v": i} for i in range(10)]
    store.write(lambda c: c.execute(items.insert(), rows))

    def keys(ids: list[Any], column: Any = items.c.k) -> list[Any]:
        def run(conn: Any) -> list[Any]:
            where = dialect_of(conn).ids_in(column, ids)
            return sorted(conn.execute(select(column).where(where)).scalars())

        return store.read(run)

    assert keys([]) == []
    assert keys(["k3"]) == ["k3"]
    many = [f"k{i}" for i in range(5000)] + ["k1", "k2"]  # more than any IN list, repeats
    assert keys(many) == sorted(f"k{i}" for i in range(10))
    assert keys(["nope", "k0", "x'); DROP TABLE items; --"]) == ["k0"]
    assert keys([1, 2, 999], items.c.v) == [1, 2]


def test_time_window_position_bounds_like_the_index(store: Store) -> None:
    store.write(lambda c: c.execute(head.insert(), [{"id": i, "size": i} for i in range(5)]))
    position = store.dialect.time_window_position(head.c.id)
    ids = store.read(lambda c: list(c.execute(select(head.c.id).where(position >= 2)).scalars()))
    assert sorted(ids) == [2, 3, 4]


def test_rowid_bigint_is_integer_on_sqlite_only(store: Store) -> None:
    compiled = store.read(lambda c: ROWID_BIGINT.compile(dialect=c.dialect))
    assert compiled == ("INTEGER" if store.dialect.embedded else "BIGINT")


# ---------------------------------------------------------------------- transactions


def test_head_lock_serializes_two_writers(store: Store) -> None:
    """Both writers read the head, wait, and write it plus one: with the lock the
    second reads what the first wrote (2), without it both would write 1."""
    store.write(lambda c: c.execute(head.insert().values(id=1, size=0)))
    select_head = f"SELECT size FROM head WHERE id = 1{store.dialect.head_lock}"
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def bump(conn: Any) -> None:
        size = conn.exec_driver_sql(select_head).scalar()
        time.sleep(HOLD_S)
        conn.execute(update(head).where(head.c.id == 1).values(size=size + 1))

    def writer() -> None:
        try:
            start.wait()
            store.write(bump)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.read(lambda c: c.execute(select(head.c.size)).scalar()) == 2
    assert time.monotonic() - began >= 2 * HOLD_S  # one after the other


def test_snapshot_options_give_a_repeatable_read(store: Store) -> None:
    store.write(lambda c: c.execute(kv.insert().values(k="a", v="1")))
    with store.snapshot() as conn:
        before = conn.execute(select(func.count()).select_from(kv)).scalar()
        store.write(lambda c: c.execute(kv.insert().values(k="b", v="2")))
        store.write(lambda c: c.execute(update(kv).where(kv.c.k == "a").values(v="9")))
        assert conn.execute(select(func.count()).select_from(kv)).scalar() == before == 1
        assert conn.execute(select(kv.c.v).where(kv.c.k == "a")).scalar() == "1"
    assert _count(store, kv) == 2


def test_driver_cursor_streams_or_holds_the_result(store: Store) -> None:
    store.write(lambda c: c.execute(head.insert(), [{"id": i, "size": i} for i in range(50)]))

    def rowcount(conn: Any) -> int:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute("SELECT id FROM head ORDER BY id")
            return int(cursor.rowcount)
        finally:
            cursor.close()

    # a streaming cursor does not know the count before stepping through the result
    assert (store.read(rowcount) == -1) == store.dialect.streams_rows


# ---------------------------------------------------------------------- bulk writes


def test_max_parameters(store: Store) -> None:
    limit = store.read(store.dialect.max_parameters)
    assert limit >= 999  # the smallest SQLite's
    mark = store.dialect.placeholder
    sql = f"SELECT 1 WHERE 1 IN ({', '.join([mark] * limit)})"
    assert _driver(store, sql, tuple([1] * limit)) == [(1,)]


def test_bulk_insert_above_the_parameter_limit(store: Store) -> None:
    dialect = store.dialect
    columns = ("k", "v", "w")

    def insert(conn: Any) -> tuple[int, int]:
        if dialect.embedded:  # this connection's limit, low: several statements, fast
            dbapi = conn.connection.dbapi_connection
            dbapi.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SMALL_PARAMETER_LIMIT)
        n = 3 * (dialect.max_parameters(conn) // len(columns)) + 7  # four SQLite statements
        rows = [(f"k{i}", i, None if i % 2 else f"w{i}") for i in range(n)]
        return n, dialect.bulk_insert(conn, "items", columns, rows, shared={"batch": 1})

    n, inserted = store.write(insert)
    assert inserted == n == _count(store, items)
    last = store.read(lambda c: c.execute(select(items).where(items.c.k == f"k{n - 1}")).one())
    assert (last.batch, last.v, last.w) == (1, n - 1, None if (n - 1) % 2 else f"w{n - 1}")


def test_bulk_insert_skips_or_refuses_stored_keys(store: Store) -> None:
    dialect = store.dialect
    columns = ("k", "v")
    key = ("batch", "k")

    def insert(rows: list[tuple[Any, ...]], **options: Any) -> int:
        return store.write(
            lambda c: dialect.bulk_insert(c, "items", columns, rows, shared={"batch": 7}, **options)
        )

    first = [(f"k{i}", i) for i in range(10)]
    assert insert(first, conflict=key) == 10
    assert insert([], conflict=key) == 0
    again = [(f"k{i}", 100 + i) for i in range(5, 15)]  # five stored, five new
    flat = [value for row in again for value in row]
    assert insert(again, conflict=key, flat=flat) == 5
    assert _count(store, items) == 15
    stored = store.read(lambda c: c.execute(select(items.c.v).where(items.c.k == "k5")).scalar())
    assert stored == 5  # the first row stays
    with pytest.raises(dialect.unique_violation()):
        insert([("k99", 1), ("k0", 1)])  # no conflict clause: refused, nothing inserted
    assert _count(store, items) == 15


# ---------------------------------------------------------------------- the ledger


def _append(store: Store, n: int) -> None:
    def work(conn: Any, ledger: LedgerTx) -> None:
        for i in range(n):
            ledger.append(
                Entry(
                    action=Action.AUDIT_SEARCH,
                    time=SystemClock().now(),
                    actor=f"officer-{i}",
                    actor_kind="officer",
                    outcome=Outcome.OK,
                    trace_id=f"t{i}",
                    credit_code="91350100M000100Y43",
                )
            )

    commit_now(store, SystemClock(), work)


def test_ledger_columns_generated_or_stored(ledger_store: Store) -> None:
    def generated(conn: Any) -> set[str]:
        if dialect_of(conn).embedded:  # table_xinfo: hidden 2 = VIRTUAL generated
            rows = conn.exec_driver_sql("PRAGMA table_xinfo(ledger_entries)").all()
            return {row[1] for row in rows if row[6] == 2}
        rows = conn.exec_driver_sql(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'ledger_entries' AND is_generated = 'ALWAYS'"
        ).all()
        return {row[0] for row in rows}

    found = ledger_store.read(generated)
    assert found == (set(INDEXED_COLUMNS) if ledger_store.dialect.columns_generated else set())


def test_prune_values_keep_entries_searchable(ledger_store: Store) -> None:
    _append(ledger_store, 3)
    t = schema.ledger_entries
    values = ledger_store.dialect.prune_values()
    assert ledger_store.read(lambda c: dialect_of(c).prune_values()).keys() == values.keys()
    ledger_store.write(lambda c: c.execute(update(t).where(t.c.idx < 2).values(**values)))
    rows = ledger_store.read(
        lambda c: c.execute(
            select(t.c.idx, t.c.body, t.c.summary, t.c.actor, t.c.trace_id).order_by(t.c.idx)
        ).all()
    )
    assert [row.body is None for row in rows] == [True, True, False]
    assert [(row.actor, row.trace_id) for row in rows] == [
        (f"officer-{i}", f"t{i}") for i in range(3)
    ]
    kept = [row.summary is not None for row in rows]
    assert kept == ([True, True, False] if ledger_store.dialect.columns_generated else [False] * 3)


# ---------------------------------------------------------------------- the file


def test_database_file(store: Store, db_url: str, tmp_path: Path) -> None:
    dialect = store.dialect
    if dialect.embedded:
        assert store.database_file == dialect.database_file(db_url) == str(tmp_path / "store.db")
        assert dialect.database_file("sqlite://") is None
        assert dialect.database_file("sqlite:///:memory:") is None
    else:
        assert store.database_file is None
        assert dialect.database_file(db_url) is None


def test_overwrite_deletes(store: Store) -> None:
    def secure_delete(conn: Any) -> Any:
        dialect_of(conn).overwrite_deletes(conn)
        return conn.exec_driver_sql("PRAGMA secure_delete").scalar()

    def untouched(conn: Any) -> Any:
        dialect_of(conn).overwrite_deletes(conn)
        return conn.exec_driver_sql("SHOW transaction_isolation").scalar()

    if store.dialect.embedded:
        assert store.write(secure_delete) == 1
    else:
        assert store.write(untouched) == "read committed"  # nothing changed (VACUUM)


def test_truncate_wal(store: Store) -> None:
    store.write(lambda c: c.execute(kv.insert().values(k="a", v="1")))
    truncated = store.dialect.truncate_wal(store.engine)
    if not store.dialect.embedded:
        assert truncated is None
        return
    assert truncated is True
    assert Path(f"{store.database_file}-wal").stat().st_size == 0


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_every_dialect_says_every_difference(dialect: Dialect) -> None:
    """No attribute is left to the base class: each engine states each difference."""
    for attribute in (
        "name",
        "placeholder",
        "head_lock",
        "write_options",
        "snapshot_options",
        "columns_generated",
        "embedded",
        "streams_rows",
    ):
        assert attribute in type(dialect).__dict__, attribute


def test_as_bytes_reads_a_binary_column_whatever_was_stored(ledger_store: Store) -> None:
    """``as_bytes``: the tiles' hashes read as bytes; on SQLite also a value stored as
    TEXT (which the driver could not decode otherwise), with its length in bytes."""
    mark, hashes = ledger_store.dialect.placeholder, ledger_store.dialect.as_bytes.format("hashes")
    _driver(
        ledger_store,
        f"INSERT INTO ledger_tiles (level, idx, hashes) VALUES ({mark}, {mark}, {mark})",
        (0, 0, b"\xff" * 32),
    )
    got = _driver(ledger_store, f"SELECT {hashes}, length({hashes}) FROM ledger_tiles")
    assert [(bytes(h), n) for h, n in got] == [(b"\xff" * 32, 32)]
    if ledger_store.dialect.embedded:
        _driver(ledger_store, "UPDATE ledger_tiles SET hashes = CAST(hashes AS TEXT)")
        got = _driver(ledger_store, f"SELECT {hashes}, length({hashes}) FROM ledger_tiles")
        assert [(bytes(h), n) for h, n in got] == [(b"\xff" * 32, 32)]
