"""Online backup of an embedded (SQLite) gateway store.

``backup_sqlite(db_path, out)`` copies a consistent snapshot of the database while the
gateway keeps serving, in these steps:

1. refuse an ``out`` that exists (a backup never overwrites anything) and create it
   with mode 0600 (it holds every record the gateway stores);
2. copy with SQLite's online backup API in ONE step: one read transaction, so the copy
   is the state of one snapshot (WAL content included). The store runs in WAL mode,
   where a reader does not block writers: the gateway keeps committing meanwhile. (A
   copy in several steps would restart from the beginning after every commit of the
   gateway and might never finish on a busy store.)
3. check the copy: ``PRAGMA integrity_check`` must answer ``ok``, and the copy's
   ledger head is read back;
4. fsync the file and its directory, so the backup survives a crash of the host right
   after the command returns.

A PostgreSQL store is backed up with PostgreSQL's own tools (``pg_basebackup`` with WAL
archiving, or ``pg_dump``); see docs/operations.md. The gateway home's keys are not in
the database and are backed up separately.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from xinlian.durable import fsync_path
from xinlian.errors import AlreadyExists, FailedPrecondition

BACKUP_ALL_PAGES = -1
"""``sqlite3.Connection.backup(pages=...)``: every page in one step (one snapshot)."""
BACKUP_FILE_MODE = 0o600


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    ledger_size: int


def backup_sqlite(db_path: Path, out: Path) -> BackupResult:
    """Steps (1)–(4) of the module docstring."""
    if not db_path.is_file():
        raise FailedPrecondition(f"no SQLite database at {db_path}", reason="NO_DATABASE")
    # (1) a new file, never an existing one
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, BACKUP_FILE_MODE)
    except FileExistsError:
        raise AlreadyExists(f"{out} exists; a backup never overwrites a file") from None
    os.close(fd)
    try:
        # (2) the online copy; read-only source, as the gateway's writers expect
        try:
            with (
                contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as source,
                contextlib.closing(sqlite3.connect(out)) as target,
            ):
                source.backup(target, pages=BACKUP_ALL_PAGES)
                # the copy is a plain rollback-journal file: no -wal beside it to lose
                target.execute("PRAGMA journal_mode=DELETE")
                # (3) the copy is whole and has a ledger
                (check,) = target.execute("PRAGMA integrity_check").fetchone()
                if check != "ok":
                    raise FailedPrecondition(
                        f"the copy failed SQLite's integrity check: {check}",
                        reason="BACKUP_CORRUPT",
                    )
                row = target.execute("SELECT size FROM ledger_head WHERE id = 1").fetchone()
        except sqlite3.Error as exc:
            raise FailedPrecondition(
                f"backup failed: {type(exc).__name__}: {exc}", reason="BACKUP_FAILED"
            ) from exc
        if row is None:
            raise FailedPrecondition(
                "the database has no ledger head (not a migrated gateway store)",
                reason="NO_LEDGER",
            )
        # (4) durable before we say so
        fsync_path(out)
        fsync_path(out.parent)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return BackupResult(out, out.stat().st_size, int(row[0]))
