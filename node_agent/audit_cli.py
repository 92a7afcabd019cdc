"""The officer's half of ``xinlian audit`` (the whole synopsis: :mod:`xinlian_cli.audit`):
the commands that go over gRPC with an officer identity (``--identity``), and the check
of an export directory, which needs nothing but its files.

``trace`` and ``search`` are commands of their own here; ``verify`` (``--export``) and
``export`` (``--identity``) also serve the operator (``--home``:
:mod:`gateway.host.audit_cli`), so their click commands are composed in
:mod:`xinlian_cli.audit` from :func:`show_export_check` and :func:`export_identity`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from audit.entry import Action, Outcome
from audit.export_writer import ExportWriter
from audit.verify_export import ExportResult
from authz.catalog import Catalog
from node_agent.hop_trace_cli import show_hop_trace
from node_agent.notices import NOTICE_TRACE_COLUMNS, notice_trace_json, notice_trace_row
from xinlian.console import data_console

RPC_TIMEOUT_S = 60.0

IDENTITY_OPTION = click.option(
    "--identity",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Officer identity directory (from `xinlian node enroll`).",
)
GATEWAY_OPTION = click.option("--gateway", help="Override the gateway address HOST:PORT.")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _console() -> Console:
    return data_console()


def _table(title: str, columns: Iterable[str]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def emit_json(data: Any) -> None:
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


def require_one(**options: object) -> None:
    """Exactly one of ``options`` is given (a usage error otherwise)."""
    given = [name for name, value in options.items() if value]
    if len(given) != 1:
        names = " or ".join(f"--{n.replace('_', '-')}" for n in options)
        raise click.UsageError(f"give exactly one of {names}")


def _officer(identity: Path | None) -> Path:
    if identity is None:
        raise click.UsageError("--identity is required")
    return identity


def _identity_channel(identity: Path, gateway: str | None) -> Any:
    from xinlian.identity import Identity

    return Identity.load(identity, gateway=gateway).channel()


def _audit_stub(channel: Any) -> Any:
    from xinlian.v1 import audit_pb2_grpc

    return audit_pb2_grpc.AuditServiceStub(channel)


# --------------------------------------------------------------------------- verify


def show_export_check(result: ExportResult) -> None:
    """The check of an export in words: one OK line (stdout), or FAILED (stderr)."""
    if result.ok:
        click.echo(
            f"OK: export of {result.size} entries ({result.pruned} pruned) verifies "
            f"against the signed checkpoint of {result.origin}; root {result.root_hash.hex()}"
        )
        return
    where = (
        f" first bad index {result.first_bad_index}:" if result.first_bad_index is not None else ""
    )
    click.echo(f"FAILED:{where} {result.message}", err=True)


# --------------------------------------------------------------------------- export


def export_over_grpc(channel: Any, out: Path) -> tuple[int, str]:
    from xinlian.v1 import audit_pb2

    writer = ExportWriter(out)
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


def export_identity(identity: Path, gateway: str | None, out: Path) -> tuple[int, str]:
    """:func:`export_over_grpc` on a channel of the officer ``identity``."""
    with _identity_channel(identity, gateway) as channel:
        return export_over_grpc(channel, out)


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


def entry_json(e: Any) -> dict[str, Any]:
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


def _show_entries(response: Any, title: str, as_json: bool, **head: Any) -> None:
    """A page of ledger entries (a trace of an enterprise, a search): JSON after ``head``,
    or a table; then how to ask for the next page."""
    if as_json:
        emit_json(
            {
                **head,
                "entries": [entry_json(e) for e in response.entries],
                "next_page_token": response.next_page_token,
            }
        )
        return
    _console().print(_entries_table(response.entries, title))
    if response.next_page_token:
        click.echo(f"more: --page-token {response.next_page_token}")


@click.command("trace")
@IDENTITY_OPTION
@GATEWAY_OPTION
@click.option("--record", "record_id", help="Record id: its source and every destination.")
@click.option("--source", default="", help="Source node, if two sources used the record id.")
@click.option("--enterprise", "credit_code", help="统一社会信用代码: every flow about it.")
@click.option("--trace-id", help="One trace across gateways: its entries here, each hop proven.")
@click.option("--page-size", type=int, default=0, help="Entries per page (--enterprise).")
@click.option("--page-token", default="", help="Continue from a previous page (--enterprise).")
@JSON_OPTION
def trace_cmd(
    identity: Path | None,
    gateway: str | None,
    record_id: str | None,
    source: str,
    credit_code: str | None,
    trace_id: str | None,
    page_size: int,
    page_token: str,
    as_json: bool,
) -> None:
    """Officers: trace a record (source, destinations), an enterprise (every flow), or
    one trace id across gateways (each hop proven by its peer)."""
    from xinlian.v1 import audit_pb2

    identity = _officer(identity)
    require_one(record=record_id, enterprise=credit_code, trace_id=trace_id)
    if trace_id:
        show_hop_trace(identity, gateway, trace_id, as_json)
        return
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
    _show_entries(response, f"flows about {credit_code}", as_json, credit_code=credit_code)


def _show_record_trace(record_id: str, trace: Any, as_json: bool) -> None:
    if as_json:
        emit_json(
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
                "notices": [notice_trace_json(n) for n in trace.notices],
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
    if trace.notices:
        notices = _table(f"record {record_id}: correction notices (更正通知)", NOTICE_TRACE_COLUMNS)
        for n in trace.notices:
            notices.add_row(*notice_trace_row(n))
        _console().print(notices)


# --------------------------------------------------------------------------- search


@click.command("search")
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
    from xinlian.v1 import audit_pb2
    from xinlian.wire import ts

    identity = _officer(identity)
    request = audit_pb2.SearchEntriesRequest(
        node_id=node,
        credit_code=credit_code,
        action=action,
        outcome=outcome,
        page_size=page_size,
        page_token=page_token,
    )
    for name, value in (("since", since), ("until", until)):
        stamp = ts(_parse_time(value, f"--{name}"))
        if stamp is not None:
            getattr(request, name).CopyFrom(stamp)
    with _identity_channel(identity, gateway) as channel:
        response = _audit_stub(channel).SearchEntries(request, timeout=RPC_TIMEOUT_S)
    _show_entries(response, "ledger search", as_json)
