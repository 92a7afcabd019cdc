"""``xinlian audit witness``: the operator's witnessing commands (``--home``, on the
gateway host; docs/witness.md).

    xinlian audit witness --home DIR [--json]              one round now, every peer
    xinlian audit witness --home DIR --evidence [--json]   the split views found

Exit status (``xinlian.exit_codes``): 1 when a round found a split view, an inconsistent
or stale checkpoint, or a checkpoint without the peer's valid signature (INTEGRITY); 3
when no peer could be reached; ``--evidence`` exits 1 when there is evidence.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from audit.checkpoint import NoteSigner
from audit.cosignature import SignedView, SplitView
from gateway.flows.witness import FAILED_OUTCOMES, UNAVAILABLE, Witness, WitnessOutcome
from gateway.flows.witness_peers import configured_peers, peer_by_id
from gateway.host.cli import load_config
from gateway.services.peer_client import connect_peer
from gateway.store.db import Store
from gateway.store.witness_store import SplitRow, split_rows
from xinlian.clock import SystemClock
from xinlian.console import print_json
from xinlian.errors import IntegrityViolation
from xinlian.exit_codes import CommandExit, ExitCode


def witness_once(home: Path) -> list[WitnessOutcome]:
    """One witnessing round of the gateway at ``home`` over its configured peers."""
    config = load_config(home)
    store = Store(config.database_url)
    try:
        signer = NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip())
        witness = Witness(store, signer, SystemClock(), connect_peer)
        return asyncio.run(witness.round(configured_peers(config)))
    finally:
        store.close()


def _evidence(home: Path) -> list[tuple[SplitRow, str]]:
    """The split views kept, each re-checked with the peer's verifier key."""
    config = load_config(home)
    peers = configured_peers(config)
    store = Store(config.database_url)
    try:
        rows = store.read(split_rows)
    finally:
        store.close()
    checked = []
    for row in rows:
        peer = peer_by_id(peers, row.peer_id)
        split = SplitView(
            row.origin,
            row.tree_size,
            SignedView(row.note_a, row.source_a),
            SignedView(row.note_b, row.source_b),
        )
        status = "not checkable (peer not configured)"
        if peer is not None:
            try:
                split.verify(peer.log_verifier)
                status = "verified: both notes carry the peer's signature"
            except IntegrityViolation as exc:
                status = f"does not verify: {exc}"
        checked.append((row, status))
    return checked


@click.command("witness")
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--evidence", is_flag=True, help="List the split views found, with both notes.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def witness_cmd(home: Path, evidence: bool, as_json: bool) -> None:
    """Cosign the linked gateways' checkpoints now, or list split-view evidence."""
    if evidence:
        _show_evidence(_evidence(home), as_json)
        return
    outcomes = witness_once(home)
    if as_json:
        print_json({"outcomes": [o.to_json() for o in outcomes]})
    else:
        if not outcomes:
            click.echo("no witness peers configured (witness_peers, docs/witness.md)")
        for o in outcomes:
            size = f" size {o.tree_size}" if o.tree_size is not None else ""
            sent = " (delivered)" if o.delivered else ""
            extra = f": {o.message}" if o.message else ""
            click.echo(f"{o.peer_id}: {o.status}{size}{sent}{extra}")
    if any(o.status in FAILED_OUTCOMES for o in outcomes):
        raise CommandExit(ExitCode.INTEGRITY)
    if outcomes and all(o.status == UNAVAILABLE for o in outcomes):
        raise CommandExit(ExitCode.UNREACHABLE)


def _show_evidence(found: list[tuple[SplitRow, str]], as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "split_views": [
                    {
                        "peer": row.peer_id,
                        "origin": row.origin,
                        "tree_size": row.tree_size,
                        "check": status,
                        "first": {"source": row.source_a, "note": row.note_a},
                        "second": {"source": row.source_b, "note": row.note_b},
                    }
                    for row, status in found
                ]
            }
        )
    elif not found:
        click.echo("no split view found")
    for row, status in [] if as_json else found:
        click.echo(
            f"SPLIT VIEW: peer {row.peer_id}, log {row.origin}, size {row.tree_size}: {status}"
        )
        click.echo(f"--- as shown to {row.source_a}:\n{row.note_a}")
        click.echo(f"--- as shown to {row.source_b}:\n{row.note_b}")
    if found:
        raise CommandExit(ExitCode.INTEGRITY)
