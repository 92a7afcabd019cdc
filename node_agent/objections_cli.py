"""``xinlian objection …`` (a city platform files, and follows its filings),
``xinlian agent objections …`` (a department's inbox and answers) and
``xinlian enterprise freeze`` (an administrator, with a reason).

    xinlian objection file --identity PLATFORM_DIR --enterprise-key KEY.pem \\
        --credit-code C --source DEPT --record R --version V --field F [--field F …] \\
        --claim TEXT [--evidence FILE …] [--received-at 2025-10-09T09:00:00+08:00]
    xinlian objection list|show --identity DIR [--credit-code C] [--overdue] [--json]
    xinlian agent objections list|show|answer --identity DEPT_DIR …
    xinlian enterprise freeze --identity ADMIN_DIR --credit-code C --reason R [--unfreeze]

The enterprise's key signs the statement here; the platform's node key countersigns the
receipt (docs/objections.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from node_agent.cli import JSON_OPTION, identity_options
from node_agent.enterprise import load_signing_key
from node_agent.objections import (
    ANSWERS,
    STATE_NAMES,
    ObjectionClient,
    make_objection,
    sign_objection,
)
from xinlian.console import data_console, print_json
from xinlian.identity import Identity
from xinlian.v1 import objections_pb2 as pb

IDENTITY = identity_options("The node's identity directory (from `xinlian node enroll`).")
KEY_FILE = click.Path(path_type=Path, exists=True, dir_okay=False)


def _client(identity: Path, gateway: str | None) -> ObjectionClient:
    return ObjectionClient(Identity.load(identity, gateway=gateway))


def _time(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise click.BadParameter(f"{value!r}: give a time zone, e.g. +08:00")
    return when


def _stamp(view: pb.ObjectionView, name: str) -> str | None:
    return getattr(view, name).ToJsonString() if view.HasField(name) else None


def view_json(view: pb.ObjectionView) -> dict[str, Any]:
    s = view.statement
    return {
        "objection_id": s.objection_id,
        "credit_code": s.credit_code,
        "record": [s.source_node_id, s.record_id, s.version],
        "category": view.category,
        "fields": list(s.fields),
        "claim": s.claim,
        "evidence_sha256": list(s.evidence_sha256),
        "state": STATE_NAMES.get(view.state, "unspecified"),
        "platform_node_id": view.platform_node_id,
        "received_at": _stamp(view, "received_at"),
        "filed_at": _stamp(view, "filed_at"),
        "forward_due": _stamp(view, "forward_due"),
        "forwarded_late": view.forwarded_late,
        "answer_due": _stamp(view, "answer_due"),
        "overdue": view.overdue,
        "answer_reason": view.answer_reason,
        "corrected_version": view.corrected_version or None,
        "answered_at": _stamp(view, "answered_at"),
        "answered_by": view.answered_by or None,
    }


def show_views(views: Sequence[pb.ObjectionView], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([view_json(v) for v in views], ensure_ascii=False, indent=2))
        return
    table = Table(title="objections")
    for column in ("objection", "record", "state", "filed", "answer due", "flags"):
        table.add_column(column, overflow="fold")
    for v in views:
        data = view_json(v)
        flags = [f for f, on in (("late", v.forwarded_late), ("overdue", v.overdue)) if on]
        source, record_id, version = data["record"]
        table.add_row(
            data["objection_id"],
            f"{record_id} v{version} ({source})",
            data["state"],
            (data["filed_at"] or "")[:10],
            (data["answer_due"] or "")[:10],
            ",".join(flags),
        )
    data_console().print(table)


# -- the platform: xinlian objection … ----------------------------------------------------


@click.group("objection")
def objection_group() -> None:
    """Objections (异议) to stored records: a city platform files and follows them."""


@objection_group.command("file")
@IDENTITY
@click.option("--enterprise-key", type=KEY_FILE, required=True, help="The enterprise's KEY.pem.")
@click.option("--credit-code", required=True)
@click.option("--source", required=True, help="Node id of the department that pushed it.")
@click.option("--record", "record_id", required=True)
@click.option("--version", type=click.IntRange(1), required=True)
@click.option("--field", "fields", multiple=True, required=True, help="Disputed field (repeat).")
@click.option("--claim", required=True, help="The enterprise's claim.")
@click.option("--evidence", multiple=True, type=KEY_FILE, help="Evidence file (repeat).")
@click.option("--received-at", default=None, help="When the platform received it (ISO 8601).")
@JSON_OPTION
def file_cmd(
    identity: Path,
    gateway: str | None,
    enterprise_key: Path,
    credit_code: str,
    source: str,
    record_id: str,
    version: int,
    fields: tuple[str, ...],
    claim: str,
    evidence: tuple[Path, ...],
    received_at: str | None,
    as_json: bool,
) -> None:
    """The enterprise signs the objection here; this platform countersigns and files it."""
    received = _time(received_at)
    statement = make_objection(
        credit_code=credit_code,
        source_node_id=source,
        record_id=record_id,
        version=version,
        fields=fields,
        claim=claim,
        evidence=evidence,
        issued_at=min(received, datetime.now(UTC)),
    )
    signature = sign_objection(load_signing_key(enterprise_key), statement)
    with _client(identity, gateway) as client:
        response = client.file(statement, signature, received)
    view = response.objection
    if as_json:
        print_json({"objection": view_json(view), "ledger_index": response.ledger_index})
        return
    late = " (forwarded late)" if view.forwarded_late else ""
    click.echo(
        f"objection {view.statement.objection_id}: open{late}, answer due "
        f"{view.answer_due.ToJsonString()} (ledger index {response.ledger_index})"
    )


def _list_options(fn: Any) -> Any:
    fn = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(fn)
    fn = click.option("--overdue", is_flag=True, help="Only open ones past their deadline.")(fn)
    fn = click.option("--credit-code", default="")(fn)
    return IDENTITY(fn)


@objection_group.command("list")
@_list_options
def list_cmd(
    identity: Path, gateway: str | None, credit_code: str, overdue: bool, as_json: bool
) -> None:
    """Objections this node may see: a platform its filings, a department its inbox,
    administrators and officers all."""
    with _client(identity, gateway) as client:
        show_views(client.list(credit_code=credit_code, overdue_only=overdue), as_json)


@objection_group.command("show")
@IDENTITY
@click.argument("objection_id")
@click.option("--json", "as_json", is_flag=True, help="Accepted for uniformity: always JSON.")
def show_cmd(identity: Path, gateway: str | None, objection_id: str, as_json: bool) -> None:
    """One objection, as JSON."""
    with _client(identity, gateway) as client:
        view = client.get(objection_id)
    click.echo(json.dumps(view_json(view), ensure_ascii=False, indent=2))


# -- the department: xinlian agent objections … --------------------------------------------


@click.group("objections")
def agent_objections_group() -> None:
    """The objections to this department's records: list, show, answer."""


agent_objections_group.add_command(list_cmd)
agent_objections_group.add_command(show_cmd)


@agent_objections_group.command("answer")
@IDENTITY
@click.argument("objection_id")
@click.option("--answer", type=click.Choice(sorted(ANSWERS)), required=True)
@click.option("--reason", default="", help="Required for upheld and unconfirmable.")
@click.option(
    "--corrected-version",
    type=click.IntRange(1),
    default=None,
    help="corrected: the newer version, already pushed.",
)
@JSON_OPTION
def answer_cmd(
    identity: Path,
    gateway: str | None,
    objection_id: str,
    answer: str,
    reason: str,
    corrected_version: int | None,
    as_json: bool,
) -> None:
    """Answer an objection to a record this department pushed."""
    with _client(identity, gateway) as client:
        response = client.answer(objection_id, answer, reason, corrected_version or 0)
    state = STATE_NAMES.get(response.objection.state, "unspecified")
    if as_json:
        print_json(
            {"objection_id": objection_id, "state": state, "ledger_index": response.ledger_index}
        )
        return
    click.echo(f"objection {objection_id}: {state} (ledger index {response.ledger_index})")


# -- the administrator: xinlian enterprise freeze ----------------------------------------


@click.command("freeze")
@IDENTITY
@click.option("--credit-code", required=True)
@click.option("--reason", required=True, help="Recorded in the ledger.")
@click.option("--unfreeze", is_flag=True, help="Lift the freeze instead.")
@JSON_OPTION
def freeze_cmd(
    identity: Path,
    gateway: str | None,
    credit_code: str,
    reason: str,
    unfreeze: bool,
    as_json: bool,
) -> None:
    """Freeze (or unfreeze) an enterprise's data, with a reason (administrators)."""
    with _client(identity, gateway) as client:
        index = client.freeze(credit_code, not unfreeze, reason)
    state = "unfrozen" if unfreeze else "frozen"
    if as_json:
        print_json({"credit_code": credit_code, "state": state, "ledger_index": index})
        return
    click.echo(f"{credit_code}: {state} (ledger index {index})")
