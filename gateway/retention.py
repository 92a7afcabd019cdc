"""Retention: prune old ledger entry bodies, delete expired negative credit records.

Steps of ``prune``, numbered as in the code:

1. the retention period is ``config.retention_days`` but never less than
   ``MIN_RETENTION_DAYS`` (网络安全法 第二十一条: network logs at least six months);
2. entry bodies older than the cut-off are set to NULL, in chunks of ``PRUNE_CHUNK``
   indices; only entries already covered by a signed checkpoint are pruned, and the
   leaf hash is always kept, so every root, checkpoint and proof still verifies
   (see ``audit.merkle``, "Pruning");
3. stored records of negative categories (catalog ``negative``: 行政处罚, 司法判决,
   严重失信) whose event time is more than ``NEGATIVE_RETENTION_DAYS`` ago are deleted
   (征信业管理条例 第十六条: 5 years after the event ends). The record rows go; the
   batch's signed canonical bytes, which the provenance signature covers, are kept — see
   docs/ledger.md for what that leaves and the planned follow-up.

``dry_run`` counts without changing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, delete, func, select, update

from authz.catalog import Catalog
from gateway.config import MIN_RETENTION_DAYS
from gateway.ledger_store import latest_checkpoint
from gateway.store import schema
from gateway.store.db import Store
from gateway.store.timeutil import to_us
from gateway.verify import Retention
from xinlian.clock import Clock

PRUNE_CHUNK = 10_000
"""Ledger indices handled per transaction."""
NEGATIVE_RETENTION_DAYS = 5 * 365 + 2
"""Five years, leap days included."""


@dataclass(frozen=True)
class PruneResult:
    retention_days: int
    cutoff: datetime
    covered_size: int
    """Entries below this index are covered by a checkpoint and may be pruned."""
    entries_pruned: int
    negative_cutoff: datetime
    records_deleted: int
    dry_run: bool


def verify_retention(catalog: Catalog, now: datetime) -> Retention:
    """What ``gateway.verify`` must accept as deleted by step (3) at ``now``."""
    negative = frozenset(c.id for c in catalog.categories.values() if c.negative)
    return Retention(negative, now - timedelta(days=NEGATIVE_RETENTION_DAYS))


def effective_retention_days(configured: int) -> int:
    return max(int(configured), MIN_RETENTION_DAYS)


def prune(
    store: Store,
    clock: Clock,
    catalog: Catalog,
    retention_days: int,
    *,
    dry_run: bool = False,
) -> PruneResult:
    now = clock.now()
    # (1) never below the legal minimum
    days = effective_retention_days(retention_days)
    cutoff = now - timedelta(days=days)
    cutoff_us = to_us(cutoff)
    t = schema.ledger_entries.c

    # (2) bodies of old, checkpointed entries
    def covered(conn: Connection) -> int:
        checkpoint = latest_checkpoint(conn)
        return checkpoint.tree_size if checkpoint is not None else 0

    covered_size = store.read(covered)
    pruned = 0
    for start in range(0, covered_size, PRUNE_CHUNK):
        end = min(covered_size, start + PRUNE_CHUNK)
        where = (t.idx >= start, t.idx < end, t.time_us < cutoff_us, t.body.is_not(None))

        def chunk(conn: Connection, where: tuple[ColumnElement[bool], ...] = where) -> int:
            if dry_run:
                count = conn.execute(
                    select(func.count()).select_from(schema.ledger_entries).where(*where)
                ).scalar_one()
                return int(count)
            result = conn.execute(update(schema.ledger_entries).where(*where).values(body=None))
            return int(result.rowcount or 0)

        pruned += store.read(chunk) if dry_run else store.write(chunk)

    # (3) negative credit records 5 years after the event
    negative = sorted(c.id for c in catalog.categories.values() if c.negative)
    negative_cutoff = now - timedelta(days=NEGATIVE_RETENTION_DAYS)
    r = schema.records.c
    record_where = (r.category.in_(negative), r.event_time_us < to_us(negative_cutoff))

    def records(conn: Connection) -> int:
        if dry_run or not negative:
            if not negative:
                return 0
            count = conn.execute(
                select(func.count()).select_from(schema.records).where(*record_where)
            ).scalar_one()
            return int(count)
        return int(conn.execute(delete(schema.records).where(*record_where)).rowcount or 0)

    deleted = store.read(records) if dry_run else store.write(records)
    return PruneResult(days, cutoff, covered_size, pruned, negative_cutoff, deleted, dry_run)
