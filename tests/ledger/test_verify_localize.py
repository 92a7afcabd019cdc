"""Verification names the entry whose own evidence fails, and where only a signed root
disagrees, the narrowest interval the checkpoints allow, saying that it is one.

The ledger: checkpoints at sizes 16, 20, 30 and 40 (entry 23 lies in ``[20, 30)``).
Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ledger_rewrite import (
    grow_to,
    rewrite_consistently,
    rewrite_head_frontier,
    row,
    set_leaf_hash,
    swap_rows,
)
from sqlalchemy import update
from support.ledger_helpers import checkpoint, cli_verify, verify

from audit.levels import HashLevels
from audit.merkle import leaf_hash, root_from_leaf_hashes
from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from gateway.store import schema
from gateway.store.db import Store
from gateway.verify import VerifyReport

CHECKPOINT_SIZES = (16, 20, 30, 40)
VICTIM = 23


@dataclass
class Ledger:
    config: GatewayConfig
    store: Store


@pytest.fixture
def ledger(db_url: str, tmp_path: Path) -> Iterator[Ledger]:
    config = init_home(tmp_path / "gw", db_url=db_url)
    store = Store(config.database_url)
    try:
        for size in CHECKPOINT_SIZES:
            grow_to(store, size)
            assert checkpoint(config, store).tree_size == size
        assert verify(config, store).ok
        yield Ledger(config, store)
    finally:
        store.close()


def _roots(report: VerifyReport) -> list[tuple[str, int | None, int | None, int | None]]:
    return [
        (p.kind, p.index, p.first_index, p.last_index)
        for p in report.problems
        if p.code == "ROOT_MISMATCH"
    ]


def test_edited_leaf_hash_is_named_not_its_checkpoint_interval(ledger: Ledger) -> None:
    """Body intact, stored leaf hash changed: the entry is named (23), not the start of
    the checkpoint interval that holds it (20); the root it breaks is reproduced with
    the body's hash, so that checkpoint names 23 as well."""
    set_leaf_hash(ledger.store, VICTIM, bytes(32))
    report = verify(ledger.config, ledger.store)
    assert not report.ok
    assert report.first_bad_index == VICTIM
    assert report.first_bad_interval is None
    assert [p.index for p in report.problems if p.code == "LEAF_MISMATCH"] == [VICTIM]
    # one ROOT_MISMATCH (checkpoint 30), naming the entry; 40 and the head add nothing
    assert _roots(report) == [("ledger", VICTIM, None, None)]
    assert "stored leaf hash of entry 23 was changed" in report.problems[-1].message
    result = cli_verify(ledger.config.home)
    assert result.exit_code == 1, result.output
    assert f"first bad index {VICTIM} " in result.output


def test_swapped_rows_are_an_interval_holding_both(ledger: Ledger) -> None:
    """Two whole rows swapped (body, leaf hash, every column): each row is consistent,
    only the roots disagree; checkpoint 20 verifies, 30 does not: [20, 30)."""
    swap_rows(ledger.store, VICTIM, VICTIM + 1)
    report = verify(ledger.config, ledger.store)
    assert not report.ok
    assert _roots(report) == [("ledger", 20, 20, 29)]  # reported once, not for 40 again
    assert report.first_bad_index == 20
    assert report.first_bad_interval == (20, 30)
    first, last = report.first_bad_interval
    assert first <= VICTIM and last > VICTIM + 1
    message = next(p.message for p in report.problems if p.code == "ROOT_MISMATCH")
    assert message.startswith(
        "an entry in [20, 30) was changed; the checkpoints do not allow a narrower interval"
    )
    data = json.loads(cli_verify(ledger.config.home, "--json").stdout)
    assert data["first_bad_index"] == 20 and data["first_bad_interval"] == [20, 30]
    problem = next(p for p in data["problems"] if p["code"] == "ROOT_MISMATCH")
    assert (problem["first_index"], problem["last_index"]) == (20, 29)
    result = cli_verify(ledger.config.home)
    assert result.exit_code == 1
    assert "first bad index in [20, 30)" in result.output


def test_consistent_rewrite_is_the_narrowest_interval(ledger: Ledger) -> None:
    rewrite_consistently(ledger.store, VICTIM)
    report = verify(ledger.config, ledger.store)
    assert _roots(report) == [("ledger", 20, 20, 29)]
    assert report.first_bad_interval == (20, 30)
    # rewriting the head's frontier as well changes nothing: the signed roots decide
    rewrite_head_frontier(ledger.store)
    assert _roots(verify(ledger.config, ledger.store)) == [("ledger", 20, 20, 29)]


def test_a_rewrite_in_the_first_interval_starts_at_zero(ledger: Ledger) -> None:
    rewrite_consistently(ledger.store, 3)
    report = verify(ledger.config, ledger.store)
    assert _roots(report) == [("ledger", 0, 0, 15)]
    assert report.first_bad_interval == (0, 16)


def test_an_edited_leaf_hash_does_not_hide_an_earlier_rewrite(ledger: Ledger) -> None:
    """A consistent rewrite at 21 and a changed leaf hash at 23: the bodies' hashes do
    not reproduce checkpoint 30, so the interval [20, 30) is reported, not 23."""
    rewrite_consistently(ledger.store, 21)
    set_leaf_hash(ledger.store, VICTIM, bytes(32))
    report = verify(ledger.config, ledger.store)
    assert report.first_bad_index == 20
    assert report.first_bad_interval == (20, 30)
    assert [p.index for p in report.problems if p.code == "LEAF_MISMATCH"] == [VICTIM]


def test_edited_leaf_hashes_in_two_intervals_are_each_named(ledger: Ledger) -> None:
    set_leaf_hash(ledger.store, 17, bytes(32))
    set_leaf_hash(ledger.store, 33, b"\x01" * 32)
    report = verify(ledger.config, ledger.store)
    assert report.first_bad_index == 17
    assert _roots(report) == [("ledger", 17, None, None), ("ledger", 33, None, None)]


def test_edited_leaf_hash_after_the_last_checkpoint_is_named_by_the_head(
    ledger: Ledger,
) -> None:
    grow_to(ledger.store, 45)
    set_leaf_hash(ledger.store, 42, bytes(32))
    report = verify(ledger.config, ledger.store)
    assert report.first_bad_index == 42
    assert _roots(report) == [("head", 42, None, None)]
    assert [(p.code, p.first_index, p.last_index) for p in report.notices] == [
        ("UNCOVERED_TAIL", 40, 44)
    ]


def test_edited_body_still_names_the_entry(ledger: Ledger) -> None:
    """The alteration ``make demo`` shows: a body edited under its leaf hash."""
    body, stored = row(ledger.store, VICTIM)
    rewrite = body.replace(f'"q{VICTIM}"'.encode(), b'"forged"')
    t = schema.ledger_entries
    ledger.store.write(lambda c: c.execute(update(t).where(t.c.idx == VICTIM).values(body=rewrite)))
    report = verify(ledger.config, ledger.store)
    assert report.first_bad_index == VICTIM and report.first_bad_interval is None
    assert [p.code for p in report.problems] == ["LEAF_MISMATCH"]
    assert leaf_hash(body) == stored


@pytest.mark.parametrize("seed", range(5))
def test_root_with_replaced_leaves_matches_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randrange(1, 300)
    leaves = [rng.randbytes(32) for _ in range(n)]
    levels = HashLevels()
    levels.extend_bulk(b"".join(leaves))
    replaced = {rng.randrange(n): rng.randbytes(32) for _ in range(rng.randrange(1, 6))}
    replaced[n + 5] = bytes(32)  # beyond the size: ignored
    for size in {1, n // 2 or 1, n}:
        want = [replaced.get(i, leaf) for i, leaf in enumerate(leaves[:size])]
        assert levels.root_with(size, replaced) == root_from_leaf_hashes(want)
    assert levels.root_with(n, {}) == levels.root(n)
