"""Retention: prune old ledger entry bodies, delete expired negative credit records and
erase the signed bytes that still hold them.

Steps of ``prune``, numbered as in the code:

1. the retention period is ``config.retention_days`` but never less than
   ``MIN_RETENTION_DAYS`` (网络安全法 第二十一条: network logs at least six months);
2. entry bodies older than the cut-off are set to NULL, in chunks of ``PRUNE_CHUNK``
   indices; only entries already covered by a signed checkpoint are pruned, and the
   leaf hash is always kept, so every root, checkpoint and proof still verifies
   (see ``audit.merkle``, "Pruning"). On SQLite, whose indexed columns are generated
   from the body, the same UPDATE sets ``summary`` to the body's seven searched keys
   (``gateway.store.ledger_ddl``), so the entry stays searchable. ``retention.erased``
   bodies are never pruned: they hold no personal data (hashes and counts) and are
   what keeps the records of an erased batch tamper-evident (step 4);
3. stored records of negative categories (catalog ``negative``: 行政处罚, 司法判决,
   严重失信) whose event time is more than ``NEGATIVE_RETENTION_DAYS`` ago are deleted
   (征信业管理条例 第十六条: 5 years after the event ends);
4. (4b: the relayed copies other gateways sent here lose their signed bytes by the same
   rule: a negative batch whose earliest record is past the period, docs/federation.md)
   the batch's signed canonical bytes still hold those records' fields, so they are
   erased too: every negative batch whose bytes are stored and whose signed records
   include one past that period (the rule of step 3, ``Retention.allows_missing``),
   one batch at a time (``gateway.store.erasure``):
   (a) the batch is checked as ``xinlian audit verify`` checks it — signature, header,
       every stored record row against its signed record, the ``push.batch`` entry —
       and if anything does not verify the batch is left alone and reported in
       ``PruneResult.erase_refused`` (tampered data is never laundered into digests);
   (b) in ONE transaction with its ledger entry (``commit_now``): the due record rows
       of the batch are deleted (if step 3 did not already), a ``batch_erasures`` row
       keeps the SHA-256 of the bytes and the digests of the remaining record rows,
       ``batches.canonical`` is set to NULL (signature and signer stay), and a
       ``retention.erased`` entry by the gateway names the batch, the bytes' SHA-256
       and the SHA-256 of the kept digests;
5. what steps 2–4 delete is overwritten, not left in free space: on SQLite every one of
   their transactions runs with ``PRAGMA secure_delete=ON``, and prune ends with
   ``PRAGMA wal_checkpoint(TRUNCATE)`` so no old page stays in the WAL file (a reader
   holding an old snapshot can keep the WAL: ``PruneResult.wal_truncated`` is then
   False). PostgreSQL keeps dead tuples until ``VACUUM`` (docs/operations.md).

``dry_run`` counts without changing anything (step 4 included: what it would erase and
what it would refuse).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from audit.entry import Action
from authz.catalog import Catalog
from gateway.core.bounds import MIN_RETENTION_DAYS
from gateway.flows import change_log
from gateway.store import federation_store, schema
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from gateway.store.dialect import dialect_of
from gateway.store.erasure import KeptRecord, encode_kept, erasure_entry, record_sha256
from gateway.store.ledger import latest_checkpoint
from gateway.store.timeutil import to_us
from gateway.verify import (
    EntryBodies,
    Retention,
    VerifyReport,
    check_stored_batch,
    stored_bytes,
)
from xinlian.clock import Clock

T = TypeVar("T")

PRUNE_CHUNK = 10_000
"""Ledger indices handled per transaction."""
ERASE_SCAN_CHUNK = 200
"""Negative batches (with their signed bytes) read per query when looking for bytes to
erase (step 4)."""
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
    batches_erased: int = 0
    """Negative batches whose signed bytes were (on a dry run: would be) erased."""
    erase_refused: tuple[str, ...] = ()
    """Batches due for erasure left alone because they do not verify, one line each."""
    wal_truncated: bool | None = None
    """SQLite: whether the final WAL checkpoint emptied the WAL file (None: not SQLite,
    or a dry run)."""
    relayed_erased: int = 0
    """Relayed copies of negative batches (gateway.flows.relay) whose bytes were erased."""
    change_log_pruned: int = 0
    """Change log events deleted (gateway.flows.change_log; 0 on a dry run)."""


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

    # (2) bodies of old, checkpointed entries (never those of retention.erased entries)
    def covered(conn: Connection) -> int:
        checkpoint = latest_checkpoint(conn)
        return checkpoint.tree_size if checkpoint is not None else 0

    covered_size = store.read(covered)
    pruned = 0
    for start in range(0, covered_size, PRUNE_CHUNK):
        end = min(covered_size, start + PRUNE_CHUNK)
        where = (
            t.idx >= start,
            t.idx < end,
            t.time_us < cutoff_us,
            t.body.is_not(None),
            t.action != Action.RETENTION_ERASED.value,
        )

        def chunk(conn: Connection, where: tuple[ColumnElement[bool], ...] = where) -> int:
            if dry_run:
                count = conn.execute(
                    select(func.count()).select_from(schema.ledger_entries).where(*where)
                ).scalar_one()
                return int(count)
            result = conn.execute(
                update(schema.ledger_entries).where(*where).values(**store.dialect.prune_values())
            )
            return int(result.rowcount or 0)

        pruned += store.read(chunk) if dry_run else store.write(_overwriting(chunk))

    # (3) negative credit records 5 years after the event
    negative = sorted(c.id for c in catalog.categories.values() if c.negative)
    retention = verify_retention(catalog, now)
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

    deleted = store.read(records) if dry_run else store.write(_overwriting(records))
    # (3b) the subscriptions' change log past its own retention (docs/subscriptions.md)
    events_pruned = 0 if dry_run else store.write(partial(change_log.prune, now=now))

    # (4) the signed bytes of negative batches holding a due record
    erased = 0
    refused: list[str] = []
    keys: dict[str, Any] = {}
    for batch_pk in _batches_to_erase(store, negative, retention):
        if dry_run:
            found = store.read(partial(_inspect, batch_pk=batch_pk, retention=retention, keys=keys))
        else:
            found = commit_now(store, clock, _erasure(batch_pk, retention, keys, now))
        if found is None:
            continue
        if found.problems:
            refused.append(found.refusal())
            continue
        erased += 1
        deleted += 0 if dry_run else len(found.due_rows)

    # (4b) relayed copies (docs/federation.md): the same rule on other gateways' batches
    relayed_cutoff = to_us(negative_cutoff)
    relayed = 0
    if negative and not dry_run:
        relayed = store.write(
            _overwriting(
                partial(
                    federation_store.erase_relayed_before,
                    cutoff_us=relayed_cutoff,
                    categories=negative,
                )
            )
        )

    # (5) SQLite: no deleted page left behind in the WAL file
    wal_truncated = None if dry_run else store.dialect.truncate_wal(store.engine)
    return PruneResult(
        days,
        cutoff,
        covered_size,
        pruned,
        negative_cutoff,
        deleted,
        dry_run,
        erased,
        tuple(refused),
        wal_truncated,
        relayed,
        events_pruned,
    )


def _overwriting(fn: Callable[[Connection], T]) -> Callable[[Connection], T]:
    """``fn`` on a connection that overwrites what it deletes (step 5)."""

    def run(conn: Connection) -> T:
        _secure_delete(conn)
        return fn(conn)

    return run


def _secure_delete(conn: Connection) -> None:
    """(5) SQLite: this connection overwrites deleted content with zeros from now on, so
    no deleted value stays in free pages or free space of the file. PostgreSQL: nothing
    to do here (VACUUM)."""
    dialect_of(conn).overwrite_deletes(conn)


# --------------------------------------------------------------------------- (4)


def _batches_to_erase(store: Store, negative: list[str], retention: Retention) -> list[int]:
    """The negative batches with stored signed bytes holding a record past retention
    (or bytes that do not even parse: step (4a) then reports them). Only batches whose
    ``earliest_event_us`` is before the cut-off (or unknown: stored before revision
    0003) are read and parsed, not every negative batch on every run."""
    if not negative or retention.negative_cutoff is None:
        return []
    b = schema.batches.c
    cutoff_us = to_us(retention.negative_cutoff)
    found: list[int] = []
    last = 0
    while True:
        query = (
            select(b.id, b.category, b.canonical, b.canonical_encoding)
            .where(
                b.id > last,
                b.category.in_(negative),
                b.canonical.is_not(None),
                or_(b.earliest_event_us.is_(None), b.earliest_event_us < cutoff_us),
            )
            .order_by(b.id)
            .limit(ERASE_SCAN_CHUNK)
        )
        rows = store.read(partial(_rows, query=query))
        if not rows:
            return found
        last = int(rows[-1].id)
        found.extend(
            int(row.id)
            for row in rows
            if _holds_due_record(str(row.category), stored_bytes(row), retention)
        )


def _rows(conn: Connection, query: Select[Any]) -> list[Any]:
    return list(conn.execute(query).all())


def _holds_due_record(category: str, canonical: bytes | None, retention: Retention) -> bool:
    """True if a signed record is past the period, or if the bytes cannot be read at
    all (step (4a) then reports the batch)."""
    if canonical is None:
        return True
    try:
        items = json.loads(canonical)["records"]
        return any(
            retention.allows_missing(category, item) for item in items if isinstance(item, dict)
        )
    except (ValueError, KeyError, TypeError):
        return True


@dataclass(frozen=True)
class _Inspection:
    """Step (4a) on one batch: what is wrong with it, or what to delete and keep."""

    batch: Any
    problems: tuple[str, ...]
    due: int = 0
    """Signed records of the batch past the retention period."""
    due_rows: tuple[int, ...] = ()
    """Stored record rows (primary keys) of those."""
    kept: tuple[KeptRecord, ...] = ()

    def refusal(self) -> str:
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"batch {self.batch.node_id}/{self.batch.batch_id}: {self.problems[0]}{more}"


def _inspect(
    conn: Connection, batch_pk: int, retention: Retention, keys: dict[str, Any]
) -> _Inspection | None:
    """(4a) None if the batch's bytes are gone already or hold no due record."""
    b, r, t = schema.batches.c, schema.records.c, schema.ledger_entries.c
    batch = conn.execute(select(schema.batches).where(b.id == batch_pk)).first()
    if batch is None or batch.canonical is None:
        return None
    rows = _rows(conn, select(schema.records).where(r.batch_pk == batch_pk).order_by(r.id))
    push: EntryBodies = {}
    if batch.ledger_index is not None:
        body = conn.execute(
            select(t.body).where(
                t.idx == int(batch.ledger_index), t.action == Action.PUSH_BATCH.value
            )
        ).first()
        if body is not None:
            push[int(batch.ledger_index)] = bytes(body[0]) if body[0] is not None else None
    report = VerifyReport()
    signed = check_stored_batch(conn, report, batch, rows, push, retention, keys)
    if signed is None or not report.ok:
        return _Inspection(batch, tuple(p.message for p in report.problems))
    due = [item for item in signed if retention.allows_missing(batch.category, item)]
    if not due:
        return None
    by_key = {(str(item.get("record_id")), item.get("version")): item for item in signed}
    due_rows: list[int] = []
    kept: list[KeptRecord] = []
    for rec in rows:
        key = (str(rec.record_id), int(rec.version))
        item = by_key[key]  # every row is a signed record: checked above
        if retention.allows_missing(batch.category, item):
            due_rows.append(int(rec.id))
        else:
            kept.append(KeptRecord(key[0], key[1], str(item["event_time"]), record_sha256(item)))
    return _Inspection(batch, (), len(due), tuple(due_rows), tuple(kept))


def _erasure(
    batch_pk: int, retention: Retention, keys: dict[str, Any], now: datetime
) -> Callable[[Connection, LedgerTx], _Inspection | None]:
    """(4b) the unit of work erasing one batch's signed bytes, with its ledger entry."""

    def work(conn: Connection, ledger: LedgerTx) -> _Inspection | None:
        _secure_delete(conn)
        found = _inspect(conn, batch_pk, retention, keys)
        if found is None or found.problems:
            return found
        batch = found.batch
        if found.due_rows:
            conn.execute(delete(schema.records).where(schema.records.c.id.in_(found.due_rows)))
        kept_text = encode_kept(found.kept)
        signed_bytes = stored_bytes(batch)
        if signed_bytes is None:  # (4a) read and verified them in this transaction
            raise RuntimeError(f"batch {batch_pk}: stored bytes became unreadable")
        digest = hashlib.sha256(signed_bytes).hexdigest()
        index = ledger.append(
            erasure_entry(
                time=now,
                trace_id=secrets.token_hex(12),
                node_id=batch.node_id,
                batch_id=batch.batch_id,
                category=batch.category,
                batch_sha256=digest,
                records_deleted=found.due,
                kept_text=kept_text,
                kept_count=len(found.kept),
            )
        )
        conn.execute(
            insert(schema.batch_erasures).values(
                batch_pk=batch_pk,
                erased_at_us=to_us(now),
                ledger_index=index,
                canonical_sha256=digest,
                kept=kept_text,
            )
        )
        conn.execute(
            update(schema.batches).where(schema.batches.c.id == batch_pk).values(canonical=None)
        )
        return found

    return work
