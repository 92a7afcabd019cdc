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
    return "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"


def _statement(mark: str, n: int) -> str:
    """One SQL text per (driver, number of categories), run as driver SQL: the hot read
    skips statement compilation and IN-list expansion."""
    stmt = _statements.get((mark, n))
    if stmt is None:
        marks = ", ".join([mark] * n)
        stmt = (
            "SELECT id, source_node_id, record_id, version, category, event_time_us, fields "
            f"FROM records WHERE credit_code = {mark} AND category IN ({marks})"
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
    params = (credit_code, *categories)
    best: dict[tuple[str, str], Any] = {}
    for row in conn.exec_driver_sql(_statement(placeholder(conn), len(categories)), params):
        key = (row.source_node_id, row.record_id)
        seen = best.get(key)
        if seen is None or row.version > seen.version:
            best[key] = row
    ordered = sorted(best.values(), key=lambda r: (-r.event_time_us, r.source_node_id, r.record_id))
    parsed = parsed or ParsedFields()
    counts: dict[str, int] = {}
    out: list[StoredRecord] = []
    for row in ordered:
        n = counts.get(row.category, 0)
        if n >= per_category:
            continue
        counts[row.category] = n + 1
        out.append(
            StoredRecord(
                pk=int(row.id),
                source_node_id=row.source_node_id,
                record_id=row.record_id,
                version=int(row.version),
                credit_code=credit_code,
                category=row.category,
                event_time=from_us(row.event_time_us),
                fields=parsed.get(int(row.id), row.fields),
            )
        )
    return out
