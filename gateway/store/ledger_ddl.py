"""The SQLite table ``ledger_entries``: indexed columns generated from the hashed body.

From revision 0004 on, SQLite stores only ``idx``, ``leaf_hash``, ``body`` and, for a
row whose body retention pruned, ``summary`` (a JSON object with the body's seven keys
``SUMMARY_KEYS``). The seven indexed columns (``INDEXED_COLUMNS``) are VIRTUAL generated
columns read from ``coalesce(body, summary)``, so they cannot say anything the body
does not; writing them is refused by SQLite. ``gateway.verify`` checks this holds by
comparing the table's stored definition (``sqlite_master.sql``) with
``SQLITE_LEDGER_TABLE``. PostgreSQL keeps stored columns (written by the committer,
checked by verify in SQL) and a ``summary`` column that stays NULL.

Each revision that defines the table has its own constant, spelled out in full and
never edited afterwards (its migration imports it); ``SQLITE_LEDGER_TABLE`` names the
one of the current head. ``tests/ledger/test_ledger_ddl.py`` checks it against a freshly
migrated database.
"""

from __future__ import annotations

import re

INDEXED_COLUMNS = ("action", "actor", "credit_code", "outcome", "trace_id", "subject", "time_us")
"""The columns officers' searches read through indexes."""
SUMMARY_KEYS = ("action", "actor", "credit_code", "outcome", "trace_id", "subject", "time")
"""The body's keys kept in ``summary`` when retention prunes the body (SQLite)."""
DIFFERENCE_CONTEXT = 40
"""Characters shown on each side of the first difference in a changed definition."""

# Revision 0004. FROZEN: a later revision that changes the table adds its own constant.
# ``time`` is always ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (audit.entry): whole seconds from
# the date functions (proleptic Gregorian, years 0001-9999, negative before 1970) plus
# the six digits of microseconds. CAST(... AS TEXT): SQLite >= 3.45 reads a BLOB
# argument of json_extract as JSONB.
SQLITE_LEDGER_TABLE_0004 = """
CREATE TABLE ledger_entries (
    idx INTEGER NOT NULL PRIMARY KEY,
    leaf_hash BLOB NOT NULL,
    body BLOB,
    summary TEXT,
    action VARCHAR(32) NOT NULL GENERATED ALWAYS AS
        (json_extract(CAST(coalesce(body, summary) AS TEXT), '$.action')) VIRTUAL,
    actor VARCHAR(64) NOT NULL GENERATED ALWAYS AS
        (json_extract(CAST(coalesce(body, summary) AS TEXT), '$.actor')) VIRTUAL,
    credit_code VARCHAR(18) GENERATED ALWAYS AS
        (json_extract(CAST(coalesce(body, summary) AS TEXT), '$.credit_code')) VIRTUAL,
    outcome VARCHAR(16) NOT NULL GENERATED ALWAYS AS
        (json_extract(CAST(coalesce(body, summary) AS TEXT), '$.outcome')) VIRTUAL,
    trace_id VARCHAR(64) NOT NULL GENERATED ALWAYS AS
        (json_extract(CAST(coalesce(body, summary) AS TEXT), '$.trace_id')) VIRTUAL,
    subject VARCHAR(128) GENERATED ALWAYS AS
        (json_extract(CAST(coalesce(body, summary) AS TEXT), '$.subject')) VIRTUAL,
    time_us BIGINT NOT NULL GENERATED ALWAYS AS (
        CAST(strftime('%s', substr(json_extract(CAST(coalesce(body, summary) AS TEXT),
                                                '$.time'), 1, 19)) AS INTEGER) * 1000000
        + CAST(substr(json_extract(CAST(coalesce(body, summary) AS TEXT), '$.time'), 21, 6)
               AS INTEGER)) VIRTUAL
)
"""

SQLITE_LEDGER_TABLE = SQLITE_LEDGER_TABLE_0004
"""The definition at the current head revision: what verify expects."""

_SPACES = re.compile(r"\s+")


def normalized(sql: str) -> str:
    """A table definition from its first ``(`` on (``ALTER TABLE … RENAME`` rewrites the
    name before it), whitespace collapsed to single spaces."""
    start = sql.find("(")
    return _SPACES.sub(" ", sql[start:] if start >= 0 else sql).strip()


def definition_difference(found: str | None, want: str = SQLITE_LEDGER_TABLE) -> str | None:
    """None if ``found`` (``sqlite_master.sql`` of the table, None if there is no such
    table) is ``want`` once normalized; else ``got X, want Y`` around the first
    character that differs."""
    if found is None:
        return "got no table, want the table with generated columns"
    got, expected = normalized(found), normalized(want)
    if got == expected:
        return None
    at = next(
        (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
        min(len(got), len(expected)),
    )
    start = max(0, at - DIFFERENCE_CONTEXT)
    end = at + DIFFERENCE_CONTEXT
    return f"got '…{got[start:end]}…', want '…{expected[start:end]}…'"
