"""The query path's read of stored records: the latest version of each record.

Per (source_node_id, record_id) only the highest version is current (a correction is a
new version). Rows of the ``records`` table never change once written, so the parsed
``fields`` of a row are kept in a bounded per-process cache keyed by the row's primary
key: a repeated query parses no JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from gateway.store.dialect import dialect_of
from gateway.store.timeutil import from_us

MAX_RECORDS_PER_CATEGORY = 20  # newest first; bounds the response and the ledger entry
MAX_PARSED_CACHE = 50_000


@dataclass(frozen=True)
class StoredRecord:
    pk: int
    source_node_id: str
    record_id: str
    version: int
    credit_code: str
    category: str
    event_time: datetime
    fields: dict[str, str]


class ParsedFields:
    """Parsed ``fields`` by record primary key, for ONE database (one per Runtime)."""

    def __init__(self, max_entries: int = MAX_PARSED_CACHE) -> None:
        self.max_entries = max_entries
        self._data: dict[int, dict[str, str]] = {}

    def get(self, pk: int, text: str) -> dict[str, str]:
        cached = self._data.get(pk)
        if cached is None:
            loaded: Any = json.loads(text)
            cached = (
                {str(k): v for k, v in loaded.items() if isinstance(v, str)}
                if isinstance(loaded, dict)
                else {}
            )
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[pk] = cached
        return cached


_statements: dict[tuple[str, int], str] = {}


def placeholder(conn: Connection) -> str:
    """The driver's positional parameter marker (SQLite ``?``, psycopg ``%s``)."""
    return dialect_of(conn).placeholder


def driver_cursor(conn: Connection) -> Any:
    """A cursor of the driver connection under ``conn``, in ``conn``'s transaction: the
    hot statements skip SQLAlchemy's per-statement work (close it after use)."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _statement(mark: str, n: int) -> str:
    """One SQL text per (driver, number of categories), run on the driver's cursor: the
    hot read skips statement compilation and IN-list expansion. The WHERE clause is the
    index ``ix_records_code_category`` (credit_code, category)."""
    stmt = _statements.get((mark, n))
    if stmt is None:
        marks = ", ".join([mark] * n)
        # NOT EXISTS: a version superseded by a higher one is never read, even when the
        # higher version moved the record to another enterprise or category (a
        # correction); the probe is the unique index (source_node_id, record_id, version).
        stmt = (
            "SELECT id, source_node_id, record_id, version, category, event_time_us, fields "
            f"FROM records r WHERE credit_code = {mark} AND category IN ({marks}) "
            "AND r.withdrawn_at_us IS NULL "  # withdrawn in answer to an objection
            "AND NOT EXISTS (SELECT 1 FROM records n WHERE n.source_node_id = r.source_node_id "
            "AND n.record_id = r.record_id AND n.version > r.version)"
        )
        _statements[(mark, n)] = stmt
    return stmt


def latest_records(
    conn: Connection,
    credit_code: str,
    categories: Sequence[str],
    *,
    parsed: ParsedFields | None = None,
    per_category: int = MAX_RECORDS_PER_CATEGORY,
) -> list[StoredRecord]:
    """The current version of each record of ``categories``, newest event first, at most
    ``per_category`` of each category."""
    if not categories:
        return []
    cursor = driver_cursor(conn)
    try:
        cursor.execute(_statement(placeholder(conn), len(categories)), (credit_code, *categories))
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    finally:
        cursor.close()
    # row: (id, source_node_id, record_id, version, category, event_time_us, fields)
    best: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in rows:
        key = (row[1], row[2])
        seen = best.get(key)
        if seen is None or row[3] > seen[3]:
            best[key] = row
    ordered = sorted(best.values(), key=lambda r: (-r[5], r[1], r[2]))
    parsed = parsed or ParsedFields()
    counts: dict[str, int] = {}
    out: list[StoredRecord] = []
    for pk, source, record_id, version, category, event_time_us, fields in ordered:
        n = counts.get(category, 0)
        if n >= per_category:
            continue
        counts[category] = n + 1
        out.append(
            StoredRecord(
                pk=int(pk),
                source_node_id=source,
                record_id=record_id,
                version=int(version),
                credit_code=credit_code,
                category=category,
                event_time=from_us(event_time_us),
                fields=parsed.get(int(pk), fields),
            )
        )
    return out
