"""``xinlian node …`` and ``xinlian admin …``: commands run by nodes over gRPC."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from node_agent import enroll as enrollment
from xinlian.console import data_console, print_json
from xinlian.identity import Identity
from xinlian.v1 import common_pb2, registry_pb2, registry_pb2_grpc
from xinlian.wire import KIND_TO_WIRE

F = TypeVar("F", bound=Callable[..., Any])


def identity_options(identity_help: str) -> Callable[[F], F]:
    """``--identity DIR`` (described by ``identity_help``) and ``--gateway HOST:PORT``: whom a
    command calls as, and where."""
    identity = click.option(
        "--identity",
        type=click.Path(path_type=Path, exists=True, file_okay=False),
        required=True,
        help=identity_help,
    )
    gateway = click.option("--gateway", help="Override the gateway address HOST:PORT.")

    def decorate(fn: F) -> F:
        return identity(gateway(fn))

    return decorate


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
IDENTITY_OPTIONS = identity_options(
    "Identity directory (from `xinlian node enroll`; for admins, GATEWAY_HOME/admin)."
)


def _state(value: int) -> str:
    return common_pb2.NodeState.Name(value).removeprefix("NODE_STATE_").lower()


def _kind(value: int) -> str:
    return common_pb2.NodeKind.Name(value).removeprefix("NODE_KIND_").lower()


def node_json(node: common_pb2.Node) -> dict[str, object]:
    """A registry entry for ``--json`` (the same columns as the table)."""
    return {
        "node_id": node.node_id,
        "kind": _kind(node.kind),
        "region": node.region,
        "name": node.name,
        "state": _state(node.state),
        "categories": list(node.categories),
        "reason": node.state_reason,
    }


def print_nodes(nodes: list[common_pb2.Node], title: str, as_json: bool, key: str) -> None:
    """Registry entries on stdout: one JSON document under ``key``, or a table."""
    if as_json:
        print_json({key: [node_json(n) for n in nodes]})
    else:
        data_console().print(nodes_table(nodes, title=title))


def nodes_table(nodes: list[common_pb2.Node], title: str = "registry") -> Table:
    table = Table(title=title)
    for column in ("node id", "kind", "region", "name", "state", "categories", "reason"):
        table.add_column(column)
    for node in nodes:
        table.add_row(
            node.node_id,
            _kind(node.kind),
            node.region,
            node.name,
            _state(node.state),
            ",".join(node.categories),
            node.state_reason,
        )
    return table


@click.group("node")
def node_group() -> None:
    """Apply for access, enroll, renew, show yourself."""


@node_group.command("apply")
@click.option("--gateway", required=True, help="Enrollment address HOST:PORT.")
@click.option(
    "--ca",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="The gateway CA certificate (PEM), obtained out of band.",
)
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice(sorted(KIND_TO_WIRE)), required=True)
@click.option("--region", required=True, help="6-digit GB/T 2260 division code.")
@click.option("--category", "categories", multiple=True, help="Departments: category (repeat).")
@click.option("--contact", default="")
@click.option("--id", "requested_id", default="", help="Wished-for node id.")
@JSON_OPTION
def apply_cmd(
    gateway: str,
    ca: Path,
    name: str,
    kind: str,
    region: str,
    categories: tuple[str, ...],
    contact: str,
    requested_id: str,
    as_json: bool,
) -> None:
    """Apply for access; an administrator reviews and admits the application."""
    response = enrollment.apply(
        gateway,
        ca.read_bytes(),
        name=name,
        kind=kind,
        region=region,
        categories=list(categories),
        contact=contact,
        requested_id=requested_id,
    )
    if as_json:
        print_json({"node": node_json(response.node)})
        return
    click.echo(f"applied: node id {response.node.node_id} ({_state(response.node.state)})")


@node_group.command("enroll")
@click.option("--gateway", required=True, help="Enrollment address HOST:PORT.")
@click.option(
    "--token",
    required=True,
    envvar="XINLIAN_ENROLLMENT_TOKEN",
    help="One-time token from the administrator (or $XINLIAN_ENROLLMENT_TOKEN).",
)
@click.option(
    "--ca",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="The gateway CA certificate (PEM), obtained out of band.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@JSON_OPTION
def enroll_cmd(gateway: str, token: str, ca: Path, out: Path, as_json: bool) -> None:
    """Make a key locally, send a CSR with the token, store the issued certificate."""
    identity = enrollment.enroll(gateway, token, ca.read_bytes(), out)
    if as_json:
        print_json({"node_id": identity.node_id, "kind": identity.kind, "identity": str(out)})
        return
    click.echo(f"enrolled {identity.node_id} ({identity.kind}); identity in {out}")


@node_group.command("renew")
@IDENTITY_OPTIONS
@JSON_OPTION
def renew_cmd(identity: Path, gateway: str | None, as_json: bool) -> None:
    """Renew this node's certificate (new key, same identity)."""
    not_after = enrollment.renew(Identity.load(identity, gateway=gateway))
    if as_json:
        print_json({"not_after": not_after})
        return
    click.echo(f"renewed; valid until {not_after}")


@node_group.command("whoami")
@IDENTITY_OPTIONS
@JSON_OPTION
def whoami_cmd(identity: Path, gateway: str | None, as_json: bool) -> None:
    """Show this node's registry entry."""
    ident = Identity.load(identity, gateway=gateway)
    with ident.channel() as channel:
        response = registry_pb2_grpc.RegistryServiceStub(channel).GetSelf(
            registry_pb2.GetSelfRequest(), timeout=30
        )
    if as_json:
        print_json({"node": node_json(response.node)})
    else:
        data_console().print(nodes_table([response.node], title="this node"))


# ---------------------------------------------------------------------------------------
@click.group("admin")
def admin_group() -> None:
    """Access review (接入审查): list, admit, suspend, readmit, exit nodes."""


def _admin_stub(
    identity: Path, gateway: str | None
) -> tuple[object, registry_pb2_grpc.RegistryServiceStub]:
    channel = Identity.load(identity, gateway=gateway).channel()
    return channel, registry_pb2_grpc.RegistryServiceStub(channel)


@admin_group.command("list")
@IDENTITY_OPTIONS
@click.option("--state", type=click.Choice(["applied", "admitted", "suspended", "exited"]))
@JSON_OPTION
def list_cmd(identity: Path, gateway: str | None, state: str | None, as_json: bool) -> None:
    """List nodes (applications with --state applied)."""
    channel, stub = _admin_stub(identity, gateway)
    nodes: list[common_pb2.Node] = []
    token = ""
    with channel:  # type: ignore[attr-defined]
        while True:
            response = stub.ListNodes(
                registry_pb2.ListNodesRequest(
                    state=f"NODE_STATE_{state.upper()}" if state else "NODE_STATE_UNSPECIFIED",
                    page_token=token,
                ),
                timeout=30,
            )
            nodes.extend(response.nodes)
            token = response.next_page_token
            if not token:
                break
    print_nodes(nodes, "registry", as_json, "nodes")


@admin_group.command("admit")
@IDENTITY_OPTIONS
@click.argument("node_id")
@click.option("--security", "security", required=True, help="Security assessment result.")
@click.option(
    "--authorization", "authorization", required=True, help="Authorization assessment result."
)
@click.option("--notes", default="")
@JSON_OPTION
def admit_cmd(
    identity: Path,
    gateway: str | None,
    node_id: str,
    security: str,
    authorization: str,
    notes: str,
    as_json: bool,
) -> None:
    """Admit an application with a recorded review; prints the one-time enrollment token."""
    channel, stub = _admin_stub(identity, gateway)
    with channel:  # type: ignore[attr-defined]
        response = stub.AdmitNode(
            registry_pb2.AdmitNodeRequest(
                node_id=node_id,
                security_assessment=security,
                authorization_assessment=authorization,
                notes=notes,
            ),
            timeout=30,
        )
    if as_json:
        print_json({"node_id": node_id, "enrollment_token": response.enrollment_token})
        return
    click.echo(f"admitted {node_id}; one-time enrollment token (give it to the node):")
    click.echo(response.enrollment_token)


def _state_command(name: str, rpc: str, request_type: type, help_text: str) -> None:
    @admin_group.command(name, help=help_text)
    @IDENTITY_OPTIONS
    @click.argument("node_id")
    @click.option("--reason", required=True)
    @JSON_OPTION
    def command(
        identity: Path, gateway: str | None, node_id: str, reason: str, as_json: bool
    ) -> None:
        channel, stub = _admin_stub(identity, gateway)
        with channel:  # type: ignore[attr-defined]
            response = getattr(stub, rpc)(request_type(node_id=node_id, reason=reason), timeout=30)
        if as_json:
            print_json({"node": node_json(response.node)})
            return
        click.echo(f"{node_id}: {_state(response.node.state)}")


_state_command("suspend", "SuspendNode", registry_pb2.SuspendNodeRequest, "Suspend a node at once.")
_state_command(
    "readmit", "ReadmitNode", registry_pb2.ReadmitNodeRequest, "Readmit a suspended node."
)
_state_command(
    "exit",
    "ExitNode",
    registry_pb2.ExitNodeRequest,
    "Exit a node for good; its certificates are revoked.",
)
