"""The gateway's change log: what subscriptions deliver (docs/subscriptions.md).

Each flow that changes what a consumer may see calls ONE function of this module inside
its own unit of work, so the event commits with the change or not at all:

* push (``gateway.flows.push``): ``batch_stored`` — one event per stored record, kind
  ``record``; the delivery calls it ``corrected`` when a lower version is stored (asked
  outside the push's write lock);
* an objection's answer that withdraws a record (``gateway.flows.objections``):
  ``record_changed(..., WITHDRAWN)``; a filed objection: ``OBJECTION`` (the annotation
  异议处理中 a query shows), with the objection's state as the note;
* a repair or list removal (``gateway.flows.repairs``): ``REPAIRED``, the kind as note;
* the end of a publicity period (公示期届满), which no request causes: the scheduled
  task ``run_publicity_ends`` logs ``PUBLICITY_ENDED`` once per record whose period
  ran out (``log_publicity_ends``).

Positions are the table's key, given in commit order (every writer holds the ledger's
sequencer lock), so a replica on the same PostgreSQL reads the same log. Retention
(``prune``) deletes events older than ``CHANGE_LOG_RETENTION_DAYS``; a subscriber whose
cursor is older gets ``CURSOR_EXPIRED`` and re-syncs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, select

from authz.catalog import Catalog
from authz.publicity import RepairKind, local_day, verdict
from gateway.flows.publicity import repaired_records
from gateway.flows.runtime import Runtime
from gateway.store import schema, subscriptions_store
from gateway.store.batch_writes import Row
from gateway.store.committer import LedgerTx
from gateway.store.timeutil import from_us, to_us

log = logging.getLogger(__name__)

RECORD = "record"
CORRECTED = "corrected"
WITHDRAWN = "withdrawn"
OBJECTION = "objection"
REPAIRED = "repaired"
PUBLICITY_ENDED = "publicity_ended"
KINDS = (RECORD, CORRECTED, WITHDRAWN, OBJECTION, REPAIRED, PUBLICITY_ENDED)

CHANGE_LOG_RETENTION_DAYS = 90
"""Events older than this are pruned; a cursor before them must re-sync."""
PUBLICITY_SCAN_INTERVAL_S = 60.0
"""How often the scheduled task looks for publicity periods that ran out."""
MAX_PUBLICITY_SCAN = 5000
"""Records of categories with a publicity rule examined per pass."""


class StoredBatch(Protocol):
    """What the push hook reads of a batch (``gateway.flows.push.PreparedBatch``)."""

    @property
    def node_id(self) -> str: ...
    @property
    def rows(self) -> list[Row]: ...


def batch_stored(conn: Connection, batch: StoredBatch, batch_pk: int) -> None:
    """The push hook: one event per record the batch stored (same transaction)."""
    if batch.rows:
        ids = [row[0] for row in batch.rows]
        subscriptions_store.log_batch(conn, batch.node_id, batch_pk, ids, RECORD)


def record_changed(
    conn: Connection, record_pk: int, kind: str, now: datetime, note: str | None = None
) -> None:
    """The hook of a withdrawal, objection or repair: one event naming the record."""
    if kind not in KINDS:
        raise ValueError(f"unknown change log kind {kind!r}")
    subscriptions_store.log_record(conn, record_pk, kind, to_us(now), note)


def kind_of_answer(answer: str) -> str:
    """The event of an objection's answer: a withdrawal withdraws the record; any other
    answer (upheld, corrected) ends the annotation, an ``objection`` event."""
    return WITHDRAWN if answer == "withdrawn" else OBJECTION


# -- publicity ends: the scheduled task ------------------------------------------------


def log_publicity_ends(conn: Connection, catalog: Catalog, now: datetime) -> int:
    """A unit of work: one ``publicity_ended`` event per current record of a category
    with a publicity rule that is no longer disclosed at ``now`` and has none yet.
    Runs under the sequencer lock, so two replicas never log the same end twice."""
    rules = {c.id: c.publicity for c in catalog.categories.values() if c.publicity is not None}
    if not rules:
        return 0
    r, c = schema.records.c, schema.change_log.c
    ended = select(c.position).where(c.record_pk == r.id, c.kind == PUBLICITY_ENDED).exists()
    rows = conn.execute(
        select(r.id, r.credit_code, r.category, r.source_node_id, r.record_id, r.fields)
        .add_columns(r.event_time_us)
        .where(r.category.in_(list(rules)), r.withdrawn_at_us.is_(None), ~ended)
        .order_by(r.id)
        .limit(MAX_PUBLICITY_SCAN)
    ).all()
    logged = 0
    repaired: dict[str, dict[tuple[str, str], RepairKind]] = {}
    for row in rows:
        fields = subscriptions_store.parse_fields(row.fields)
        repairs = repaired.get(row.credit_code)
        if repairs is None:
            repairs = repaired_records(conn, row.credit_code)
            repaired[row.credit_code] = repairs
        if (row.source_node_id, row.record_id) in repairs:
            continue  # a repair ended it: the repair's own event said so
        day = local_day(from_us(int(row.event_time_us)))
        if not verdict(rules[row.category], fields, day, now).disclosed:
            record_changed(conn, int(row.id), PUBLICITY_ENDED, now)
            logged += 1
    return logged


async def run_publicity_ends(rt: Runtime) -> None:
    """The scheduled task (started with the gateway): every
    ``PUBLICITY_SCAN_INTERVAL_S``, log the publicity periods that ran out."""
    catalog = rt.catalog
    while True:
        try:
            count = await rt.commit(functools.partial(_publicity_work, catalog, rt.clock.now()))
            if count:
                log.info("change log: %d publicity periods ended", count)
        except asyncio.CancelledError:
            raise
        except Exception:  # the next pass tries again; the log says why
            log.exception("change log: publicity scan failed")
        await asyncio.sleep(PUBLICITY_SCAN_INTERVAL_S)


def _publicity_work(catalog: Catalog, now: datetime, conn: Connection, ledger: LedgerTx) -> int:
    return log_publicity_ends(conn, catalog, now)


def prune(conn: Connection, now: datetime) -> int:
    """Retention of the change log: events older than ``CHANGE_LOG_RETENTION_DAYS``."""
    before = now - timedelta(days=CHANGE_LOG_RETENTION_DAYS)
    return subscriptions_store.prune_log(conn, to_us(before))


__all__ = [
    "CHANGE_LOG_RETENTION_DAYS",
    "CORRECTED",
    "KINDS",
    "OBJECTION",
    "PUBLICITY_ENDED",
    "RECORD",
    "REPAIRED",
    "WITHDRAWN",
    "batch_stored",
    "log_publicity_ends",
    "prune",
    "record_changed",
    "run_publicity_ends",
]
