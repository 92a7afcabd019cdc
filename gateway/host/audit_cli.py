"""The gateway host's half of ``xinlian audit`` (the whole synopsis:
:mod:`xinlian_cli.audit`): the operator commands that read the gateway's database
directly (``--home``, on the gateway host).

``prune`` and ``checkpoint`` are commands of their own here; ``verify`` and ``export``
also serve an officer (``--export``, ``--identity``: :mod:`node_agent.audit_cli`), so
their click commands are composed in :mod:`xinlian_cli.audit` from :func:`verify_home`,
:func:`show_verify_report` and :func:`export_home`.

Exit status (``xinlian.exit_codes``): prune 1 when it refused to erase a batch that does
not verify.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import Connection

from audit.checkpoint import NoteSigner, NoteVerifier
from audit.entry import Action, Entry, Outcome
from audit.export_writer import ExportWriter
from gateway.host.cli import load_config
from gateway.host.config import GatewayConfig
from gateway.store.db import Store
from xinlian.clock import SystemClock
from xinlian.console import print_json
from xinlian.exit_codes import CommandExit, ExitCode

if TYPE_CHECKING:
    from gateway.verify.report import VerifyReport

EXPORT_PAGE = 5000
"""Entries read per transaction by the operator export."""
OPERATOR = "gateway"
OPERATOR_KIND = "operator"

HOME_OPTION = click.option(
    "--home", type=click.Path(path_type=Path, file_okay=False), help="Gateway home directory."
)


@contextmanager
def _store(home: Path) -> Iterator[tuple[GatewayConfig, Store]]:
    config = load_config(home)
    store = Store(config.database_url)
    try:
        yield config, store
    finally:
        store.close()


def _verifier(config: GatewayConfig) -> NoteVerifier:
    return NoteVerifier.from_key_string(config.ledger_verifier_key.read_text().strip())


def _signer(config: GatewayConfig) -> NoteSigner:
    return NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip())


# --------------------------------------------------------------------------- verify


def verify_home(home: Path, *, require_covered: bool) -> VerifyReport:
    """Verify the ledger and the stored provenance of the gateway at ``home``."""
    from authz.catalog import Catalog
    from gateway.flows.retention import verify_retention
    from gateway.flows.witness_peers import configured_peers
    from gateway.verify import verify_store
    from gateway.verify.witnesses import check_witnesses

    retention = verify_retention(Catalog.default(), SystemClock().now())
    with _store(home) as (config, store):
        report = verify_store(
            store, _verifier(config), config.origin, retention, require_covered=require_covered
        )
        peers = configured_peers(config)
        report.witnessed = store.read(lambda conn: check_witnesses(conn, report, peers))
        return report


def show_verify_report(report: VerifyReport) -> None:
    """The report in words: one OK line (stdout), or FAILED and its problems (stderr)."""
    summary = (
        f"{report.entries} entries ({report.pruned} pruned), {report.checkpoints} "
        f"checkpoints, {report.batches} batches ({report.erased_batches} with erased "
        f"bytes), {report.records} records"
    )
    if report.ok:
        click.echo(f"OK: {summary}; tree size {report.tree_size}, root {report.root_hash.hex()}")
        _show_witnessed(report, err=False)
        for notice in report.notices:
            click.echo(f"  note: [{notice.code}] {notice.message}")
        return
    first = report.first_bad_index
    obj = report.first_bad_object
    head = []
    if (interval := report.first_bad_interval) is not None:
        head.append(f"first bad index in [{interval[0]}, {interval[1]})")
    elif first is not None:
        head.append(f"first bad index {first}")
    if obj is not None:
        head.append(f"first bad object {obj}")
    click.echo(f"FAILED: {'; '.join(head) or 'see problems'} ({summary})", err=True)
    for problem in report.problems:
        click.echo(f"  [{problem.code}] {problem.message}", err=True)
    if report.problem_count > len(report.problems):
        click.echo(f"  … {report.problem_count - len(report.problems)} more", err=True)
    _show_witnessed(report, err=True)
    for notice in report.notices:
        click.echo(f"  note: [{notice.code}] {notice.message}", err=True)


def _show_witnessed(report: VerifyReport, *, err: bool) -> None:
    """Which checkpoints peers cosigned (docs/witness.md), the latest first."""
    if not report.witnessed:
        click.echo("  witnessed: no checkpoint is cosigned by a peer yet", err=err)
        return
    latest = report.witnessed[-1]
    names = ", ".join(peer for peer, _, _ in latest.witnesses)
    click.echo(
        f"  witnessed: {len(report.witnessed)} of {report.checkpoints} checkpoints; "
        f"the latest, size {latest.tree_size}, by {names}",
        err=err,
    )


# --------------------------------------------------------------------------- export


def export_from_store(config: GatewayConfig, store: Store, out: Path) -> tuple[int, str]:
    """Operator export: record it, sign a checkpoint covering it, write the files.

    Returns the number of entries written and the checkpoint note.
    """
    from gateway.flows.checkpointer import sign_checkpoint
    from gateway.store.committer import LedgerTx, commit_now
    from gateway.store.ledger import entries_page

    clock = SystemClock()
    signer = _signer(config)
    # (1) the export is a ledger entry too
    entry = Entry(
        action=Action.AUDIT_EXPORT,
        time=clock.now(),
        actor=OPERATOR,
        actor_kind=OPERATOR_KIND,
        outcome=Outcome.OK,
        trace_id=secrets.token_hex(12),
        details={"start_index": 0, "via": "xinlian audit export --home"},
    )

    def work(conn: Connection, ledger: LedgerTx) -> int:
        return ledger.append(entry)

    commit_now(store, clock, work)
    # (2) a checkpoint covering it
    checkpoint = sign_checkpoint(store, signer, config.origin, clock)
    if checkpoint is None:
        raise click.ClickException("the ledger is empty")
    # (3) entries [0, size) and the note
    writer = ExportWriter(out)
    position = 0
    while position < checkpoint.tree_size:

        def page(conn: Connection, start: int = position) -> list[Any]:
            return entries_page(conn, start, EXPORT_PAGE, checkpoint.tree_size)

        rows = store.read(page)
        if not rows:
            break
        for row in rows:
            writer.write(row.idx, row.body, row.leaf_hash)
        position = rows[-1].idx + 1
    writer.finish(checkpoint.note, signer.verifier_key())
    return writer.count, checkpoint.note


def export_home(home: Path, out: Path) -> tuple[int, str]:
    """:func:`export_from_store` for the gateway at ``home``."""
    with _store(home) as (config, store):
        return export_from_store(config, store, out)


# --------------------------------------------------------------------------- operator


@click.command("prune")
@HOME_OPTION
@click.option("--dry-run", is_flag=True, help="Count only; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def prune_cmd(home: Path | None, dry_run: bool, as_json: bool) -> None:
    """Prune entry bodies past retention (hashes kept); delete expired negative records
    and erase the signed batch bytes holding them. Exits 1 if a batch due for erasure
    does not verify (it is left alone)."""
    from authz.catalog import Catalog
    from gateway.flows.retention import prune

    if home is None:
        raise click.UsageError("--home is required")
    with _store(home) as (config, store):
        result = prune(
            store, SystemClock(), Catalog.default(), config.retention_days, dry_run=dry_run
        )
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "entries_pruned": result.entries_pruned,
                "retention_days": result.retention_days,
                "cutoff": result.cutoff.isoformat(),
                "covered_size": result.covered_size,
                "records_deleted": result.records_deleted,
                "negative_cutoff": result.negative_cutoff.isoformat(),
                "batches_erased": result.batches_erased,
                "wal_truncated": result.wal_truncated,
                "change_log_pruned": result.change_log_pruned,
                "erase_refused": list(result.erase_refused),
            }
        )
        if result.erase_refused:
            raise CommandExit(ExitCode.INTEGRITY)
        return
    verb = "would prune" if dry_run else "pruned"
    click.echo(
        f"{verb} {result.entries_pruned} entry bodies older than {result.retention_days} days "
        f"(before {result.cutoff.isoformat(timespec='seconds')}, within the first "
        f"{result.covered_size} checkpointed entries); leaf hashes kept"
    )
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} {result.records_deleted} negative credit records with events before "
        f"{result.negative_cutoff.date().isoformat()}"
    )
    verb = "would erase" if dry_run else "erased"
    click.echo(
        f"{verb} the signed bytes of {result.batches_erased} negative batches holding them "
        "(digests of their other records kept; retention.erased entries)"
    )
    if result.wal_truncated is False:
        click.echo("note: a reader kept the SQLite WAL; run prune again to truncate it")
    if result.erase_refused:
        click.echo(
            f"REFUSED to erase {len(result.erase_refused)} batches that do not verify "
            "(run xinlian audit verify):",
            err=True,
        )
        for line in result.erase_refused:
            click.echo(f"  {line}", err=True)
        raise CommandExit(ExitCode.INTEGRITY)


@click.command("checkpoint")
@HOME_OPTION
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def checkpoint_cmd(home: Path | None, as_json: bool) -> None:
    """Sign a checkpoint of the current tree now (if it grew) and print it."""
    from gateway.flows.checkpointer import sign_checkpoint

    if home is None:
        raise click.UsageError("--home is required")
    with _store(home) as (config, store):
        checkpoint = sign_checkpoint(store, _signer(config), config.origin, SystemClock())
    if checkpoint is None:
        raise click.ClickException("the ledger is empty; nothing to sign")
    if as_json:
        print_json({"note": checkpoint.note})
        return
    click.echo(checkpoint.note, nl=False)
