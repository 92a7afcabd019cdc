"""A pushed batch's writes (``gateway.flows.push`` step 5): its batch row, its records,
and what a replayed batch id finds stored.

Each runs inside the group committer's unit of work, on the unit's connection, while the
committer holds the database write lock: as few statements and as little Python as
possible. The batch row and the records go through the driver's cursor (same
transaction), skipping SQLAlchemy's per-row parameter processing.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sized
from typing import Protocol

from sqlalchemy import Connection, select, update

from gateway.store import batch_storage, schema
from gateway.store.dialect import dialect_of

# One valid record's row less the per-batch columns:
# (record_id, version, credit_code, event_time_us, fields_json)
Row = tuple[str, int, str, int, str]

# the records columns of each row, in the order of ``Row``; every row of a batch shares
# the other four (``insert_records``: ``shared``)
_ROW_COLUMNS = ("record_id", "version", "credit_code", "event_time_us", "fields")
_RECORD_KEY = ("source_node_id", "record_id", "version")


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
    def rows_flat(self) -> list[str | int]: ...  # ``rows`` as ``flat_rows`` makes them


def flat_rows(rows: list[Row]) -> list[str | int]:
    """The rows' values in one list, as ``Dialect.bulk_insert`` takes them (SQLite binds
    them as they are), made before the unit of work, outside the write lock."""
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


def insert_batch(conn: Connection, batch: PushedBatch, ledger_index: int) -> int | None:
    """The batch row (its canonical bytes, signature and signer: the provenance) with
    the counts of the usual outcome, every valid record new; its id, or ``None`` if this
    node stored a batch with this id already. One statement on the driver's cursor."""
    sql = dialect_of(conn).insert_sql(
        "batches", _BATCH_COLUMNS, conflict=("node_id", "batch_id"), returning="id"
    )
    accepted = len(batch.rows)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            sql,
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

    ONE bulk write of all the rows that leaves a stored (source, record id, version)
    alone (``Dialect.bulk_insert``: SQLite one multi-row ``INSERT … ON CONFLICT DO
    NOTHING``; PostgreSQL ``COPY`` in a savepoint, redone row by row with ``ON CONFLICT
    DO NOTHING`` if a key is stored already). When every row went in, none was stored
    already (the usual case: no read); otherwise the batch's keys are read back and those
    that are not this batch's are the duplicates.
    """
    rows = batch.rows
    dialect = dialect_of(conn)
    inserted = dialect.bulk_insert(
        conn,
        "records",
        _ROW_COLUMNS,
        rows,
        shared={
            "batch_pk": batch_pk,
            "source_node_id": batch.node_id,
            "category": batch.category,
            "received_at_us": batch.received_at_us,
        },
        conflict=_RECORD_KEY,
        flat=batch.rows_flat,
    )
    if inserted == len(rows):
        return set()
    records = schema.records
    mine = {
        (row[0], row[1])
        for row in conn.execute(
            select(records.c.record_id, records.c.version).where(
                records.c.source_node_id == batch.node_id,
                records.c.batch_pk == batch_pk,
                dialect.ids_in(records.c.record_id, [row[0] for row in rows]),
            )
        )
    }
    return {(row[0], row[1]) for row in rows} - mine


__all__ = [
    "PushedBatch",
    "Row",
    "flat_rows",
    "insert_batch",
    "insert_records",
    "set_counts",
    "stored_batch",
]
