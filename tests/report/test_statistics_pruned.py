"""A month whose ledger bodies retention pruned: the statistics (``compute`` on a read
snapshot, both engines) count what is left and say in a note how many entries they could
not count — never a silent zero."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

from audit.checkpoint import NoteSigner
from audit.entry import Action, Entry, Outcome
from authz.catalog import Catalog
from gateway.flows.checkpointer import sign_checkpoint
from gateway.flows.retention import prune
from gateway.flows.statistics import compute, parse_month
from gateway.host.home import init_home
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from xinlian.clock import FakeClock
from xinlian.workdays import SHANGHAI, load_calendar

MARCH = datetime(2025, 3, 10, 9, 0, tzinfo=SHANGHAI)
LATER = datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI)  # past the six months' retention


def _push(when: datetime, accepted: int) -> Entry:
    return Entry(
        action=Action.PUSH_BATCH,
        time=when,
        actor="tax-fj",
        actor_kind="department",
        outcome=Outcome.OK,
        trace_id=secrets.token_hex(8),
        subject=secrets.token_hex(4),
        details={"category": "tax", "accepted": accepted, "duplicates": 0, "rejected": 0},
    )


def _pushes(store: Store, clock: FakeClock) -> dict[str, str]:
    calendar = load_calendar()
    period = parse_month("2025-03", calendar, clock.now())
    with store.snapshot() as conn:
        stats = compute(conn, period, period.end, Catalog.default(), calendar)
    [summary] = [t for t in stats.tables if t.name == "summary"]
    figures = {row[0]: row[2] for row in summary.rows}
    figures["notes"] = " ".join(stats.notes)
    return figures


def test_pruned_entries_are_named_in_a_note(tmp_path: Path, db_url: str) -> None:
    config = init_home(tmp_path / "gw", db_url=db_url)
    store = Store(config.database_url)
    signer = NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip())
    clock = FakeClock(MARCH)
    try:

        def work(conn: object, ledger: LedgerTx) -> None:
            ledger.append(_push(MARCH, 5))
            ledger.append(_push(MARCH.replace(day=20), 7))

        commit_now(store, clock, work)  # type: ignore[arg-type]
        sign_checkpoint(store, signer, config.origin, clock)
        before = _pushes(store, clock)
        assert before["records"] == "12" and "pruned" not in before["notes"]

        # a year later retention prunes the bodies; one more push lands in March's
        # ledger time afterwards (a late replica's entry), with its body
        clock.set(LATER)
        assert prune(store, clock, Catalog.default(), 183).entries_pruned == 2
        commit_now(store, clock, lambda conn, ledger: ledger.append(_push(MARCH, 3)))
        after = _pushes(store, clock)
        assert after["records"] == "3"
        assert "2 ledger entries of the month were pruned by retention" in after["notes"]
    finally:
        store.close()
