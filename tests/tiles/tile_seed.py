"""Seed many ledger entries quickly, the way the committer appends them, with checkpoints
at uneven sizes (each extends the stored tiles in its own commit)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from audit.checkpoint import NoteSigner
from audit.entry import Action, Entry, Outcome
from gateway.flows.checkpointer import sign_checkpoint
from gateway.host.config import GatewayConfig
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from xinlian.clock import SystemClock


def entry(i: int) -> Entry:
    return Entry(
        action=Action.QUERY,
        time=datetime.now(UTC),
        actor=f"bank-{i % 7}",
        actor_kind="institution",
        outcome=Outcome.OK,
        trace_id=secrets.token_hex(12),
        credit_code="91350100MA2Y00013X",
        subject=f"tax-{i}",
        details={"purpose": "financing", "n": i},
    )


def seed(config: GatewayConfig, store: Store, sizes: list[int]) -> None:
    """Append entries up to each size in ``sizes`` (increasing), signing a checkpoint at
    each."""
    signer = NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip())
    clock = SystemClock()
    done = store.read(lambda c: c.exec_driver_sql("SELECT size FROM ledger_head").scalar_one())
    for size in sizes:

        def work(conn: object, ledger: LedgerTx, start: int = done, stop: int = size) -> None:
            for i in range(start, stop):
                ledger.append(entry(i))

        if size > done:
            commit_now(store, clock, work)  # type: ignore[arg-type]
            done = size
        sign_checkpoint(store, signer, config.origin, clock)
