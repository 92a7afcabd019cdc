"""Reads and writes of the witnessing tables (revision 0010; ``gateway.flows.witness``).

* ``witness_cosigned``: each peer checkpoint this gateway cosigned, with the peer's signed
  note and this gateway's cosignature line; the largest per origin is where the next
  consistency proof starts;
* ``witness_received``: the cosignatures peers made over this gateway's own checkpoints;
* ``witness_views``: every peer checkpoint seen, from any source, one row per root of an
  (origin, size): two rows for one (origin, size) are a split view;
* ``split_views``: the evidence of each split view found, both signed notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from gateway.store import schema
from gateway.store.dialect import dialect_of

MAX_EVIDENCE_ROWS = 1000
"""Most split-view rows listed at once."""


@dataclass(frozen=True)
class Cosigned:
    origin: str
    tree_size: int
    root_hash: bytes
    peer_id: str
    note: str
    cosignature: str
    cosigned_at_us: int


@dataclass(frozen=True)
class View:
    origin: str
    tree_size: int
    root_hash: bytes
    note: str
    source: str
    seen_at_us: int


@dataclass(frozen=True)
class Received:
    tree_size: int
    witness_name: str
    key_id: int
    peer_id: str
    timestamp: int
    line: str
    received_at_us: int


@dataclass(frozen=True)
class SplitRow:
    id: int
    peer_id: str
    origin: str
    tree_size: int
    root_a: bytes
    note_a: str
    source_a: str
    root_b: bytes
    note_b: str
    source_b: str
    detected_at_us: int


def _fields(row: object, names: Sequence[str]) -> dict[str, object]:
    mapping = row._mapping  # type: ignore[attr-defined]
    return {
        n: (bytes(mapping[n]) if isinstance(mapping[n], memoryview) else mapping[n]) for n in names
    }


# --------------------------------------------------------------------------- cosigned


def last_cosigned(conn: Connection, origin: str) -> Cosigned | None:
    t = schema.witness_cosigned.c
    row = conn.execute(
        select(schema.witness_cosigned)
        .where(t.origin == origin)
        .order_by(t.tree_size.desc())
        .limit(1)
    ).first()
    return Cosigned(**_fields(row, Cosigned.__dataclass_fields__)) if row is not None else None  # type: ignore[arg-type]


def save_cosigned(conn: Connection, row: Cosigned) -> bool:
    """Keep a cosignature made; the first one of an (origin, size) stays."""
    return dialect_of(conn).insert_if_absent(
        conn, schema.witness_cosigned, row.__dict__, ("origin", "tree_size")
    )


def cosigned_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(schema.witness_cosigned)).scalar_one())


# --------------------------------------------------------------------------- views


def record_view(conn: Connection, view: View) -> list[View]:
    """Keep ``view`` (if its root is new for its origin and size) and return every view
    of that origin and size, the first seen first."""
    dialect_of(conn).insert_if_absent(
        conn, schema.witness_views, view.__dict__, ("origin", "tree_size", "root_hash")
    )
    t = schema.witness_views.c
    rows = conn.execute(
        select(schema.witness_views)
        .where(t.origin == view.origin, t.tree_size == view.tree_size)
        .order_by(t.seen_at_us, t.root_hash)
    ).all()
    return [View(**_fields(r, View.__dataclass_fields__)) for r in rows]  # type: ignore[arg-type]


# --------------------------------------------------------------------------- split views


def save_split(conn: Connection, row: SplitRow) -> bool:
    """Keep the evidence of a split view once per (origin, size, pair of roots)."""
    values = {k: v for k, v in row.__dict__.items() if k != "id"}
    return dialect_of(conn).insert_if_absent(
        conn, schema.split_views, values, ("origin", "tree_size", "root_a", "root_b")
    )


def split_rows(conn: Connection, origin: str | None = None) -> list[SplitRow]:
    t = schema.split_views.c
    query = select(schema.split_views)
    if origin is not None:
        query = query.where(t.origin == origin)
    rows = conn.execute(query.order_by(t.id).limit(MAX_EVIDENCE_ROWS)).all()
    return [SplitRow(**_fields(r, SplitRow.__dataclass_fields__)) for r in rows]  # type: ignore[arg-type]


# --------------------------------------------------------------------------- received


def save_received(conn: Connection, row: Received) -> bool:
    """Keep a peer's cosignature of one of this gateway's checkpoints (first per witness
    and size)."""
    return dialect_of(conn).insert_if_absent(
        conn, schema.witness_received, row.__dict__, ("tree_size", "witness_name", "key_id")
    )


def received(conn: Connection, tree_size: int | None = None) -> list[Received]:
    """Cosignatures received, of one checkpoint size or of all, by size then witness."""
    t = schema.witness_received.c
    query = select(schema.witness_received)
    if tree_size is not None:
        query = query.where(t.tree_size == tree_size)
    rows = conn.execute(query.order_by(t.tree_size, t.witness_name)).all()
    return [Received(**_fields(r, Received.__dataclass_fields__)) for r in rows]  # type: ignore[arg-type]


def latest_witnessed_size(conn: Connection) -> int | None:
    """The largest of this gateway's checkpoint sizes some peer cosigned."""
    size = conn.execute(select(func.max(schema.witness_received.c.tree_size))).scalar_one()
    return int(size) if size is not None else None
