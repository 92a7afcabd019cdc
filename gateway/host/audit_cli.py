"""``xinlian audit …``: verify, export, trace, search, prune, checkpoint.

Operator commands read the gateway's database directly (``--home``, on the gateway
host); officer commands go over gRPC with an officer identity (``--identity``).

    xinlian audit verify --home DIR [--json]          whole ledger + provenance, from the DB
        [--require-covered]                           (entries after the last checkpoint fail)
    xinlian audit verify --export DIR [--json]        an export, RFC 9162 + signed note only
    xinlian audit export --home DIR --out OUT         operator export (signs a checkpoint)
    xinlian audit export --identity DIR --out OUT     officer export over gRPC
    xinlian audit trace --identity DIR --record ID [--source NODE] [--json]
    xinlian audit trace --identity DIR --enterprise CODE [--json]
    xinlian audit search --identity DIR [--node N] [--enterprise C] [--action A]
                         [--outcome O] [--since ISO] [--until ISO] [--page-size N]
                         [--page-token T] [--json]
    xinlian audit prune --home DIR [--dry-run]
    xinlian audit checkpoint --home DIR

Exit status (``xinlian.exit_codes``): verify 0 when everything verifies, 1 otherwise (the
first bad index is named); prune 1 when it refused to erase a batch that does not verify.
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection

from audit.checkpoint import NoteSigner, NoteVerifier
from audit.entry import Action, Entry, Outcome
from audit.verify_export import CHECKPOINT_FILE, ENTRIES_FILE, VERIFIER_KEY_FILE, verify_export
from authz.catalog import Catalog
from gateway.host.cli import load_config
from gateway.host.config import GatewayConfig
from gateway.store.db import Store
from xinlian.clock import SystemClock
from xinlian.exit_codes import CommandExit, ExitCode

PIPE_WIDTH = 200
"""Table width when stdout is not a terminal (rich would cut at 80 columns)."""


def _console() -> Console:
    # markup=False: stored data is shown as is, never interpreted as rich markup
    if sys.stdout.isatty():
        return Console(markup=False)
    return Console(width=PIPE_WIDTH, markup=False)


def _table(title: str, columns: Iterable[str]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


EXPORT_PAGE = 5000
"""Entries read per transaction by the operator export."""
OPERATOR = "gateway"
OPERATOR_KIND = "operator"

HOME_OPTION = click.option(
    "--home", type=click.Path(path_type=Path, file_okay=False), help="Gateway home directory."
)
IDENTITY_OPTION = click.option(
    "--identity",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Officer identity directory (from `xinlian node enroll`).",
)
GATEWAY_OPTION = click.option("--gateway", help="Override the gateway address HOST:PORT.")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group("audit")
def audit_group() -> None:
    """Audit ledger: verify, export, trace, search, prune, checkpoint."""


# --------------------------------------------------------------------------- helpers


@contextmanager
def _store(home: Path) -> Iterator[tuple[GatewayConfig, Store]]:
    config = load_config(home)
    store = Store(config.db_url)
    try:
        yield config, store
    finally:
        store.close()


def _verifier(config: GatewayConfig) -> NoteVerifier:
    return NoteVerifier.from_key_string(config.ledger_verifier_key.read_text().strip())


def _signer(config: GatewayConfig) -> NoteSigner:
    return NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip())


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _ts(stamp: Any) -> str:
    if stamp is None or (stamp.seconds == 0 and stamp.nanos == 0):
        return ""
    return str(stamp.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds"))


def _parse_time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"got {value!r}, want ISO 8601", param_hint=name) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _require_one(**options: object) -> None:
    given = [name for name, value in options.items() if value]
    if len(given) != 1:
        names = " or ".join(f"--{n.replace('_', '-')}" for n in options)
        raise click.UsageError(f"give exactly one of {names}")


def _identity_channel(identity: Path, gateway: str | None) -> Any:
    from xinlian.identity import Identity

    return Identity.load(identity, gateway=gateway).channel()


def _audit_stub(channel: Any) -> Any:
    from xinlian.v1 import audit_pb2_grpc

    return audit_pb2_grpc.AuditServiceStub(channel)


RPC_TIMEOUT_S = 60.0


# --------------------------------------------------------------------------- verify


@audit_group.command("verify")
@HOME_OPTION
@click.option(
    "--export",
    "export_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Verify an export directory instead (entries.jsonl, checkpoint, verifier.key).",
)
@click.option(
    "--require-covered",
    is_flag=True,
    help="Fail if entries after the latest signed checkpoint exist (an export is always "
    "covered by its checkpoint).",
)
@JSON_OPTION
@click.pass_context
def verify_cmd(
    ctx: click.Context,
    home: Path | None,
    export_dir: Path | None,
    as_json: bool,
    require_covered: bool,
) -> None:
    """Verify the ledger (leaf hashes, roots, checkpoints, provenance); exit 1 if bad."""
    _require_one(home=home, export=export_dir)
    if export_dir is not None:
        result = verify_export(export_dir)
        if as_json:
            _emit_json(result.to_json())
        elif result.ok:
            click.echo(
                f"OK: export of {result.size} entries ({result.pruned} pruned) verifies "
                f"against the signed checkpoint of {result.origin}; root {result.root_hash.hex()}"
            )
        else:
            where = (
                f" first bad index {result.first_bad_index}:"
                if result.first_bad_index is not None
                else ""
            )
            click.echo(f"FAILED:{where} {result.message}", err=True)
        if not result.ok:
            raise CommandExit(ExitCode.INTEGRITY)
        return
    assert home is not None
    from authz.catalog import Catalog
    from gateway.flows.retention import verify_retention
    from gateway.verify import verify_store

    retention = verify_retention(Catalog.default(), SystemClock().now())
    with _store(home) as (config, store):
        report = verify_store(
            store, _verifier(config), config.origin, retention, require_covered=require_covered
        )
    if as_json:
        _emit_json(report.to_json())
    else:
        summary = (
            f"{report.entries} entries ({report.pruned} pruned), {report.checkpoints} "
            f"checkpoints, {report.batches} batches ({report.erased_batches} with erased "
            f"bytes), {report.records} records"
        )
        if report.ok:
            click.echo(
                f"OK: {summary}; tree size {report.tree_size}, root {report.root_hash.hex()}"
            )
            for notice in report.notices:
                click.echo(f"  note: [{notice.code}] {notice.message}")
        else:
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
            for notice in report.notices:
                click.echo(f"  note: [{notice.code}] {notice.message}", err=True)
    if not report.ok:
        raise CommandExit(ExitCode.INTEGRITY)


# --------------------------------------------------------------------------- export


@dataclass
class _ExportWriter:
    out: Path
    count: int = 0

    def __post_init__(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = (self.out / ENTRIES_FILE).open("w", encoding="utf-8")

    def write(self, index: int, body: bytes | None, leaf_hash: bytes) -> None:
        if index != self.count:
            raise click.ClickException(f"export: got index {index}, want {self.count}")
        line = {
            "index": index,
            "leaf": base64.b64encode(body).decode("ascii") if body else None,
            "leaf_hash": leaf_hash.hex(),
        }
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.count += 1

    def finish(self, checkpoint: str, verifier_key: str) -> None:
        self._file.close()
        (self.out / CHECKPOINT_FILE).write_text(checkpoint, encoding="utf-8")
        (self.out / VERIFIER_KEY_FILE).write_text(verifier_key.strip() + "\n", encoding="utf-8")


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
    writer = _ExportWriter(out)
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


def export_over_grpc(channel: Any, out: Path) -> tuple[int, str]:
    from xinlian.v1 import audit_pb2

    writer = _ExportWriter(out)
    note = verifier_key = ""
    for message in _audit_stub(channel).ExportLedger(
        audit_pb2.ExportLedgerRequest(start_index=0), timeout=RPC_TIMEOUT_S * 10
    ):
        for entry in message.entries:
            writer.write(entry.index, bytes(entry.entry) or None, bytes(entry.leaf_hash))
        if message.checkpoint:
            note, verifier_key = message.checkpoint, message.verifier_key
    if not note:
        raise click.ClickException("the export stream ended without a checkpoint")
    writer.finish(note, verifier_key)
    return writer.count, note


@audit_group.command("export")
@HOME_OPTION
@IDENTITY_OPTION
@GATEWAY_OPTION
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
def export_cmd(home: Path | None, identity: Path | None, gateway: str | None, out: Path) -> None:
    """Write entries.jsonl, checkpoint and verifier.key for offline verification."""
    _require_one(home=home, identity=identity)
    if home is not None:
        with _store(home) as (config, store):
            count, note = export_from_store(config, store, out)
    else:
        assert identity is not None
        with _identity_channel(identity, gateway) as channel:
            count, note = export_over_grpc(channel, out)
    size = note.split("\n")[1] if note.count("\n") > 1 else "?"
    click.echo(f"exported {count} entries (checkpoint size {size}) to {out}")
    click.echo(f"verify with: xinlian audit verify --export {out}")


# --------------------------------------------------------------------------- trace


def _entries_table(entries: Iterable[Any], title: str) -> Table:
    table = _table(
        title, ("index", "time", "action", "outcome", "actor", "enterprise", "subject", "trace")
    )
    for e in entries:
        table.add_row(
            str(e.index),
            _ts(e.time),
            e.action,
            e.outcome,
            e.actor,
            e.credit_code,
            e.subject,
            e.trace_id,
        )
    return table


def _entry_json(e: Any) -> dict[str, Any]:
    details: Any = None
    if e.entry:
        try:
            details = json.loads(bytes(e.entry)).get("details")
        except ValueError:
            details = None
    return {
        "index": e.index,
        "time": _ts(e.time),
        "action": e.action,
        "outcome": e.outcome,
        "actor": e.actor,
        "credit_code": e.credit_code or None,
        "subject": e.subject or None,
        "trace_id": e.trace_id,
        "leaf_hash": bytes(e.leaf_hash).hex(),
        "pruned": not e.entry,
        "details": details,
    }


@audit_group.command("trace")
@IDENTITY_OPTION
@GATEWAY_OPTION
@click.option("--record", "record_id", help="Record id: its source and every destination.")
@click.option("--source", default="", help="Source node, if two sources used the record id.")
@click.option("--enterprise", "credit_code", help="统一社会信用代码: every flow about it.")
@click.option("--page-size", type=int, default=0, help="Entries per page (--enterprise).")
@click.option("--page-token", default="", help="Continue from a previous page (--enterprise).")
@JSON_OPTION
def trace_cmd(
    identity: Path | None,
    gateway: str | None,
    record_id: str | None,
    source: str,
    credit_code: str | None,
    page_size: int,
    page_token: str,
    as_json: bool,
) -> None:
    """Officers: trace a record (source, destinations) or an enterprise (every flow)."""
    from xinlian.v1 import audit_pb2

    if identity is None:
        raise click.UsageError("--identity is required")
    _require_one(record=record_id, enterprise=credit_code)
    with _identity_channel(identity, gateway) as channel:
        stub = _audit_stub(channel)
        if record_id:
            trace = stub.TraceRecord(
                audit_pb2.TraceRecordRequest(record_id=record_id, source_node_id=source),
                timeout=RPC_TIMEOUT_S,
            )
            _show_record_trace(record_id, trace, as_json)
            return
        response = stub.TraceEnterprise(
            audit_pb2.TraceEnterpriseRequest(
                credit_code=credit_code, page_size=page_size, page_token=page_token
            ),
            timeout=RPC_TIMEOUT_S,
        )
    if as_json:
        _emit_json(
            {
                "credit_code": credit_code,
                "entries": [_entry_json(e) for e in response.entries],
                "next_page_token": response.next_page_token,
            }
        )
        return
    _console().print(_entries_table(response.entries, f"flows about {credit_code}"))
    if response.next_page_token:
        click.echo(f"more: --page-token {response.next_page_token}")


def _show_record_trace(record_id: str, trace: Any, as_json: bool) -> None:
    if as_json:
        _emit_json(
            {
                "record_id": record_id,
                "sources": [
                    {
                        "record_id": s.record_id,
                        "version": s.version,
                        "source_node_id": s.source_node_id,
                        "batch_id": s.batch_id,
                        "batch_signature": base64.b64encode(s.batch_signature).decode(),
                        "received_at": _ts(s.received_at),
                        "category": s.category,
                        "credit_code": s.credit_code,
                        "ledger_index": s.ledger_index,
                        "bytes_erased_by": (
                            s.erasure_ledger_index if s.erasure_ledger_index >= 0 else None
                        ),
                    }
                    for s in trace.sources
                ],
                "destinations": [
                    {
                        "consumer_node_id": d.consumer_node_id,
                        "fields": dict(zip(d.fields, d.masks, strict=True)),
                        "grant_id": d.grant_id or None,
                        "purpose": d.purpose,
                        "time": _ts(d.time),
                        "ledger_index": d.ledger_index,
                        "trace_id": d.trace_id,
                    }
                    for d in trace.destinations
                ],
            }
        )
        return
    sources = _table(
        f"record {record_id}: source (来源)",
        (
            "version",
            "source node",
            "batch",
            "signature",
            "received",
            "category",
            "enterprise",
            "ledger index",
            "signed bytes",
        ),
    )
    for s in trace.sources:
        sources.add_row(
            str(s.version),
            s.source_node_id,
            s.batch_id,
            base64.b64encode(s.batch_signature).decode()[:16] + "…",
            _ts(s.received_at),
            s.category,
            s.credit_code,
            str(s.ledger_index),
            f"erased (entry {s.erasure_ledger_index})" if s.erasure_ledger_index >= 0 else "stored",
        )
    _console().print(sources)
    destinations = _table(
        f"record {record_id}: destinations (去向)",
        (
            "consumer",
            "fields (mask)",
            "grant",
            "purpose",
            "time",
            "ledger index",
            "trace",
        ),
    )
    # With no grant, a disclosure was either of a public category or the enterprise's
    # own (self) query: non-public data leaves without a grant in no other way.
    public = {c.id for c in Catalog.default().categories.values() if c.public}
    all_public = all(s.category in public for s in trace.sources)
    for d in trace.destinations:
        basis = d.grant_id or ("(public)" if all_public else "(self query)")
        shown = ", ".join(
            f"{f}={'raw' if m == 'keep' else m}" for f, m in zip(d.fields, d.masks, strict=True)
        )
        destinations.add_row(
            d.consumer_node_id,
            shown,
            basis,
            d.purpose,
            _ts(d.time),
            str(d.ledger_index),
            d.trace_id,
        )
    _console().print(destinations)
    if not trace.destinations:
        click.echo("no destinations: no consumer has received any field of this record")


# --------------------------------------------------------------------------- search


@audit_group.command("search")
@IDENTITY_OPTION
@GATEWAY_OPTION
@click.option("--node", default="", help="Node id, as actor or subject.")
@click.option("--enterprise", "credit_code", default="", help="统一社会信用代码.")
@click.option("--action", default="", type=click.Choice(["", *(a.value for a in Action)]))
@click.option("--outcome", default="", type=click.Choice(["", *(o.value for o in Outcome)]))
@click.option("--since", help="ISO 8601 time (UTC if no offset), inclusive.")
@click.option("--until", help="ISO 8601 time (UTC if no offset), exclusive.")
@click.option("--page-size", type=int, default=0, help="Entries per page (default 100, max 500).")
@click.option("--page-token", default="", help="Continue from a previous page.")
@JSON_OPTION
def search_cmd(
    identity: Path | None,
    gateway: str | None,
    node: str,
    credit_code: str,
    action: str,
    outcome: str,
    since: str | None,
    until: str | None,
    page_size: int,
    page_token: str,
    as_json: bool,
) -> None:
    """Officers: search ledger entries (the search itself is recorded in the ledger)."""
    from google.protobuf.timestamp_pb2 import Timestamp

    from xinlian.v1 import audit_pb2

    if identity is None:
        raise click.UsageError("--identity is required")
    request = audit_pb2.SearchEntriesRequest(
        node_id=node,
        credit_code=credit_code,
        action=action,
        outcome=outcome,
        page_size=page_size,
        page_token=page_token,
    )
    for name, value in (("since", since), ("until", until)):
        when = _parse_time(value, f"--{name}")
        if when is not None:
            stamp = Timestamp()
            stamp.FromDatetime(when)
            getattr(request, name).CopyFrom(stamp)
    with _identity_channel(identity, gateway) as channel:
        response = _audit_stub(channel).SearchEntries(request, timeout=RPC_TIMEOUT_S)
    if as_json:
        _emit_json(
            {
                "entries": [_entry_json(e) for e in response.entries],
                "next_page_token": response.next_page_token,
            }
        )
        return
    _console().print(_entries_table(response.entries, "ledger search"))
    if response.next_page_token:
        click.echo(f"more: --page-token {response.next_page_token}")


# --------------------------------------------------------------------------- operator


@audit_group.command("prune")
@HOME_OPTION
@click.option("--dry-run", is_flag=True, help="Count only; change nothing.")
def prune_cmd(home: Path | None, dry_run: bool) -> None:
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


@audit_group.command("checkpoint")
@HOME_OPTION
def checkpoint_cmd(home: Path | None) -> None:
    """Sign a checkpoint of the current tree now (if it grew) and print it."""
    from gateway.flows.checkpointer import sign_checkpoint

    if home is None:
        raise click.UsageError("--home is required")
    with _store(home) as (config, store):
        checkpoint = sign_checkpoint(store, _signer(config), config.origin, SystemClock())
    if checkpoint is None:
        raise click.ClickException("the ledger is empty; nothing to sign")
    click.echo(checkpoint.note, nl=False)
