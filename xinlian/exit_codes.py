"""The exit codes of the ``xinlian`` command: one table, used by every command.

    code  name         meaning
    ----  -----------  ------------------------------------------------------------
    0     OK           the command did what was asked
    1     INTEGRITY    verification found a bad entry, an uncovered tail under
                       ``--require-covered``, or a prune refused to erase on a ledger
                       that does not verify
    2     USAGE        bad options or arguments, an unreadable input file or config
    3     UNREACHABLE  the gateway or the database could not be reached
    4     DENIED       the gateway refused the caller (PERMISSION_DENIED,
                       UNAUTHENTICATED)
    5     REJECTED     the command ran, but some (or all) of its records were rejected
    6     FAILED       any other error reported by the gateway or the host (NOT_FOUND,
                       INVALID_ARGUMENT, FAILED_PRECONDITION, local I/O …)
    130   ABORTED      interrupted by the user (Ctrl-C)

Commands signal a non-zero outcome by raising :class:`CommandExit`, or an error the
entry point maps with :func:`for_status_name`; the entry point (``xinlian_cli.main.main``) is
the only place that turns them into the process exit status. Nothing here imports click
or gRPC.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTEGRITY = 1
    USAGE = 2
    UNREACHABLE = 3
    DENIED = 4
    REJECTED = 5
    FAILED = 6
    ABORTED = 130


class CommandExit(Exception):
    """Raised by a command that has printed its outcome and must end with ``code``."""

    def __init__(self, code: ExitCode, message: str = "") -> None:
        super().__init__(message or code.name)
        self.code = code
        self.message = message


_BY_STATUS = {
    "UNAVAILABLE": ExitCode.UNREACHABLE,
    "DEADLINE_EXCEEDED": ExitCode.UNREACHABLE,
    "PERMISSION_DENIED": ExitCode.DENIED,
    "UNAUTHENTICATED": ExitCode.DENIED,
    "DATA_LOSS": ExitCode.INTEGRITY,
}


def for_status_name(name: str) -> ExitCode:
    """The exit code for a gRPC status (or XinLian error status) given by its name."""
    return _BY_STATUS.get(name, ExitCode.FAILED)


__all__ = ["CommandExit", "ExitCode", "for_status_name"]
