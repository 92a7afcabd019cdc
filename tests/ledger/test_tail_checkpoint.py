"""The tail after the last checkpoint: verify reports the entries no checkpoint covers
(a failure with ``--require-covered``), and the gateway leaves none at a graceful
shutdown, nor serves before it has signed over a tail a SIGKILL left. Runs on SQLite
and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from ledger_rewrite import (
    grow_to,
    head_size,
    latest_checkpoint_size,
    rewrite_consistently,
    rewrite_head_frontier,
)
from support.harness import LoopThread
from support.ledger_helpers import checkpoint, cli_verify, verifier, verify
from support.processes import GatewayProcess

import gateway.host.server as server_module
from gateway.flows.runtime import Runtime
from gateway.host.assemble import build_runtime
from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from gateway.store.db import Store
from gateway.verify import verify_store

NEVER_S = 3600.0
"""A checkpoint interval no test waits for: only start-up and shutdown sign."""


def test_rewritten_tail_is_reported_uncovered(db_url: str, tmp_path: Path) -> None:
    """The last entry rewritten with its leaf hash and the head's frontier: nothing
    signed disagrees, so the report says which entries no checkpoint covers; that is
    a notice, and a failure with ``require_covered``."""
    config = init_home(tmp_path / "gw", db_url=db_url)
    store = Store(config.database_url)
    try:
        grow_to(store, 10)
        assert checkpoint(config, store).tree_size == 10
        grow_to(store, 13)
        rewrite_consistently(store, 12)
        rewrite_head_frontier(store)

        report = verify(config, store)
        assert report.ok, report.problems  # nothing signed covers it
        assert (report.covered_size, report.uncovered, report.uncovered_range) == (10, 3, (10, 12))
        assert [(p.code, p.first_index, p.last_index) for p in report.notices] == [
            ("UNCOVERED_TAIL", 10, 12)
        ]
        assert report.problem_count == 0 and report.first_bad_index is None

        strict = verify_store(store, verifier(config), config.origin, require_covered=True)
        assert not strict.ok
        assert strict.first_bad_index == 10
        assert [(p.code, p.first_index, p.last_index) for p in strict.problems] == [
            ("UNCOVERED_TAIL", 10, 12)
        ]
        assert strict.notices == []
    finally:
        store.close()

    result = cli_verify(config.home)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:") and "[UNCOVERED_TAIL] entries 10..12" in result.output
    data = json.loads(cli_verify(config.home, "--json").stdout)
    assert data["ok"] and data["uncovered"] == 3 and data["uncovered_range"] == [10, 12]
    assert [n["code"] for n in data["notices"]] == ["UNCOVERED_TAIL"]
    strict_cli = cli_verify(config.home, "--require-covered")
    assert strict_cli.exit_code == 1, strict_cli.output
    assert "first bad index 10" in strict_cli.output
    assert "[UNCOVERED_TAIL]" in strict_cli.output


def test_a_fully_checkpointed_ledger_has_no_uncovered_entries(db_url: str, tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw", db_url=db_url)
    store = Store(config.database_url)
    try:
        grow_to(store, 5)
        checkpoint(config, store)
        report = verify_store(store, verifier(config), config.origin, require_covered=True)
        assert report.ok and report.uncovered == 0 and report.notices == []
        assert report.covered_size == report.tree_size == 5
    finally:
        store.close()


# --------------------------------------------------------------------------- in-process


async def _idle(rt: Runtime, *_state: object) -> None:
    """Stands in for the background checkpointer: never signs."""
    await asyncio.Event().wait()


def test_start_signs_over_the_tail_before_serving(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries a killed process left without a checkpoint are covered once ``start``
    returns, with no help from the background checkpointer; and ``stop`` covers the
    entries written while serving."""
    config = init_home(tmp_path / "gw", db_url=db_url)
    store = Store(config.database_url)
    try:
        grow_to(store, 7)
    finally:
        store.close()
    monkeypatch.setattr(server_module, "run_checkpointer", _idle)
    loop = LoopThread()
    rt = build_runtime(config)
    try:
        running = loop.run(server_module.start(rt, "127.0.0.1:0", None))
        try:
            assert latest_checkpoint_size(rt.store) == head_size(rt.store) == 7
            grow_to(rt.store, 11)  # served while running, no checkpoint yet
            assert latest_checkpoint_size(rt.store) == 7
        finally:
            loop.run(running.stop(grace=1))
    finally:
        loop.close()
    store = Store(config.database_url)
    try:
        assert latest_checkpoint_size(store) == head_size(store) == 11
        assert verify_store(store, verifier(config), config.origin, require_covered=True).ok
    finally:
        store.close()


# --------------------------------------------------------------------------- processes


def _process(tmp_path: Path, db_url: str) -> GatewayProcess:
    gw = GatewayProcess.create(tmp_path, db_url)
    gw.config.model_copy(update={"checkpoint_interval_s": NEVER_S}).save()
    return gw


def _sizes(config: GatewayConfig) -> tuple[int, int]:
    """Head size and latest checkpoint size."""
    store = Store(config.database_url)
    try:
        return head_size(store), latest_checkpoint_size(store)
    finally:
        store.close()


def _uncovered(config: GatewayConfig) -> int:
    """Entries verify finds covered by no checkpoint (the ledger must verify)."""
    store = Store(config.database_url)
    try:
        report = verify(config, store)
        assert report.ok, report.problems
        return report.uncovered
    finally:
        store.close()


@pytest.mark.integration
def test_sigterm_leaves_a_checkpoint_covering_every_entry(db_url: str, tmp_path: Path) -> None:
    gw = _process(tmp_path, db_url).start()
    try:
        gw.enroll("department", "tax-bureau", ("tax",))  # entries after start-up's checkpoint
        gw.enroll("institution", "bank-1")
    finally:
        gw.stop()  # SIGTERM: graceful
    assert gw.proc is not None and gw.proc.returncode == 0
    size, covered = _sizes(gw.config)
    assert size > 1 and covered == size
    assert _uncovered(gw.config) == 0
    result = cli_verify(gw.home, "--require-covered")
    assert result.exit_code == 0, result.output


@pytest.mark.integration
def test_sigkilled_tail_is_covered_when_the_restarted_gateway_serves(
    db_url: str, tmp_path: Path
) -> None:
    gw = _process(tmp_path, db_url).start()
    try:
        gw.enroll("department", "tax-bureau", ("tax",))
    finally:
        gw.kill()  # SIGKILL: no shutdown
    size, covered = _sizes(gw.config)
    assert covered < size  # the tail a crash leaves
    assert _uncovered(gw.config) == size - covered
    gw.start()  # returns once the restarted process answers health checks
    try:
        store = Store(gw.config.database_url)
        try:
            assert latest_checkpoint_size(store) >= size
        finally:
            store.close()
    finally:
        gw.stop()
    assert _uncovered(gw.config) == 0
