"""Step (1), the indexed columns: that each ledger row's action, actor, outcome, trace id,
credit code, subject and time say what its body says (SQLite: the table definition;
PostgreSQL: a check in the engine, its candidates re-checked in Python)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from gateway.store import schema
from gateway.store.db import Store
from gateway.store.dialect import dialect_of
from gateway.store.ledger_ddl import definition_difference
from gateway.store.timeutil import from_us
from gateway.verify.report import CANDIDATE_CHUNK, ROW_CHUNK, Problem, VerifyReport

# The indexed-column check in the database engine (PostgreSQL; SQLite generates the
# columns from the body): the indices of the rows whose columns may not say what their
# body says (a superset: each is re-checked in Python). Per row, the body's values of
# the seven keys, as a JSON array, must equal the array of the column values (the time
# column formatted as the body writes it). Both sides are JSON values made by the same
# engine, so equal arrays mean equal values; a value the engine merely spells
# differently only costs a Python re-check. A body the engine cannot parse makes the
# query fail: every row is then checked in Python.
_POSTGRES_COLUMN_CANDIDATES = """
SELECT e.idx FROM ledger_entries e
CROSS JOIN LATERAL (SELECT convert_from(e.body, 'UTF8')::jsonb AS j) b
WHERE e.body IS NOT NULL
  AND jsonb_build_array(b.j -> 'action', b.j -> 'actor', b.j -> 'outcome',
                        b.j -> 'trace_id', b.j -> 'credit_code', b.j -> 'subject',
                        b.j -> 'time')
  IS DISTINCT FROM
      jsonb_build_array(e.action, e.actor, e.outcome, e.trace_id, e.credit_code, e.subject,
                        to_char(TIMESTAMP '1970-01-01' + e.time_us * INTERVAL '1 microsecond',
                                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
"""


def _columns_generated(conn: Connection, report: VerifyReport) -> bool:
    """(a) True if the engine generates the indexed columns from each row's body (or
    ``summary``): on SQLite, when ``ledger_entries`` is defined exactly as
    ``ledger_ddl.SQLITE_LEDGER_TABLE``. A SQLite table defined otherwise is reported
    (``SCHEMA_CHANGED``) and False returned, so every row's columns are checked."""
    if not dialect_of(conn).columns_generated:
        return False
    found = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger_entries'"
    ).scalar()
    difference = definition_difference(found)
    if difference is None:
        return True
    report.add(
        Problem(
            "ledger",
            "SCHEMA_CHANGED",
            f"table ledger_entries: {difference} (its indexed columns are not generated "
            "from the entries; every row's columns are checked instead)",
            index=None,
        )
    )
    return False


def _column_candidates_on(store: Store) -> list[int] | None:
    """(a) on a connection of its own: a read snapshot taken just after the caller's.
    The ledger is append-only, so the rows the scan checks are the same ones (a body
    pruned in between is skipped here and still hash-checked by the scan)."""
    with store.snapshot() as conn:
        return _column_candidates(conn)


def _column_candidates(conn: Connection) -> list[int] | None:
    """(a) the indices the engine finds suspicious, or None if it cannot tell (a body
    it cannot parse, an engine without the query: SQLite, whose table was changed):
    then every row is checked in Python."""
    if dialect_of(conn).columns_generated:
        return None
    query = _POSTGRES_COLUMN_CANDIDATES
    errors = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.cursor()
    try:
        cursor.execute("SAVEPOINT verify_columns")
        try:
            cursor.execute(query)
            found = sorted(int(idx) for (idx,) in cursor.fetchall())
        except errors:
            cursor.execute("ROLLBACK TO SAVEPOINT verify_columns")
            found = None
        cursor.execute("RELEASE SAVEPOINT verify_columns")
        return found
    finally:
        cursor.close()


def _check_columns(
    conn: Connection,
    report: VerifyReport,
    end: int,
    bad_leaf: set[int],
    candidates: list[int] | None,
) -> None:
    """(c) the indexed columns of each candidate row (all rows if ``candidates`` is None)
    before ``end``, whose body hashed right, say what the body says."""
    t = schema.ledger_entries.c
    columns = (
        t.idx,
        t.leaf_hash,
        t.body,
        t.action,
        t.actor,
        t.outcome,
        t.trace_id,
        t.credit_code,
        t.subject,
        t.time_us,
    )
    check = _ColumnCheck()
    if candidates is None:
        queries = [
            select(*columns).where(t.idx >= start, t.idx < min(end, start + ROW_CHUNK))
            for start in range(0, end, ROW_CHUNK)
        ]
    else:
        wanted = [idx for idx in candidates if 0 <= idx < end and idx not in bad_leaf]
        queries = [
            select(*columns).where(t.idx.in_(wanted[i : i + CANDIDATE_CHUNK]))
            for i in range(0, len(wanted), CANDIDATE_CHUNK)
        ]
    for query in queries:
        for row in conn.execute(query.order_by(t.idx)):
            idx, body = int(row[0]), row[2]
            if body is None or idx in bad_leaf:
                continue
            bad = check.mismatch(bytes(body), row)
            if bad:
                report.add(
                    Problem(
                        "ledger",
                        "COLUMN_MISMATCH",
                        f"entry {idx}: indexed column {bad} differs from the entry",
                        index=idx,
                    )
                )


def _quote(value: str | None) -> str:
    """``json.dumps(value, ensure_ascii=False)``, with a fast path for plain text."""
    if value is None:
        return "null"
    if value.isprintable() and '"' not in value and "\\" not in value:
        return '"' + value + '"'
    return json.dumps(value, ensure_ascii=False)


class _ColumnCheck:
    """Compares a row's indexed columns with its canonical entry bytes without parsing.

    Canonical entry JSON has its keys sorted, no spaces, and strings escaped (so no
    unescaped quote inside a value). Hence the bytes *start* with
    ``{"action":A,"actor":B,"actor_kind":`` and *end* with
    ``,"outcome":O,"subject":S,"time":T,"trace_id":R,"v":1}``; the first
    ``,"credit_code":`` after the prefix is the top-level key (``details`` comes later)
    and is followed by the credit code and ``,"details":``. Anything else is a mismatch;
    the slow path (``json.loads``) then names the column.
    """

    MAX_TIME_CACHE = 4096
    MAX_QUOTE_CACHE = 4096

    def __init__(self) -> None:
        self._seconds: dict[int, str] = {}
        self._quotes: dict[str | None, str] = {}

    def _time(self, time_us: int) -> str:
        seconds, micros = divmod(time_us, 1_000_000)
        text = self._seconds.get(seconds)
        if text is None:
            if len(self._seconds) >= self.MAX_TIME_CACHE:
                self._seconds.clear()
            text = _entry_time(seconds * 1_000_000)[:19]
            self._seconds[seconds] = text
        return f"{text}.{micros:06d}Z"

    def _quoted(self, value: str | None) -> str:
        """``_quote`` for values that repeat (actions, actors, outcomes, codes), cached."""
        text = self._quotes.get(value)
        if text is None:
            if len(self._quotes) >= self.MAX_QUOTE_CACHE:
                self._quotes.clear()
            text = self._quotes[value] = _quote(value)
        return text

    def mismatch(self, body: bytes, row: Any) -> str | None:
        _, _, _, action, actor, outcome, trace_id, code, subject, time_us = row
        quoted = self._quoted
        head = '{"action":' + quoted(action) + ',"actor":' + quoted(actor) + ',"actor_kind":'
        tail = (
            ',"outcome":'
            + quoted(outcome)
            + ',"subject":'
            + _quote(subject)
            + ',"time":"'
            + self._time(time_us)
            + '","trace_id":'
            + _quote(trace_id)
            + ',"v":1}'
        )
        prefix, suffix = head.encode(), tail.encode()
        if body.startswith(prefix) and body.endswith(suffix):
            at = body.find(b',"credit_code":', len(prefix))
            value = (quoted(code) + ',"details":').encode()
            if at >= 0 and body.startswith(value, at + 15):
                return None
        return _slow_mismatch(body, row)


def _entry_time(time_us: int) -> str:
    """``time_us`` as an entry's body writes its time (``audit.entry``: ISO 8601, four
    digit years even below 1000, which ``strftime("%Y")`` does not pad on glibc)."""
    naive = from_us(time_us).replace(tzinfo=None)
    return naive.isoformat(timespec="microseconds") + "Z"


def _slow_mismatch(body: bytes, row: Any) -> str:
    """Name the first indexed column that does not say what the body says."""
    _, _, _, action, actor, outcome, trace_id, code, subject, time_us = row
    try:
        obj = json.loads(body)
    except ValueError:
        return "body (not JSON)"
    if not isinstance(obj, dict):
        return "body (not an object)"
    named = {
        "action": action,
        "actor": actor,
        "outcome": outcome,
        "trace_id": trace_id,
        "credit_code": code,
        "subject": subject,
        "time": _entry_time(int(time_us)),
    }
    for name, value in named.items():
        if obj.get(name) != value:
            return name
    return "body (not canonical)"


# --------------------------------------------------------------------------- (5) + (6)
