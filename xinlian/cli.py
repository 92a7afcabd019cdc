"""The ``xinlian`` command."""

from __future__ import annotations

import sys

import click
import grpc

from gateway.audit_cli import audit_group
from gateway.cli import gateway_group
from node_agent.agent_cli import agent_group
from node_agent.authz_cli import enterprise_group, grant_group, query_cmd
from node_agent.cli import admin_group, node_group
from xinlian.errors import XinLianError


@click.group()
@click.version_option(package_name="xinlian")
def cli() -> None:
    """XinLian (信联): federated data-exchange gateway for enterprise credit information."""


cli.add_command(gateway_group)
cli.add_command(node_group)
cli.add_command(admin_group)
cli.add_command(agent_group)
cli.add_command(enterprise_group)
cli.add_command(grant_group)
cli.add_command(query_cmd)
cli.add_command(audit_group)


def _reason(error: grpc.RpcError) -> str:
    metadata = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in metadata or ():
        if key == "xinlian-reason":
            return f" [{value}]"
    return ""


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except grpc.RpcError as exc:
        code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
        details = exc.details() if hasattr(exc, "details") else str(exc)
        click.echo(f"error: {code}: {details}{_reason(exc)}", err=True)
        sys.exit(1)
    except (XinLianError, FileNotFoundError, FileExistsError, LookupError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
