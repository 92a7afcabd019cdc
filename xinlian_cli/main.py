"""The ``xinlian`` command.

:func:`main` is the only place that turns the outcome of a command into the process exit
status, by the table in :mod:`xinlian.exit_codes`. Commands print what they found and
raise :class:`~xinlian.exit_codes.CommandExit` (or let an error propagate); they never
call ``sys.exit`` or ``ctx.exit`` with a code of their own.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

import click
import grpc
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from gateway.host.certs import cert_group
from gateway.host.cli import gateway_group
from gateway.host.federation_cli import federation_group, link_cmd
from gateway.host.tiles_cli import tiles_group
from node_agent.agent_cli import agent_group
from node_agent.authz_cli import enterprise_group, grant_group, query_cmd
from node_agent.catalog_cli import catalog_group
from node_agent.cli import admin_group, node_group
from node_agent.console.cli import console_group
from node_agent.notices_cli import notices_group
from node_agent.objections_cli import agent_objections_group, freeze_cmd, objection_group
from node_agent.repairs_cli import repair_group
from node_agent.report_cli import report_group
from node_agent.subscriptions_cli import subscribe_group
from node_agent.sync.cli import add_sync_commands
from xinlian.errors import XinLianError
from xinlian.exit_codes import CommandExit, ExitCode, for_status_name
from xinlian_cli.audit import audit_group
from xinlian_cli.samples import sample_cmd

TRACEBACK_ENV = "XINLIAN_TRACEBACK"
"""Set to 1 to print the traceback of an unexpected error (a bug) on stderr."""


@click.group()
@click.version_option(package_name="xinlian")
def cli() -> None:
    """XinLian (信联): federated data-exchange gateway for enterprise credit information.

    Exit status: 0 ok, 1 integrity (verification failed), 2 usage, 3 gateway or database
    unreachable, 4 denied, 5 records rejected, 6 other failure, 130 interrupted.
    """


agent_group.add_command(sample_cmd)  # sample data is not the agent's, but lives in its group
agent_group.add_command(agent_objections_group)
add_sync_commands(agent_group)  # sync, status, resync: node_agent/sync
enterprise_group.add_command(freeze_cmd)

gateway_group.add_command(cert_group)
gateway_group.add_command(tiles_group)
gateway_group.add_command(link_cmd)
cli.add_command(federation_group)
cli.add_command(gateway_group)
cli.add_command(node_group)
cli.add_command(admin_group)
cli.add_command(agent_group)
cli.add_command(enterprise_group)
cli.add_command(grant_group)
cli.add_command(query_cmd)
cli.add_command(audit_group)
cli.add_command(notices_group)
cli.add_command(repair_group)
cli.add_command(objection_group)
cli.add_command(catalog_group)
cli.add_command(report_group)
cli.add_command(console_group)
cli.add_command(subscribe_group)


def _reason(error: grpc.RpcError) -> str:
    metadata = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in metadata or ():
        if key == "xinlian-reason":
            return f" [{value}]"
    return ""


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _database_cause(exc: BaseException) -> str:
    """The driver's own message (first line) of a database error: never the SQL statement
    or its parameters, which SQLAlchemy's own message carries."""
    orig = getattr(exc, "orig", None)
    return _first_line(str(orig if orig is not None else type(exc).__name__))


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc) or type(exc).__name__


def exit_status(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and the one-line message (``""``: print nothing) for an error that
    ended a command, or ``None`` for an error nobody expected (a bug: the caller prints
    its traceback)."""
    if isinstance(exc, CommandExit):
        return int(exc.code), exc.message
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code, ""
    if isinstance(exc, click.exceptions.Abort | KeyboardInterrupt):
        return ExitCode.ABORTED, "aborted"
    if isinstance(exc, click.UsageError | click.FileError):
        return ExitCode.USAGE, ""  # click shows these itself (``exc.show()``)
    if isinstance(exc, click.ClickException):
        return ExitCode.FAILED, ""
    if isinstance(exc, grpc.RpcError):
        code = exc.code() if hasattr(exc, "code") else None
        name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
        details = exc.details() if hasattr(exc, "details") else str(exc)
        return for_status_name(name), f"error: {name}: {details}{_reason(exc)}"
    if isinstance(exc, XinLianError):
        message = f"error: {exc}"
        cause = exc.__cause__
        if isinstance(cause, SQLAlchemyError):
            message += f" ({_database_cause(cause)})"
        return for_status_name(exc.status_name), message
    if isinstance(exc, OperationalError):
        return ExitCode.UNREACHABLE, f"error: database unreachable: {_database_cause(exc)}"
    if isinstance(exc, SQLAlchemyError):
        return ExitCode.FAILED, f"error: database: {_database_cause(exc)}"
    if isinstance(exc, OSError):
        return ExitCode.FAILED, f"error: {_os_message(exc)}"
    if isinstance(exc, LookupError):
        return ExitCode.FAILED, f"error: {exc}"
    return None


def run(args: Sequence[str] | None = None, command: click.Command = cli) -> int:
    """Run ``command`` (by default the ``xinlian`` group) on ``args`` (by default
    ``sys.argv[1:]``) and return its exit status; errors are reported on stderr."""
    try:
        returned = command.main(
            args=list(args) if args is not None else None, standalone_mode=False
        )
    except Exception as exc:  # every error a command lets through ends here
        status = exit_status(exc)
        if status is None:
            # a bug, not a user error: one line (the exception's text may carry data);
            # the traceback only when asked for
            if os.environ.get(TRACEBACK_ENV) == "1":
                traceback.print_exc()
            click.echo(
                f"error: unexpected {type(exc).__name__}; this is a bug "
                f"(set {TRACEBACK_ENV}=1 to print its traceback)",
                err=True,
            )
            return ExitCode.FAILED
        code, message = status
        if isinstance(exc, click.ClickException):
            exc.show()
        elif message:
            click.echo(message, err=True)
        return code
    except KeyboardInterrupt:
        click.echo("aborted", err=True)
        return ExitCode.ABORTED
    # standalone_mode=False: ``ctx.exit(n)`` (and --help, --version) come back as the
    # return value instead of an exception. Commands return None (OK); they end with
    # another status by raising CommandExit, never by returning a number.
    if isinstance(returned, int) and not isinstance(returned, bool):
        return returned
    return ExitCode.OK


def main() -> None:
    sys.exit(int(run()))


if __name__ == "__main__":
    main()
