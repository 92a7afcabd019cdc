"""ledger_entries: on SQLite the indexed columns become VIRTUAL generated columns of the
body (or of ``summary``, the body's seven keys once retention pruned it) and idx a
rowid alias; PostgreSQL gets the nullable ``summary`` column only (always NULL there)

Revision ID: 0004
Revises: 0003
"""

import sqlite3

import sqlalchemy as sa
from alembic import op

from gateway.store.ledger_ddl import SQLITE_LEDGER_TABLE_0004
from xinlian.errors import FailedPrecondition

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# the indexed columns of both revisions (stored in 0003, generated in 0004)
_COLUMNS = ("action", "actor", "credit_code", "outcome", "trace_id", "subject", "time_us")
_INDEXES = {
    "ix_ledger_credit_code": "credit_code",
    "ix_ledger_actor": "actor",
    "ix_ledger_action": "action",
    "ix_ledger_time": "time_us",
    "ix_ledger_subject": "subject",
}
MIN_SQLITE = (3, 31, 0)
"""The first SQLite with generated columns."""
_OLD = "ledger_entries_0003"
_NEW = "ledger_entries_0004"

# time_us formatted as the body writes ``time`` (YYYY-MM-DDTHH:MM:SS.ffffffZ); whole
# seconds by floor division, so times before 1970 format as well
_MICROS = "((time_us % 1000000 + 1000000) % 1000000)"
_TIME_TEXT = (
    f"strftime('%Y-%m-%dT%H:%M:%S', (time_us - {_MICROS}) / 1000000, 'unixepoch') "
    f"|| '.' || substr(1000000 + {_MICROS}, 2) || 'Z'"
)
_SUMMARY_FROM_COLUMNS = (
    "json_object('action', action, 'actor', actor, 'credit_code', credit_code, "
    "'outcome', outcome, 'trace_id', trace_id, 'subject', subject, "
    f"'time', {_TIME_TEXT})"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.add_column("ledger_entries", sa.Column("summary", sa.Text(), nullable=True))
        return
    bind = op.get_bind()
    # (0) an SQLite that knows generated columns
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        want = ".".join(map(str, MIN_SQLITE))
        raise FailedPrecondition(
            f"sqlite: got version {sqlite3.sqlite_version}, want {want} or later "
            "(generated columns); nothing was migrated",
            reason="SQLITE_TOO_OLD",
        )
    # (1) the 0003 table steps aside, with its indexes dropped (their names are reused)
    for name in _INDEXES:
        op.drop_index(name, table_name="ledger_entries")
    op.rename_table("ledger_entries", _OLD)
    # (2) the new table, under its final name (so its stored definition is verbatim)
    op.execute(SQLITE_LEDGER_TABLE_0004)
    # (3) copy: a row with a body keeps only it; a pruned row gets its summary from its
    # stored columns. A body the new columns cannot be read from is refused.
    try:
        bind.exec_driver_sql(
            f"INSERT INTO ledger_entries (idx, leaf_hash, body, summary) "
            f"SELECT idx, leaf_hash, body, "
            f"CASE WHEN body IS NULL THEN {_SUMMARY_FROM_COLUMNS} END "
            f"FROM {_OLD} ORDER BY idx"
        )
    except sa.exc.DBAPIError as exc:
        where = _first_unreadable(bind)
        raise FailedPrecondition(
            f"{where}: the stored body cannot be read as an entry ({exc.orig}); "
            "run xinlian audit verify; nothing was migrated",
            reason="LEDGER_UNREADABLE",
        ) from exc
    # (4) every generated column says what the stored one said: an edited column is
    # refused here, not silently replaced by the body's value
    _refuse_changed_columns(bind)
    op.drop_table(_OLD)
    for name, column in _INDEXES.items():
        op.create_index(name, "ledger_entries", [column])


def _first_unreadable(bind: sa.Connection) -> str:
    """The first entry the copy refused, named for the error: a body that is not a JSON
    object, or lacks a key a NOT NULL column is read from, or whose time is no date."""
    required = " OR ".join(
        f"json_extract(j, '$.{key}') IS NULL"
        for key in ("action", "actor", "outcome", "trace_id", "time")
    )
    idx = bind.exec_driver_sql(
        f"SELECT idx FROM (SELECT idx, CAST(body AS TEXT) AS j FROM {_OLD} "
        "WHERE body IS NOT NULL) "
        f"WHERE NOT json_valid(j) OR json_type(j) IS NOT 'object' OR {required} "
        "OR strftime('%s', substr(json_extract(j, '$.time'), 1, 19)) IS NULL "
        "ORDER BY idx LIMIT 1"
    ).scalar()
    return f"ledger entry {idx}" if idx is not None else "ledger_entries"


def _refuse_changed_columns(bind: sa.Connection) -> None:
    differs = " OR ".join(f"o.{c} IS NOT n.{c}" for c in _COLUMNS)
    old = ", ".join(f"o.{c}" for c in _COLUMNS)
    new = ", ".join(f"n.{c}" for c in _COLUMNS)
    row = bind.exec_driver_sql(
        f"SELECT o.idx, {old}, {new} FROM {_OLD} o "
        f"LEFT JOIN ledger_entries n ON n.idx = o.idx "
        f"WHERE n.idx IS NULL OR {differs} ORDER BY o.idx LIMIT 1"
    ).first()
    if row is None:
        return
    idx, values = row[0], row[1:]
    n = len(_COLUMNS)
    column, got, want = next(
        (c, values[i], values[n + i]) for i, c in enumerate(_COLUMNS) if values[i] != values[n + i]
    )
    raise FailedPrecondition(
        f"ledger entry {idx}: {column}: got {got!r} (stored), want {want!r} (from the "
        "entry); run xinlian audit verify; nothing was migrated",
        reason="LEDGER_COLUMN_MISMATCH",
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("ledger_entries", "summary")
        return
    # (1) the 0004 table steps aside; (2) the 0003 table, stored columns filled from
    # the generated values; (3) its indexes
    for name in _INDEXES:
        op.drop_index(name, table_name="ledger_entries")
    op.rename_table("ledger_entries", _NEW)
    op.create_table(
        "ledger_entries",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("trace_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("idx"),
    )
    columns = ", ".join(("idx", "leaf_hash", "body", *_COLUMNS))
    op.execute(f"INSERT INTO ledger_entries ({columns}) SELECT {columns} FROM {_NEW} ORDER BY idx")
    op.drop_table(_NEW)
    for name, column in _INDEXES.items():
        op.create_index(name, "ledger_entries", [column])
