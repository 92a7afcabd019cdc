"""A pushed batch's writes (``gateway.flows.push`` step 5): its batch row, its records,
and what a replayed batch id finds stored.

Each runs inside the group committer's unit of work, on the unit's connection, while the
committer holds the database write lock: as few statements and as little Python as
possible. The batch row and the records go through the driver's cursor (same
transaction), skipping SQLAlchemy's per-row parameter processing.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import sqlite3
from collections.abc import Iterable, Sized
from typing import Any, Protocol

from sqlalchemy import Connection, String, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from gateway.store import batch_storage, schema

# One valid record's row less the per-batch columns:
# (record_id, version, credit_code, event_time_us, fields_json)
Row = tuple[str, int, str, int, str]

# the records columns written by a push, in the order of ``insert_records`` rows
_RECORD_COLUMNS = (
    "batch_pk",
    "source_node_id",
    "record_id",
    "version",
    "credit_code",
    "category",
    "event_time_us",
    "fields",
    "received_at_us",
)
_COLUMN_LIST = ", ".join(_RECORD_COLUMNS)
# SQLite: the rows of a batch in ONE statement, a multi-row VALUES with numbered
# parameters: ?1..?4 the batch's own columns (batch_pk, source node, category, received
# time), then five per row (record id, version, credit code, event time, fields JSON).
# One sqlite3_step inserts them all with the GIL released, so the event loop keeps
# preparing the next batches meanwhile; an ``executemany`` takes the GIL back after
# every row and waits for it behind the busy event loop while the database write lock
# is held. Earlier versions passed the rows as one JSON array read with ``json_each``:
# the same single step, but SQLite parsed the JSON (one thread, 60 000 rows: 100–150k
# rows/s that way, 160–170k with VALUES).
_SQLITE_BATCH_PARAMS = 4
_SQLITE_ROW_PARAMS = 5


@functools.lru_cache(maxsize=64)
def _sqlite_insert(rows: int) -> str:
    """The INSERT of ``rows`` rows (cached: one SQL text, and SQLite's prepared
    statement, per row count)."""
    values = ",".join(
        f"(?1,?2,?{k},?{k + 1},?{k + 2},?3,?{k + 3},?{k + 4},?4)"
        for k in range(
            _SQLITE_BATCH_PARAMS + 1,
            _SQLITE_BATCH_PARAMS + 1 + _SQLITE_ROW_PARAMS * rows,
            _SQLITE_ROW_PARAMS,
        )
    )
    return (
        f"INSERT INTO records ({_COLUMN_LIST}) VALUES {values} "
        "ON CONFLICT (source_node_id, record_id, version) DO NOTHING"
    )


_POSTGRES_COPY = f"COPY records ({_COLUMN_LIST}) FROM STDIN"


class PushedBatch(Protocol):
    """What the writes read of a batch prepared for them (``gateway.flows.push``)."""

    @property
    def node_id(self) -> str: ...
    @property
    def batch_id(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def stored(self) -> bytes: ...  # the canonical bytes as ``batch_storage.pack`` keeps them
    @property
    def stored_encoding(self) -> str: ...
    @property
    def signature(self) -> bytes: ...
    @property
    def signer_fingerprint(self) -> str: ...
    @property
    def received_at_us(self) -> int: ...
    @property
    def earliest_event_us(self) -> int | None: ...
    @property
    def verdicts(self) -> Sized: ...  # one per record of the batch
    @property
    def rows(self) -> list[Row]: ...  # the valid records
    @property
    def rows_flat(self) -> list[str | int]: ...  # SQLite: ``rows`` as ``flat_rows`` makes them


def flat_rows(rows: list[Row]) -> list[str | int]:
    """The rows as SQLite's ``insert_records`` passes them (five parameters a row),
    built before the unit of work, outside the write lock."""
    return list(itertools.chain.from_iterable(rows))


# -- the batch row ---------------------------------------------------------------------

_BATCH_COLUMNS = (
    "node_id",
    "batch_id",
    "category",
    "canonical",
    "signature",
    "signer_fingerprint",
    "received_at_us",
    "ledger_index",
    "record_count",
    "accepted",
    "duplicates",
    "rejected",
    "earliest_event_us",
    "canonical_encoding",
)


def _batch_insert(mark: str) -> str:
    return (
        f"INSERT INTO batches ({', '.join(_BATCH_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(_BATCH_COLUMNS))}) "
        "ON CONFLICT (node_id, batch_id) DO NOTHING RETURNING id"
    )


_SQLITE_BATCH_INSERT = _batch_insert("?")
_POSTGRES_BATCH_INSERT = _batch_insert("%s")


def insert_batch(conn: Connection, batch: PushedBatch, ledger_index: int) -> int | None:
    """The batch row (its canonical bytes, signature and signer: the provenance) with
    the counts of the usual outcome, every valid record new; its id, or ``None`` if this
    node stored a batch with this id already. One statement on the driver's cursor."""
    postgres = conn.dialect.name == "postgresql"
    accepted = len(batch.rows)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            _POSTGRES_BATCH_INSERT if postgres else _SQLITE_BATCH_INSERT,
            (
                batch.node_id,
                batch.batch_id,
                batch.category,
                batch.stored,
                batch.signature,
                batch.signer_fingerprint,
                batch.received_at_us,
                ledger_index,
                len(batch.verdicts),
                accepted,
                0,
                len(batch.verdicts) - accepted,
                batch.earliest_event_us,
                batch.stored_encoding,
            ),
        )
        row = cursor.fetchone()
    finally:
        cursor.close()
    return None if row is None else int(row[0])


def set_counts(conn: Connection, batch_pk: int, accepted: int, duplicates: int) -> None:
    """The batch row's counts when some valid records were stored already."""
    batches = schema.batches
    conn.execute(
        update(batches)
        .where(batches.c.id == batch_pk)
        .values(accepted=accepted, duplicates=duplicates)
    )


def stored_batch(conn: Connection, node_id: str, batch_id: str) -> tuple[str, int]:
    """The SHA-256 (hex) of the canonical bytes this node stored under ``batch_id``, and
    the batch's ledger index. Bytes that retention erased answer with the SHA-256 their
    erasure kept."""
    b, e = schema.batches.c, schema.batch_erasures.c
    prior = conn.execute(
        select(b.canonical, b.canonical_encoding, b.ledger_index, e.canonical_sha256)
        .select_from(schema.batches.outerjoin(schema.batch_erasures, e.batch_pk == b.id))
        .where(b.node_id == node_id, b.batch_id == batch_id)
    ).one()
    if prior.canonical is not None:
        stored = batch_storage.unpack(bytes(prior.canonical), str(prior.canonical_encoding))
        digest = hashlib.sha256(stored).hexdigest()
    else:
        digest = prior.canonical_sha256
    return digest, int(prior.ledger_index or 0)


# -- the records -----------------------------------------------------------------------


def insert_records(conn: Connection, batch: PushedBatch, batch_pk: int) -> set[tuple[str, int]]:
    """Write the batch's valid records; return the keys that were stored already.

    Runs inside the group transaction, after the committer locked the ledger sequencer
    row, so no other writer can insert the same keys before this unit commits.

    * SQLite: ONE ``INSERT … VALUES … ON CONFLICT DO NOTHING`` of all the rows
      (``_sqlite_insert``; more statements only if the rows need more parameters than
      this SQLite allows); when the changed-row count is the number of rows, none was
      stored already; otherwise the batch's keys are read back and those that belong to
      another batch are duplicates;
    * PostgreSQL: ``COPY`` inside a savepoint; if a key is stored already the unique
      constraint refuses the COPY, the savepoint is rolled back, the stored keys are
      read and the others are copied.
    """
    node_id, category, received = batch.node_id, batch.category, batch.received_at_us
    rows = batch.rows
    dbapi: Any = conn.connection.dbapi_connection
    if conn.dialect.name != "postgresql":
        flat = batch.rows_flat
        per_statement = max(
            1,
            (dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - _SQLITE_BATCH_PARAMS)
            // _SQLITE_ROW_PARAMS,
        )
        head: list[str | int] = [batch_pk, node_id, category, received]
        inserted = 0
        cursor = dbapi.cursor()
        try:
            for start in range(0, len(rows), per_statement):
                n = min(per_statement, len(rows) - start)
                chunk = flat[start * _SQLITE_ROW_PARAMS : (start + n) * _SQLITE_ROW_PARAMS]
                cursor.execute(_sqlite_insert(n), head + chunk)
                inserted += cursor.rowcount
        finally:
            cursor.close()
        if inserted == len(rows):
            return set()
        mine = _stored_keys(conn, node_id, [row[0] for row in rows], batch_pk)
        return {(row[0], row[1]) for row in rows} - mine

    import psycopg  # the PostgreSQL driver; imported here so SQLite-only hosts need not

    try:
        with conn.begin_nested():
            _copy_rows(dbapi, batch_pk, node_id, category, received, rows)
        return set()
    except psycopg.errors.UniqueViolation:
        pass
    stored = _stored_keys(conn, node_id, [row[0] for row in rows])
    fresh = [row for row in rows if (row[0], row[1]) not in stored]
    if fresh:
        _copy_rows(dbapi, batch_pk, node_id, category, received, fresh)
    return {(row[0], row[1]) for row in rows} & stored


def _copy_rows(
    dbapi: Any, batch_pk: int, node_id: str, category: str, received: int, rows: Iterable[Row]
) -> None:
    with dbapi.cursor() as cursor, cursor.copy(_POSTGRES_COPY) as copy:
        write = copy.write_row
        for rid, ver, code, ev, fj in rows:
            write((batch_pk, node_id, rid, ver, code, category, ev, fj, received))


def _stored_keys(
    conn: Connection, node_id: str, record_ids: list[str], batch_pk: int | None = None
) -> set[tuple[str, int]]:
    """The (record id, version) pairs of ``node_id`` stored, for these record ids; with
    ``batch_pk``, only those of that batch.

    The ids travel as ONE parameter (PostgreSQL: an array; SQLite: a JSON array read with
    ``json_each``): a long ``IN`` list costs a compile per batch and plans badly once
    psycopg prepares the statement.
    """
    records = schema.records
    unique = list(dict.fromkeys(record_ids))
    if conn.dialect.name == "postgresql":
        wanted: Any = records.c.record_id == any_(
            bindparam("ids", value=unique, type_=ARRAY(String))
        )
    else:
        ids = func.json_each(bindparam("ids", value=json.dumps(unique))).table_valued("value")
        wanted = records.c.record_id.in_(select(ids.c.value))
    query = select(records.c.record_id, records.c.version).where(
        records.c.source_node_id == node_id, wanted
    )
    if batch_pk is not None:
        query = query.where(records.c.batch_pk == batch_pk)
    return {(row[0], row[1]) for row in conn.execute(query)}


__all__ = [
    "PushedBatch",
    "Row",
    "flat_rows",
    "insert_batch",
    "insert_records",
    "set_counts",
    "stored_batch",
]
