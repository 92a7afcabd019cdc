"""Point 3: checkpoints signed at an interval and on demand, stored once per tree size,
even when several signers race; the note opens with the gateway's verifier key."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from support.harness import Gateway
from support.ledger_helpers import verifier

from audit.checkpoint import NoteSigner, open_note
from audit.entry import Action, Entry, Outcome
from gateway.flows.checkpointer import run_checkpointer, sign_checkpoint
from gateway.host.home import init_home
from gateway.store import schema
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from xinlian.clock import SystemClock
from xinlian_cli.main import cli


def _append(store: Store, n: int = 1) -> None:
    def work(conn, ledger: LedgerTx) -> None:  # type: ignore[no-untyped-def]
        for _ in range(n):
            ledger.append(
                Entry(
                    action=Action.AUDIT_SEARCH,
                    time=SystemClock().now(),
                    actor="officer-1",
                    actor_kind="officer",
                    outcome=Outcome.OK,
                    trace_id="t1",
                )
            )

    commit_now(store, SystemClock(), work)


def _count(store: Store) -> int:
    return int(
        store.read(
            lambda c: c.execute(select(func.count()).select_from(schema.checkpoints)).scalar_one()
        )
    )


def test_signed_only_when_the_tree_grew(db_url: str, tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw", db_url=db_url)
    store = Store(config.database_url)
    signer = NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip())
    try:
        first = sign_checkpoint(store, signer, config.origin, SystemClock())
        assert first is not None and first.tree_size == 1
        again = sign_checkpoint(store, signer, config.origin, SystemClock())
        assert again == first and _count(store) == 1
        _append(store, 3)
        second = sign_checkpoint(store, signer, config.origin, SystemClock())
        assert second is not None and second.tree_size == 4 and _count(store) == 2
        note = open_note(second.note, verifier(config), origin=config.origin)
        assert note.size == 4 and note.root_hash == second.root_hash
    finally:
        store.close()


def test_racing_signers_store_one_checkpoint_per_size(db_url: str, tmp_path: Path) -> None:
    """Replicas race to sign the same size: insert-if-absent keeps exactly one row."""
    config = init_home(tmp_path / "gw", db_url=db_url)
    signer = NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip())
    stores = [Store(config.database_url) for _ in range(4)]
    try:
        _append(stores[0], 5)
        barrier = threading.Barrier(len(stores))
        results: list[object] = []

        def sign(store: Store) -> None:
            barrier.wait()
            results.append(sign_checkpoint(store, signer, config.origin, SystemClock()))

        threads = [threading.Thread(target=sign, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(results) == len(stores)
        assert len({r.note for r in results}) == 1  # type: ignore[attr-defined]
        assert _count(stores[0]) == 1
    finally:
        for store in stores:
            store.close()


@pytest.mark.integration
def test_background_task_signs_at_its_interval(gateway: Gateway) -> None:
    rt = replace(
        gateway.runtime, config=gateway.config.model_copy(update={"checkpoint_interval_s": 0.05})
    )
    store = rt.store
    task = asyncio.run_coroutine_threadsafe(run_checkpointer(rt), gateway.loop.loop)
    try:
        _append(store, 2)
        size = store.read(lambda c: c.execute(select(schema.ledger_head.c.size)).scalar_one())
        for _ in range(200):
            latest = store.read(
                lambda c: c.execute(select(func.max(schema.checkpoints.c.tree_size))).scalar_one()
            )
            if latest == size:
                break
            threading.Event().wait(0.05)
        assert latest == size
    finally:
        task.cancel()


def test_cli_signs_on_demand(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw")
    result = CliRunner().invoke(cli, ["audit", "checkpoint", "--home", str(config.home)])
    assert result.exit_code == 0, result.output
    note = open_note(result.output, verifier(config), origin=config.origin)
    assert note.size == 1
