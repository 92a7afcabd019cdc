"""The verification scan split over two processes (gateway.verify.scan): on a SQLite
ledger it must find exactly what the one-process scan finds, wherever an alteration
is (below the split point, at it, above it), and a worker that fails must change
nothing but the time taken.

Every test runs the real worker process (gateway/verify/worker.py) on a real SQLite
file; ``split_min_entries=1`` makes the small test ledger large enough to split.
"""

from __future__ import annotations

import logging
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text
from support.ledger_helpers import checkpoint, verify

from audit.entry import Action, Entry, Outcome
from audit.merkle import leaf_hash
from authz.catalog import Catalog
from gateway.flows.retention import prune
from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from gateway.verify import VerifyReport
from gateway.verify import scan as verify_scan
from gateway.verify.scan import split_point
from xinlian.clock import SystemClock

ENTRIES = 700
OLD = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


@dataclass
class Ledger:
    config: GatewayConfig
    store: Store
    size: int

    @property
    def split(self) -> int:
        return split_point(self.size)

    def sql(self, statement: str, **params: Any) -> None:
        def run(conn: Connection) -> None:
            conn.execute(text(statement), params)

        self.store.write(run)

    def body(self, idx: int) -> bytes:
        return bytes(
            self.store.read(
                lambda c: c.execute(
                    text("SELECT body FROM ledger_entries WHERE idx = :i"), {"i": idx}
                ).scalar_one()
            )
        )


def _entry(i: int) -> Entry:
    return Entry(
        action=Action.QUERY,
        time=OLD + timedelta(seconds=i),
        actor=f"bank-{i % 7}",
        actor_kind="institution",
        outcome=Outcome.OK,
        trace_id=secrets.token_hex(8),
        credit_code="91350100MA2Y00013X",
        subject="91350100MA2Y00013X",
        details={"purpose": "financing", "fields": {"tax_rating": "keep"}, "n": i},
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    config = init_home(tmp_path / "gw")
    store = Store(config.database_url)
    for start in range(0, ENTRIES, 100):

        def work(conn: Connection, tx: LedgerTx, start: int = start) -> None:
            for i in range(start, start + 100):
                tx.append(_entry(i))

        commit_now(store, SystemClock(), work)
        checkpoint(config, store)
    size = verify(config, store).tree_size
    try:
        yield Ledger(config, store, size)
    finally:
        store.close()


def _both(ledger: Ledger) -> tuple[VerifyReport, VerifyReport]:
    """The one-process report and the two-process one; the second must have used the
    worker's scan."""
    single = verify(ledger.config, ledger.store)
    split = verify(ledger.config, ledger.store, split_min_entries=1)
    assert single.scan_processes == 1
    assert split.scan_processes == 2 or not split.ok
    return single, split


def _same(single: VerifyReport, split: VerifyReport) -> None:
    a, b = single.to_json(), split.to_json()
    a.pop("scan_processes"), b.pop("scan_processes")
    assert a == b


def test_split_point_is_aligned_and_inside() -> None:
    for n in (2, 3, 17, 700, 16_384, 50_001, 1_000_003):
        split = split_point(n)
        assert 0 < split < n
        align = 1 << max(0, (n // verify_scan.SPLIT_PARTS).bit_length() - 1)
        assert split % align == 0


def test_untouched_ledger_verifies_the_same_in_two_processes(ledger: Ledger) -> None:
    single, split = _both(ledger)
    assert single.ok and split.ok, split.problems
    assert split.scan_processes == 2
    assert split.entries == ledger.size and split.root_hash == single.root_hash
    _same(single, split)


def _altered(body: bytes) -> bytes:
    altered = body.replace(b'"actor":"', b'"actor":"x', 1)
    assert altered != body
    return altered


def _edit_body(ledger: Ledger, idx: int) -> None:
    body = _altered(ledger.body(idx))
    ledger.sql("UPDATE ledger_entries SET body = :b WHERE idx = :i", b=body, i=idx)


def _edit_leaf(ledger: Ledger, idx: int) -> None:
    ledger.sql("UPDATE ledger_entries SET leaf_hash = :h WHERE idx = :i", h=bytes(32), i=idx)


def _short_leaf(ledger: Ledger, idx: int) -> None:
    ledger.sql("UPDATE ledger_entries SET leaf_hash = X'00' WHERE idx = :i", i=idx)


def _delete(ledger: Ledger, idx: int) -> None:
    ledger.sql("DELETE FROM ledger_entries WHERE idx = :i", i=idx)


def _recompute(ledger: Ledger, idx: int) -> None:
    """An edited body with its leaf hash recomputed: only the checkpoint roots see it."""
    body = _altered(ledger.body(idx))
    ledger.sql(
        "UPDATE ledger_entries SET body = :b, leaf_hash = :h WHERE idx = :i",
        b=body,
        h=leaf_hash(body),
        i=idx,
    )


def _copy_to(ledger: Ledger, idx: int, source: int) -> None:
    body = ledger.body(source)
    ledger.sql(
        "INSERT INTO ledger_entries (idx, leaf_hash, body) VALUES (:i, :h, :b)",
        i=idx,
        h=leaf_hash(body),
        b=body,
    )


# where, relative to the split point
PLACES: dict[str, Callable[[Ledger], int]] = {
    "first": lambda lg: 0,
    "below_split": lambda lg: lg.split - 1,
    "at_split": lambda lg: lg.split,
    "above_split": lambda lg: lg.split + 5,
    "last": lambda lg: lg.size - 1,
}
EDITS: dict[str, Callable[[Ledger, int], None]] = {
    "body": _edit_body,
    "leaf_hash": _edit_leaf,
    "short_leaf_hash": _short_leaf,
    "deleted": _delete,
    "recomputed_hash": _recompute,
}


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_alteration_is_reported_the_same_in_two_processes(
    ledger: Ledger, edit: str, place: str
) -> None:
    idx = PLACES[place](ledger)
    EDITS[edit](ledger, idx)
    single, split = _both(ledger)
    assert not single.ok
    _same(single, split)
    # the row is named; a checkpoint whose root it breaks may start earlier
    assert split.first_bad_index is not None and split.first_bad_index <= idx
    if edit != "recomputed_hash":  # that one is placed by the checkpoint it breaks
        named = {
            p.index
            for p in split.problems
            if p.code in ("LEAF_MISMATCH", "INDEX_GAP", "SIZE_MISMATCH")
        }
        assert idx in named, split.problems[:3]


def test_rows_outside_the_head_are_reported_the_same(ledger: Ledger) -> None:
    _copy_to(ledger, ledger.size, 3)
    _copy_to(ledger, -1, 4)
    single, split = _both(ledger)
    codes = {p.code for p in split.problems}
    assert {"SIZE_MISMATCH", "INDEX_OUT_OF_RANGE"} <= codes
    assert split.first_bad_index == 0
    _same(single, split)


def test_pruned_bodies_on_both_sides_of_the_split_verify(ledger: Ledger) -> None:
    result = prune(ledger.store, SystemClock(), Catalog.default(), 180)
    assert result.entries_pruned >= ledger.size - 10
    single, split = _both(ledger)
    assert split.ok, split.problems[:3]
    assert split.pruned == single.pruned >= ledger.size - 10
    _same(single, split)
    _edit_leaf(ledger, ledger.split + 1)  # a pruned row's hash is all that is left
    single, split = _both(ledger)
    assert split.first_bad_index is not None
    _same(single, split)


@pytest.mark.parametrize(
    "script",
    [
        "import sys; sys.exit(3)",
        "import sys; sys.stdout.write('0 1 2 garbage')",
        "import sys; sys.stdout.write('5 1 0 -1 -1 1 32 0\\n' + 'x' * 32)",
    ],
    ids=["exits_non_zero", "unreadable_output", "wrong_range"],
)
def test_a_failing_worker_changes_nothing_but_the_time(
    ledger: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    script: str,
) -> None:
    worker = tmp_path / "worker.py"
    worker.write_text(script)
    worker.chmod(stat.S_IRUSR)
    monkeypatch.setattr(verify_scan, "WORKER_SCRIPT", worker)
    _edit_body(ledger, ledger.size - 2)  # in the worker's range
    with caplog.at_level(logging.WARNING, logger="gateway.verify.scan"):
        split = verify(ledger.config, ledger.store, split_min_entries=1)
    assert split.scan_processes == 1
    assert split.first_bad_index == ledger.size - 2
    assert "scan worker" in caplog.text
    _same(verify(ledger.config, ledger.store), split)


def test_the_worker_refuses_bad_arguments_and_never_writes(ledger: Ledger, tmp_path: Path) -> None:
    import subprocess
    import sys

    db = str(ledger.store.engine.url.database)
    run = [sys.executable, "-I", "-S", str(verify_scan.WORKER_SCRIPT)]
    assert subprocess.run([*run, db, "x", "1"], capture_output=True).returncode == 2
    missing = tmp_path / "missing.db"
    assert subprocess.run([*run, str(missing), "0", "1"], capture_output=True).returncode == 1
    assert not missing.exists()  # opened read-only: nothing created
    done = subprocess.run([*run, db, "0", "10"], capture_output=True, check=True)
    assert done.stdout.startswith(b"0 10 0 -1 -1 ")


def test_verifying_while_the_ledger_grows_and_is_pruned(ledger: Ledger) -> None:
    """The worker's snapshot is taken after this process's: with entries appended,
    checkpoints signed and bodies pruned meanwhile, every report is still clean."""
    import threading

    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        i = ENTRIES
        try:
            while not stop.is_set():

                def work(conn: Connection, tx: LedgerTx, start: int = i) -> None:
                    for k in range(start, start + 20):
                        tx.append(_entry(k))

                commit_now(ledger.store, SystemClock(), work)
                checkpoint(ledger.config, ledger.store)
                if i % 100 == 0:
                    prune(ledger.store, SystemClock(), Catalog.default(), 180)
                i += 20
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        reports = [verify(ledger.config, ledger.store, split_min_entries=1) for _ in range(8)]
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert all(r.ok for r in reports), [r.problems[:3] for r in reports if not r.ok]
    assert all(r.scan_processes == 2 for r in reports)
    assert reports[-1].tree_size > ledger.size and reports[-1].pruned > 0
