"""Point 9: retention. Bodies older than the retention period (never under 183 days) are
pruned, leaf hashes kept: the ledger, its checkpoints and proofs still verify. Negative
credit records are deleted five years after the event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select
from support.harness import Gateway
from support.ledger_helpers import checkpoint, seed_batch, tax_records, verify

from audit.merkle import verify_inclusion
from authz.catalog import Catalog
from gateway.core.bounds import MIN_RETENTION_DAYS
from gateway.flows.retention import prune
from gateway.store import schema
from gateway.store.ledger import LeafCache
from xinlian.clock import FakeClock
from xinlian_cli.main import cli

pytestmark = pytest.mark.integration


def _pruned(gateway: Gateway) -> int:
    t = schema.ledger_entries.c
    return int(
        gateway.runtime.store.read(
            lambda c: c.execute(select(func.count()).where(t.body.is_(None))).scalar_one()
        )
    )


def _left_records(gateway: Gateway) -> list[str]:
    r = schema.records.c
    return list(
        gateway.runtime.store.read(
            lambda c: c.execute(select(r.record_id).order_by(r.id)).scalars().all()
        )
    )


def test_prune_keeps_the_tree_verifiable(gateway: Gateway) -> None:
    store, config = gateway.runtime.store, gateway.config
    dept = gateway.enroll_node("department", "tax-bureau", categories=("tax",))
    seed_batch(store, dept, "b-1", "tax", tax_records(2))
    covered = checkpoint(config, store)
    gateway.enroll_node("institution", "bank-1")  # after the checkpoint: never pruned
    now = datetime.now(UTC)
    # within retention: nothing goes, whatever the configured days say (minimum enforced)
    result = prune(store, FakeClock(now + timedelta(days=100)), Catalog.default(), 1)
    assert result.retention_days == MIN_RETENTION_DAYS and result.entries_pruned == 0
    # a dry run counts only
    later = FakeClock(now + timedelta(days=MIN_RETENTION_DAYS + 1))
    dry = prune(store, later, Catalog.default(), 30, dry_run=True)
    assert dry.entries_pruned == covered.tree_size and _pruned(gateway) == 0
    result = prune(store, later, Catalog.default(), 30)
    assert result.entries_pruned == covered.tree_size == _pruned(gateway)
    # the ledger still verifies, the pruned entries are reported as pruned
    report = verify(config, store)
    assert report.ok, report.problems
    assert report.pruned == covered.tree_size
    # and proofs for pruned entries still come from the kept leaf hashes
    latest = checkpoint(config, store)
    proof = store.read(lambda c: LeafCache().inclusion(c, 0, 0))
    verify_inclusion(proof.leaf_hash, 0, latest.tree_size, proof.proof, latest.root_hash)


def test_negative_records_deleted_after_five_years(gateway: Gateway) -> None:
    store = gateway.runtime.store
    court = gateway.enroll_node("department", "court", categories=("judicial", "tax"))
    old = datetime(2018, 1, 1, tzinfo=UTC)
    seed_batch(store, court, "j-old", "judicial", [("j1", *tax_records(1)[0][1:])], event_time=old)
    seed_batch(store, court, "t-old", "tax", [("t1", *tax_records(1)[0][1:])], event_time=old)
    seed_batch(store, court, "j-new", "judicial", [("j2", *tax_records(1)[0][1:])])
    when = datetime(2025, 6, 1, tzinfo=UTC)
    result = prune(store, FakeClock(when), Catalog.default(), 183)
    assert result.records_deleted == 1
    assert _left_records(gateway) == ["t1", "j2"]
    # the batch's signed bytes held the record: erased too (tests/ledger/test_erasure.py)
    assert result.batches_erased == 1 and result.erase_refused == ()
    # the remaining provenance still verifies
    assert verify(gateway.config, store, when).ok


def test_rows_deleted_by_an_older_prune_verify_and_their_bytes_are_erased_next(
    gateway: Gateway,
) -> None:
    """A store pruned before erasure existed: the expired rows are gone, their batch's
    signed bytes are not."""
    store = gateway.runtime.store
    court = gateway.enroll_node("department", "court", categories=("judicial",))
    old = datetime(2018, 1, 1, tzinfo=UTC)
    records = [("j1", *tax_records(1)[0][1:])]
    seeded = seed_batch(store, court, "j-old", "judicial", records, event_time=old)
    store.write(
        lambda c: c.execute(
            delete(schema.records).where(schema.records.c.id.in_(seeded.record_pks.values()))
        )
    )
    when = datetime(2025, 6, 1, tzinfo=UTC)
    # stored records are a subset of the batch, less the expired negative ones only: as of
    # 2022 that record should still be there
    assert verify(gateway.config, store, when).ok
    early = verify(gateway.config, store, datetime(2022, 1, 1, tzinfo=UTC))
    assert early.first_bad_object == "batch court/j-old"
    result = prune(store, FakeClock(when), Catalog.default(), 183)
    assert (result.records_deleted, result.batches_erased) == (0, 1)
    assert verify(gateway.config, store, when).ok


def test_prune_cli(gateway: Gateway) -> None:
    result = CliRunner().invoke(cli, ["audit", "prune", "--home", str(gateway.home), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would prune 0 entry bodies older than 183 days" in result.output
    assert "would erase the signed bytes of 0 negative batches" in result.output
