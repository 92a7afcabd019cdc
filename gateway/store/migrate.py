"""Alembic, driven programmatically: upgrade, current revision, head revision.

Every replica may run ``xinlian gateway migrate`` as it starts (a compose one-shot job,
a Kubernetes Job, a systemd ``ExecStartPre``), so runs overlap. An upgrade or downgrade
therefore runs in ONE write transaction holding the migration lock from its first
statement (``Dialect.migration_lock``: a transaction-scoped PostgreSQL advisory lock on
``MIGRATION_LOCK_KEY``; SQLite: the database write lock of ``BEGIN IMMEDIATE``). A
second run waits, then reads the revision the first committed and has nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from gateway.store.dialect import dialect_by_name

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK_KEY = 0x58494E4C49414E  # "XINLIAN" in ASCII: the advisory lock's bigint key


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have exactly one head, found {heads}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    _locked(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _locked(engine, command.downgrade, revision)


def _locked(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    """Run ``step`` to ``revision`` in one write transaction under the migration lock."""
    config = alembic_config()
    dialect = dialect_by_name(engine.dialect.name)
    with engine.connect().execution_options(**dialect.write_options) as conn, conn.begin():
        # (1) the lock first: Alembic reads the current revision only once it is held
        dialect.migration_lock(conn, MIGRATION_LOCK_KEY)
        # (2) the steps, in this transaction (env.py runs on the connection handed in)
        config.attributes["connection"] = conn
        step(config, revision)
