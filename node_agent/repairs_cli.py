"""``xinlian repair …``: credit repair (信用修复) and removal from a list.

    xinlian repair record --identity DEPT_DIR --credit-code C --source NODE --record-id R \\
        --category CAT --basis TEXT [--removal] [--application-id A]
    xinlian repair apply --identity PLATFORM_DIR --enterprise-key KEY.pem --credit-code C \\
        --source NODE --record-id R --category CAT --reason TEXT
    xinlian repair refuse --identity DEPT_DIR --application-id A --reason TEXT
    xinlian repair list --identity DIR [--credit-code C] [--json]
    xinlian repair applications --identity DIR [--state open|granted|refused] [--json]

A department (or the credit center, an admin node) signs a repair with the key of its
node certificate; an application is signed here with the enterprise's key, which never
leaves this machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from google.protobuf.json_format import MessageToDict

from authz.publicity import RepairKind
from node_agent.cli import JSON_OPTION, identity_options
from node_agent.enterprise import load_signing_key
from node_agent.repairs import RepairClient, make_application, make_repair, sign_statement
from xinlian.console import print_json
from xinlian.identity import Identity

IDENTITY = identity_options("The node's identity directory (from `xinlian node enroll`).")
KEY_FILE = click.Path(path_type=Path, exists=True, dir_okay=False)


def _record_options(fn: Any) -> Any:
    for option in reversed(
        [
            click.option("--credit-code", required=True, help="统一社会信用代码 of the record."),
            click.option("--source", required=True, help="Node id of the pushing department."),
            click.option("--record-id", required=True),
            click.option("--category", required=True, help="e.g. admin_penalty."),
        ]
    ):
        fn = option(fn)
    return fn


@click.group("repair")
def repair_group() -> None:
    """Credit repair (信用修复) of public negative records."""


@repair_group.command("record")
@IDENTITY
@_record_options
@click.option("--basis", required=True, help="修复依据: the decision or document relied on.")
@click.option("--removal", is_flag=True, help="A removal from a list, not a repair.")
@click.option("--application-id", default=None, help="The application this grants.")
@JSON_OPTION
def record_cmd(
    identity: Path,
    gateway: str | None,
    credit_code: str,
    source: str,
    record_id: str,
    category: str,
    basis: str,
    removal: bool,
    application_id: str | None,
    as_json: bool,
) -> None:
    """Sign a repair with this node's key and record it (department or credit center)."""
    node = Identity.load(identity, gateway=gateway)
    statement = make_repair(
        node,
        credit_code=credit_code,
        source_node_id=source,
        record_id=record_id,
        category=category,
        basis=basis,
        kind=RepairKind.REMOVAL if removal else RepairKind.REPAIR,
        application_id=application_id,
    )
    with RepairClient(node) as client:
        response = client.record(statement)
    if as_json:
        print_json({"repair": MessageToDict(response.repair), "notices": response.notices})
        return
    click.echo(
        f"{response.repair.kind} {response.repair.repair_id} of {record_id} "
        f"(ledger index {response.repair.ledger_index}, {response.notices} notice(s) queued)"
    )


@repair_group.command("apply")
@IDENTITY
@click.option("--enterprise-key", type=KEY_FILE, required=True, help="The enterprise's KEY.pem.")
@_record_options
@click.option("--reason", required=True, help="How the enterprise corrected the conduct.")
@JSON_OPTION
def apply_cmd(
    identity: Path,
    gateway: str | None,
    enterprise_key: Path,
    credit_code: str,
    source: str,
    record_id: str,
    category: str,
    reason: str,
    as_json: bool,
) -> None:
    """A city platform files the enterprise's application, signed here with its key."""
    node = Identity.load(identity, gateway=gateway)
    application = make_application(
        node.node_id,
        credit_code=credit_code,
        source_node_id=source,
        record_id=record_id,
        category=category,
        reason=reason,
    )
    signature = sign_statement(load_signing_key(enterprise_key), application)
    with RepairClient(node) as client:
        response = client.apply(application, signature)
    if as_json:
        print_json(
            {
                "application": MessageToDict(response.application),
                "ledger_index": response.ledger_index,
            }
        )
        return
    click.echo(
        f"application {response.application.application_id}: {response.application.state}, "
        f"sent to {source} (ledger index {response.ledger_index})"
    )


@repair_group.command("refuse")
@IDENTITY
@click.option("--application-id", required=True)
@click.option("--reason", required=True)
@JSON_OPTION
def refuse_cmd(
    identity: Path, gateway: str | None, application_id: str, reason: str, as_json: bool
) -> None:
    """Refuse an open application for repair, with a reason."""
    with RepairClient(Identity.load(identity, gateway=gateway)) as client:
        response = client.refuse(application_id, reason)
    if as_json:
        print_json({"application": MessageToDict(response.application)})
        return
    click.echo(f"application {application_id}: {response.application.state}")


@repair_group.command("list")
@IDENTITY
@click.option("--credit-code", default="")
@click.option("--json", "as_json", is_flag=True)
def list_cmd(identity: Path, gateway: str | None, credit_code: str, as_json: bool) -> None:
    """The repairs this node may see (a department: its own records')."""
    with RepairClient(Identity.load(identity, gateway=gateway)) as client:
        repairs = list(client.repairs(credit_code))
    if as_json:
        click.echo(json.dumps([MessageToDict(r) for r in repairs], ensure_ascii=False, indent=2))
        return
    for r in repairs:
        click.echo(
            f"{r.repair_id}  {r.kind:7}  {r.credit_code}  {r.category}  {r.source_node_id}/"
            f"{r.record_id} v{r.version}  by {r.signer_node_id}  {r.basis}"
        )


@repair_group.command("applications")
@IDENTITY
@click.option("--state", type=click.Choice(["open", "granted", "refused"]), default=None)
@click.option("--json", "as_json", is_flag=True)
def applications_cmd(identity: Path, gateway: str | None, state: str | None, as_json: bool) -> None:
    """Applications for repair: a department's inbox; all for admins and officers."""
    with RepairClient(Identity.load(identity, gateway=gateway)) as client:
        applications = list(client.applications(state or ""))
    if as_json:
        click.echo(
            json.dumps([MessageToDict(a) for a in applications], ensure_ascii=False, indent=2)
        )
        return
    for a in applications:
        click.echo(
            f"{a.application_id}  {a.state:7}  {a.credit_code}  {a.category}  "
            f"{a.source_node_id}/{a.record_id}  via {a.platform_node_id}  {a.reason}"
        )
