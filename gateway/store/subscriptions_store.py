"""The change log and the subscriptions, in SQL (``gateway.flows.change_log``,
``gateway.flows.subscriptions``, ``gateway.flows.subscription_delivery``).

Every write here runs inside a group-committer unit of work, under the ledger's
sequencer lock: change log positions are therefore given in commit order, on one
database and on every replica sharing it, and a reader sees a prefix of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, literal, select, update

from gateway.store import schema
from gateway.store.dialect import dialect_of
from gateway.store.query_reads import placeholder

_LOG_COLUMNS = (
    "time_us",
    "kind",
    "credit_code",
    "category",
    "source_node_id",
    "record_id",
    "version",
    "record_pk",
    "note",
)


@dataclass(frozen=True)
class LoggedEvent:
    """One change log row with the record it names (its fields still raw)."""

    position: int
    time_us: int
    kind: str
    credit_code: str
    category: str
    source_node_id: str
    record_id: str
    version: int
    record_pk: int | None
    note: str | None
    fields: dict[str, str]
    event_time_us: int
    withdrawn: bool
    present: bool  # the record row is still stored (retention may have deleted it)


@dataclass(frozen=True)
class StoredSubscription:
    subscription_id: str
    node_id: str
    kind: str
    categories: tuple[str, ...]
    purpose: str
    region_prefix: str
    industry: str
    marked_only: bool
    state: str
    created_at_us: int
    acked_position: int
    ledger_index: int


# -- the change log: writes ------------------------------------------------------------


def _from_records(kind: Any, time_us: Any, note: Any) -> Any:
    r = schema.records.c
    return select(
        time_us,
        kind,
        r.credit_code,
        r.category,
        r.source_node_id,
        r.record_id,
        r.version,
        r.id,
        note,
    )


def log_batch(
    conn: Connection, node_id: str, batch_pk: int, record_ids: Sequence[str], kind: str
) -> None:
    """One event per record the batch stored, in record order, ONE statement under the
    write lock: the batch's records found by their record ids (indexed, bound as one
    parameter) and the batch's key. Whether a version supersedes a stored one is asked
    at delivery (``supersedes``), outside the lock."""
    r = schema.records.c
    rows = (
        _from_records(literal(kind), r.received_at_us, literal(None))
        .where(
            dialect_of(conn).ids_in(r.record_id, record_ids),
            r.source_node_id == node_id,
            r.batch_pk == batch_pk,
        )
        .order_by(r.id)
    )
    conn.execute(insert(schema.change_log).from_select(_LOG_COLUMNS, rows))


def supersedes(conn: Connection, source_node_id: str, record_id: str, version: int) -> bool:
    """Whether a lower version of the record is stored (the event is a correction)."""
    r = schema.records.c
    found = conn.execute(
        select(r.id)
        .where(
            r.source_node_id == source_node_id,
            r.record_id == record_id,
            r.version < version,
        )
        .limit(1)
    ).first()
    return found is not None


def log_record(conn: Connection, record_pk: int, kind: str, time_us: int, note: str | None) -> None:
    """One event naming stored record ``record_pk``."""
    r = schema.records.c
    rows = _from_records(literal(kind), literal(time_us), literal(note)).where(r.id == record_pk)
    conn.execute(insert(schema.change_log).from_select(_LOG_COLUMNS, rows))


PRUNED_CURSOR = "change_log_pruned"
"""The ``notice_cursor`` row holding the highest change log position retention deleted."""


def prune_log(conn: Connection, before_us: int) -> int:
    """Delete events logged before ``before_us``, always keeping the newest (so the
    positions of SQLite's rowid never go back), and remember the highest position
    deleted (``pruned_through``); the number deleted."""
    c = schema.change_log.c
    newest = conn.execute(select(func.max(c.position))).scalar()
    if newest is None:
        return 0
    doomed = (c.time_us < before_us) & (c.position < newest)
    through = conn.execute(select(func.max(c.position)).where(doomed)).scalar()
    if through is None:
        return 0
    result = conn.execute(
        schema.change_log.delete().where(doomed).execution_options(preserve_rowcount=True)
    )
    n = schema.notice_cursor.c
    moved = conn.execute(
        update(schema.notice_cursor)
        .where(n.name == PRUNED_CURSOR)
        .values(last_id=int(through))
        .execution_options(preserve_rowcount=True)
    ).rowcount
    if not moved:
        conn.execute(insert(schema.notice_cursor).values(name=PRUNED_CURSOR, last_id=int(through)))
    return int(result.rowcount or 0)


def pruned_through(conn: Connection) -> int:
    """The highest position retention deleted (0: none): a cursor before it expired."""
    n = schema.notice_cursor.c
    found = conn.execute(select(n.last_id).where(n.name == PRUNED_CURSOR)).scalar()
    return int(found or 0)


# -- the change log: reads -------------------------------------------------------------


def bounds(conn: Connection) -> tuple[int, int]:
    """(oldest, newest) position kept; (0, 0) when the log is empty."""
    c = schema.change_log.c
    row = conn.execute(select(func.min(c.position), func.max(c.position))).one()
    return int(row[0] or 0), int(row[1] or 0)


def position_at(conn: Connection, time_us: int) -> int:
    """The last position logged before ``time_us`` (0: none)."""
    c = schema.change_log.c
    found = conn.execute(select(func.max(c.position)).where(c.time_us < time_us)).scalar()
    return int(found or 0)


def time_after(conn: Connection, position: int) -> int | None:
    """When the first event after ``position`` was logged (None: none yet)."""
    c = schema.change_log.c
    found = conn.execute(
        select(c.time_us).where(c.position > position).order_by(c.position).limit(1)
    ).scalar()
    return None if found is None else int(found)


def read_events(conn: Connection, after: int, limit: int) -> list[LoggedEvent]:
    """The events after position ``after``, oldest first, with their records."""
    c, r = schema.change_log.c, schema.records.c
    rows = conn.execute(
        select(
            schema.change_log,
            r.fields,
            r.event_time_us,
            r.withdrawn_at_us,
        )
        .select_from(schema.change_log.outerjoin(schema.records, r.id == c.record_pk))
        .where(c.position > after)
        .order_by(c.position)
        .limit(limit)
    ).all()
    return [_event(row) for row in rows]


def parse_fields(text: str | None) -> dict[str, str]:
    """A record's stored ``fields`` JSON as text values ({} when absent)."""
    loaded: Any = json.loads(text) if text else {}
    if not isinstance(loaded, dict):
        return {}
    return {str(k): v for k, v in loaded.items() if isinstance(v, str)}


def _event(row: Any) -> LoggedEvent:
    fields = parse_fields(row.fields)
    return LoggedEvent(
        position=int(row.position),
        time_us=int(row.time_us),
        kind=row.kind,
        credit_code=row.credit_code,
        category=row.category,
        source_node_id=row.source_node_id,
        record_id=row.record_id,
        version=int(row.version),
        record_pk=None if row.record_pk is None else int(row.record_pk),
        note=row.note,
        fields=fields,
        event_time_us=int(row.event_time_us or 0),
        withdrawn=row.withdrawn_at_us is not None,
        present=row.fields is not None,
    )


def latest_fields(conn: Connection, credit_code: str, category: str) -> dict[str, str] | None:
    """The fields of the newest stored record of ``category`` of an enterprise (None:
    none), e.g. its registration, for the industry a batch push selects by."""
    r = schema.records.c
    text = conn.execute(
        select(r.fields)
        .where(
            r.credit_code == credit_code,
            r.category == category,
            r.withdrawn_at_us.is_(None),
        )
        .order_by(r.event_time_us.desc(), r.version.desc(), r.id.desc())
        .limit(1)
    ).scalar()
    return None if text is None else parse_fields(text)


# -- disclosures of a delivered batch ---------------------------------------------------

DISCLOSURE_COLUMNS = (
    "ledger_index",
    "record_pk",
    "consumer_node_id",
    "grant_id",
    "purpose",
    "masks",
    "trace_id",
    "time_us",
)
_disclosure_sql: dict[str, str] = {}


def disclosure_statement(conn: Connection) -> str:
    """The driver-level INSERT of one ``disclosures`` row (values in DISCLOSURE_COLUMNS
    order), for ``LedgerTx.insert_later``: one executemany for the whole group."""
    mark = placeholder(conn)
    sql = _disclosure_sql.get(mark)
    if sql is None:
        sql = (
            f"INSERT INTO disclosures ({', '.join(DISCLOSURE_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(DISCLOSURE_COLUMNS))})"
        )
        _disclosure_sql[mark] = sql
    return sql


# -- subscriptions ---------------------------------------------------------------------


def insert_subscription(conn: Connection, sub: StoredSubscription) -> None:
    conn.execute(
        insert(schema.subscriptions).values(
            subscription_id=sub.subscription_id,
            node_id=sub.node_id,
            kind=sub.kind,
            categories=json.dumps(list(sub.categories)),
            purpose=sub.purpose,
            region_prefix=sub.region_prefix,
            industry=sub.industry,
            marked_only=sub.marked_only,
            state=sub.state,
            created_at_us=sub.created_at_us,
            acked_position=sub.acked_position,
            ledger_index=sub.ledger_index,
        )
    )


def _subscription(row: Any) -> StoredSubscription:
    return StoredSubscription(
        subscription_id=row.subscription_id,
        node_id=row.node_id,
        kind=row.kind,
        categories=tuple(json.loads(row.categories)),
        purpose=row.purpose,
        region_prefix=row.region_prefix,
        industry=row.industry,
        marked_only=bool(row.marked_only),
        state=row.state,
        created_at_us=int(row.created_at_us),
        acked_position=int(row.acked_position),
        ledger_index=int(row.ledger_index),
    )


def get_subscription(conn: Connection, subscription_id: str) -> StoredSubscription | None:
    s = schema.subscriptions.c
    row = conn.execute(
        select(schema.subscriptions).where(s.subscription_id == subscription_id)
    ).first()
    return None if row is None else _subscription(row)


def list_subscriptions(conn: Connection, node_id: str | None) -> list[StoredSubscription]:
    """A node's subscriptions (``None``: every node's), oldest first."""
    s = schema.subscriptions.c
    query = select(schema.subscriptions).order_by(s.created_at_us, s.subscription_id)
    if node_id is not None:
        query = query.where(s.node_id == node_id)
    return [_subscription(row) for row in conn.execute(query)]


def count_active(conn: Connection, node_id: str) -> int:
    s = schema.subscriptions.c
    return int(
        conn.execute(
            select(func.count()).where(s.node_id == node_id, s.state == "active")
        ).scalar_one()
    )


def cancel_subscription(conn: Connection, subscription_id: str, now_us: int) -> bool:
    """Mark it cancelled, once (False: it was cancelled already)."""
    s = schema.subscriptions.c
    changed = conn.execute(
        update(schema.subscriptions)
        .where(s.subscription_id == subscription_id, s.state == "active")
        .values(state="cancelled", cancelled_at_us=now_us)
        .execution_options(preserve_rowcount=True)
    ).rowcount
    return bool(changed)


def ack_position(conn: Connection, subscription_id: str, position: int, now_us: int) -> None:
    """Move the acknowledged cursor forward (never back: a late ack changes nothing)."""
    s = schema.subscriptions.c
    conn.execute(
        update(schema.subscriptions)
        .where(s.subscription_id == subscription_id, s.acked_position < position)
        .values(acked_position=position, acked_at_us=now_us)
    )


def reset_position(conn: Connection, subscription_id: str, position: int) -> None:
    """A re-sync: the cursor set to ``position`` (the oldest kept, less one)."""
    s = schema.subscriptions.c
    conn.execute(
        update(schema.subscriptions)
        .where(s.subscription_id == subscription_id)
        .values(acked_position=position)
    )


def lag_counts(conn: Connection, positions: Sequence[int]) -> dict[int, int]:
    """Per acknowledged position, how many events were logged after it."""
    c = schema.change_log.c
    return {
        p: int(conn.execute(select(func.count()).where(c.position > p)).scalar_one())
        for p in set(positions)
    }


# -- the checks of a delivery's unit of work ----------------------------------------------


def still_active(conn: Connection, subscription_id: str, node_id: str) -> bool:
    n, s = schema.nodes.c, schema.subscriptions.c
    node_state = conn.execute(select(n.state).where(n.node_id == node_id)).scalar()
    state = conn.execute(select(s.state).where(s.subscription_id == subscription_id)).scalar()
    return node_state == "admitted" and state == "active"


def revoked_grants(conn: Connection, grant_ids: set[str], now_us: int) -> set[str]:
    """Of ``grant_ids``, those revoked (or ended) by now, read in the unit's transaction."""
    if not grant_ids:
        return set()
    g = schema.grants.c
    rows = conn.execute(
        select(g.grant_id, g.revoked_at_us, g.not_after_us).where(g.grant_id.in_(sorted(grant_ids)))
    ).all()
    alive = {
        row.grant_id for row in rows if row.revoked_at_us is None and now_us < int(row.not_after_us)
    }
    return grant_ids - alive


def gone_records(conn: Connection, record_pks: list[int]) -> set[int]:
    """Of the records about to be disclosed, those withdrawn or deleted since they were
    read (the event window keeps what it read)."""
    if not record_pks:
        return set()
    r = schema.records.c
    kept = conn.execute(
        select(r.id).where(r.id.in_(record_pks), r.withdrawn_at_us.is_(None))
    ).scalars()
    return set(record_pks) - {int(pk) for pk in kept}


__all__ = [
    "LoggedEvent",
    "StoredSubscription",
    "ack_position",
    "bounds",
    "cancel_subscription",
    "count_active",
    "disclosure_statement",
    "get_subscription",
    "gone_records",
    "insert_subscription",
    "lag_counts",
    "latest_fields",
    "list_subscriptions",
    "log_batch",
    "log_record",
    "parse_fields",
    "position_at",
    "prune_log",
    "pruned_through",
    "read_events",
    "reset_position",
    "revoked_grants",
    "still_active",
    "supersedes",
    "time_after",
]
