"""The federation's rows: member gateways, relay cursors, relayed batches (docs/federation.md).

The relay outbox is the ``batches`` table itself read past a cursor: a batch of a
relayable category with an id above the peer's cursor is still to be sent; the cursor
moves only after the peer answered for the batches, in the same order, so a restart of
either side resends at most what was not acknowledged, and the receiver's unique key
(source gateway, source node, batch id) makes the resend harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from gateway.store import schema
from gateway.store.batch_storage import unpack

MEMBER_COLUMNS = (
    "gateway_id",
    "region",
    "endpoint",
    "tls_server_name",
    "ca_pem",
    "verifier_key",
    "origin",
    "catalog_version",
    "upstream",
    "state",
)


def member_rows(conn: Connection) -> list[dict[str, Any]]:
    m = schema.federation_members.c
    rows = conn.execute(select(schema.federation_members).order_by(m.gateway_id)).all()
    return [{k: getattr(row, k) for k in MEMBER_COLUMNS} for row in rows]


def upsert_member(conn: Connection, values: dict[str, Any], now_us: int) -> None:
    m = schema.federation_members.c
    row = {k: values[k] for k in MEMBER_COLUMNS} | {"updated_at_us": now_us}
    done = conn.execute(
        update(schema.federation_members).where(m.gateway_id == values["gateway_id"]).values(row)
    )
    if done.rowcount == 0:
        conn.execute(insert(schema.federation_members).values(row))


def set_member_state(conn: Connection, gateway_id: str, state: str, now_us: int) -> None:
    conn.execute(
        update(schema.federation_members)
        .where(schema.federation_members.c.gateway_id == gateway_id)
        .values(state=state, updated_at_us=now_us)
    )


def replace_members(conn: Connection, rows: Sequence[dict[str, Any]], now_us: int) -> None:
    """A member's copy of the directory's member list (after it verified the directory)."""
    conn.execute(delete(schema.federation_members))
    for values in rows:
        upsert_member(conn, values, now_us)


def last_member_update_us(conn: Connection) -> int:
    value = conn.execute(select(func.max(schema.federation_members.c.updated_at_us))).scalar()
    return int(value or 0)


def member_known(conn: Connection, gateway_id: str) -> bool:
    m = schema.federation_members.c
    return (
        conn.execute(select(m.state).where(m.gateway_id == gateway_id)).scalar_one_or_none()
        == "admitted"
    )


# -- cursors ------------------------------------------------------------------------------


def cursor(conn: Connection, peer: str, direction: str) -> int:
    c = schema.federation_cursors.c
    value = conn.execute(
        select(c.last_batch_pk).where(c.peer == peer, c.direction == direction)
    ).scalar_one_or_none()
    return int(value or 0)


def move_cursor(conn: Connection, peer: str, direction: str, batch_pk: int, now_us: int) -> None:
    """Forward only: an older acknowledgement never moves the cursor back."""
    c = schema.federation_cursors.c
    done = conn.execute(
        update(schema.federation_cursors)
        .where(c.peer == peer, c.direction == direction, c.last_batch_pk < batch_pk)
        .values(last_batch_pk=batch_pk, updated_at_us=now_us)
    )
    if (
        done.rowcount == 0
        and not conn.execute(select(c.peer).where(c.peer == peer, c.direction == direction)).first()
    ):
        conn.execute(
            insert(schema.federation_cursors).values(
                peer=peer, direction=direction, last_batch_pk=batch_pk, updated_at_us=now_us
            )
        )


@dataclass(frozen=True)
class OutboxBatch:
    pk: int
    node_id: str
    batch_id: str
    category: str
    canonical: bytes
    signature: bytes
    signer_fingerprint: str
    ledger_index: int
    received_at_us: int


def pending_batches(
    conn: Connection, after_pk: int, categories: Sequence[str], limit: int
) -> list[OutboxBatch]:
    """The stored batches of these categories past the cursor, oldest first (erased ones
    are skipped: their bytes are gone)."""
    b = schema.batches.c
    rows = conn.execute(
        select(
            b.id,
            b.node_id,
            b.batch_id,
            b.category,
            b.canonical,
            b.canonical_encoding,
            b.signature,
            b.signer_fingerprint,
            b.ledger_index,
            b.received_at_us,
        )
        .where(b.id > after_pk, b.category.in_(list(categories)), b.canonical.is_not(None))
        .order_by(b.id)
        .limit(limit)
    ).all()
    return [
        OutboxBatch(
            int(r.id),
            r.node_id,
            r.batch_id,
            r.category,
            unpack(bytes(r.canonical), r.canonical_encoding),
            bytes(r.signature),
            r.signer_fingerprint,
            int(r.ledger_index or 0),
            int(r.received_at_us),
        )
        for r in rows
    ]


def pending_count(conn: Connection, after_pk: int, categories: Sequence[str]) -> int:
    b = schema.batches.c
    return int(
        conn.execute(
            select(func.count())
            .select_from(schema.batches)
            .where(b.id > after_pk, b.category.in_(list(categories)), b.canonical.is_not(None))
        ).scalar_one()
    )


def batch_credit_codes(conn: Connection, batch_pks: Sequence[int]) -> dict[int, set[str]]:
    r = schema.records.c
    out: dict[int, set[str]] = {}
    for row in conn.execute(
        select(r.batch_pk, r.credit_code).where(r.batch_pk.in_(list(batch_pks))).distinct()
    ):
        out.setdefault(int(row.batch_pk), set()).add(row.credit_code)
    return out


def certificate_pem(conn: Connection, fingerprint: str) -> str | None:
    c = schema.certificates.c
    value = conn.execute(select(c.pem).where(c.fingerprint == fingerprint)).scalar_one_or_none()
    return str(value) if value is not None else None


# -- relayed copies -----------------------------------------------------------------------


def relayed_outcomes(
    conn: Connection, source_gateway_id: str, source_node_id: str, batch_id: str
) -> tuple[str, str] | None:
    """(SHA-256 of the bytes, per-record outcomes) of a relayed batch already held."""
    f = schema.federation_relayed.c
    row = conn.execute(
        select(f.canonical_sha256, f.outcomes).where(
            f.source_gateway_id == source_gateway_id,
            f.source_node_id == source_node_id,
            f.batch_id == batch_id,
        )
    ).first()
    return (row.canonical_sha256, row.outcomes) if row is not None else None


def insert_relayed(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(schema.federation_relayed).values(values))


def relayed_count(conn: Connection) -> int:
    return int(
        conn.execute(select(func.count()).select_from(schema.federation_relayed)).scalar_one()
    )


def erase_relayed_before(conn: Connection, cutoff_us: int, categories: Sequence[str]) -> int:
    """Retention on relayed copies: the signed bytes of negative batches holding a record
    whose event is older than the cutoff are removed (the row, its SHA-256 and the
    ledger entry stay)."""
    f = schema.federation_relayed.c
    done = conn.execute(
        update(schema.federation_relayed)
        .where(
            f.canonical.is_not(None),
            f.category.in_(list(categories)),
            f.earliest_event_us < cutoff_us,
        )
        .values(canonical=None)
    )
    return int(done.rowcount or 0)
