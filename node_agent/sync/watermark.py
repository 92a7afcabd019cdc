"""The agent's own state: one SQLite file in its state directory (``sync.db``).

* ``watermarks``: per category, how far the source has been read *and acknowledged*;
  written only after the gateway acknowledged every record the new value covers, in the
  same transaction as that page's rejects and counts (:meth:`SyncState.commit`);
* ``rejects``: the latest rejected version of each record id, with its reason and the
  source row; deleted when a later version (or the same, fixed) is accepted;
* ``withdrawals``: record ids flagged deleted at the source, by category;
* ``stats``: per category, the counts and times ``xinlian agent status`` shows.

Watermark values keep their source type (a time stays a time, an id an integer), so the
next query compares like with like.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from node_agent.push import ACCEPTED, DUPLICATE, REJECTED, RecordVerdict

STATE_FILE = "sync.db"
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watermarks (
  category TEXT PRIMARY KEY, value TEXT NOT NULL, saved_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rejects (
  category TEXT NOT NULL, record_id TEXT NOT NULL, version INTEGER, reason_code TEXT NOT NULL,
  message TEXT NOT NULL, source_row TEXT NOT NULL, source_key TEXT,
  first_at TEXT NOT NULL, last_at TEXT NOT NULL, event_time TEXT,
  PRIMARY KEY (category, record_id));
CREATE TABLE IF NOT EXISTS withdrawals (
  category TEXT NOT NULL, record_id TEXT NOT NULL, flagged_at TEXT NOT NULL,
  PRIMARY KEY (category, record_id));
CREATE TABLE IF NOT EXISTS stats (
  category TEXT PRIMARY KEY, runs INTEGER NOT NULL DEFAULT 0, read INTEGER NOT NULL DEFAULT 0,
  accepted INTEGER NOT NULL DEFAULT 0, duplicates INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0, withdrawn INTEGER NOT NULL DEFAULT 0,
  last_run_at TEXT, last_success_at TEXT, last_accepted_at TEXT, last_error TEXT,
  pending INTEGER);
"""


def encode_value(value: Any) -> str:
    """A watermark value as JSON that keeps its type."""
    if value is None:
        return json.dumps({"t": "none"})
    if isinstance(value, bool):
        return json.dumps({"t": "int", "v": int(value)})
    if isinstance(value, int):
        return json.dumps({"t": "int", "v": value})
    if isinstance(value, datetime):
        return json.dumps({"t": "datetime", "v": value.isoformat()})
    if isinstance(value, date):
        return json.dumps({"t": "date", "v": value.isoformat()})
    if isinstance(value, Decimal | float):
        return json.dumps({"t": "decimal", "v": str(value)})
    if isinstance(value, dict):
        return json.dumps({"t": "object", "v": value}, ensure_ascii=False)
    return json.dumps({"t": "str", "v": str(value)}, ensure_ascii=False)


def decode_value(text: str) -> Any:
    data = json.loads(text)
    kind, value = data["t"], data.get("v")
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "decimal":
        return Decimal(value)
    return None if kind == "none" else value


@dataclass(frozen=True)
class Reject:
    category: str
    record_id: str
    version: int | None
    reason_code: str
    message: str
    source_row: dict[str, Any]
    key: Any
    first_at: str
    last_at: str
    event_time: str | None = None


class SyncState:
    """The state file of one agent (see the module docstring)."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / STATE_FILE
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a saved watermark survives power loss
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def watermark(self, category: str) -> Any:
        row = self._db.execute(
            "SELECT value FROM watermarks WHERE category = ?", (category,)
        ).fetchone()
        return None if row is None else decode_value(row[0])

    def commit(
        self,
        category: str,
        watermark: Any,
        verdicts: Iterable[tuple[RecordVerdict, Any]],
        withdrawn: Iterable[str],
        now: datetime,
        *,
        read: int,
        move_watermark: bool = True,
    ) -> None:
        """Record one acknowledged page: its verdicts (with each row's watermark value),
        its withdrawals, the counts, and — in the same transaction — the new watermark."""
        at = now.isoformat()
        counts = {ACCEPTED: 0, DUPLICATE: 0, REJECTED: 0}
        gone = list(withdrawn)
        with self._tx() as db:
            # record ids of this category in the rejects store (usually none): only these
            # can be cleared by an accepted record
            held = {
                r[0]
                for r in db.execute(
                    "SELECT record_id FROM rejects WHERE category = ?", (category,)
                ).fetchall()
            }
            for verdict, key in verdicts:
                counts[verdict.outcome] += 1
                item = verdict.item
                record_id = str(item.original.get("_record_id", "")) or _record_id(verdict)
                if verdict.outcome == REJECTED:
                    held.add(record_id)
                    version = item.record.version if item.record is not None else None
                    db.execute(
                        "INSERT INTO rejects VALUES (?,?,?,?,?,?,?,?,?,?) "
                        "ON CONFLICT (category, record_id) DO UPDATE SET version=excluded.version,"
                        " reason_code=excluded.reason_code, message=excluded.message,"
                        " source_row=excluded.source_row, source_key=excluded.source_key,"
                        " last_at=excluded.last_at, event_time=excluded.event_time",
                        (
                            category,
                            record_id,
                            version,
                            verdict.reason_code,
                            verdict.message,
                            json.dumps(_row(item.original), ensure_ascii=False, default=str),
                            encode_value(key),
                            at,
                            at,
                            item.record.event_time.isoformat()
                            if item.record
                            else item.original.get("_event_time"),
                        ),
                    )
                elif record_id in held:
                    db.execute(
                        "DELETE FROM rejects WHERE category = ? AND record_id = ?",
                        (category, record_id),
                    )
            for record_id in gone:
                db.execute(
                    "INSERT OR REPLACE INTO withdrawals VALUES (?,?,?)", (category, record_id, at)
                )
                db.execute(
                    "DELETE FROM rejects WHERE category = ? AND record_id = ?",
                    (category, record_id),
                )
            if move_watermark:
                db.execute(
                    "INSERT INTO watermarks VALUES (?,?,?) ON CONFLICT (category) DO UPDATE"
                    " SET value=excluded.value, saved_at=excluded.saved_at",
                    (category, encode_value(watermark), at),
                )
            self._ensure_stats(db, category)
            db.execute(
                "UPDATE stats SET read=read+?, accepted=accepted+?, duplicates=duplicates+?,"
                " rejected=rejected+?, withdrawn=withdrawn+?, last_success_at=?,"
                " last_accepted_at=CASE WHEN ?>0 THEN ? ELSE last_accepted_at END"
                " WHERE category=?",
                (
                    read,
                    counts[ACCEPTED],
                    counts[DUPLICATE],
                    counts[REJECTED],
                    len(gone),
                    at,
                    counts[ACCEPTED],
                    at,
                    category,
                ),
            )

    def finish_run(
        self, category: str, now: datetime, error: str | None, pending: int | None
    ) -> None:
        """One run of a category ended (``error``: why it stopped early)."""
        with self._tx() as db:
            self._ensure_stats(db, category)
            db.execute(
                "UPDATE stats SET runs=runs+1, last_run_at=?, last_error=?, pending=?"
                " WHERE category=?",
                (now.isoformat(), error, pending, category),
            )

    @staticmethod
    def _ensure_stats(db: sqlite3.Connection, category: str) -> None:
        db.execute("INSERT OR IGNORE INTO stats (category) VALUES (?)", (category,))

    def stats(self) -> dict[str, dict[str, Any]]:
        cursor = self._db.execute("SELECT * FROM stats ORDER BY category")
        names = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}

    def rejects(self, category: str | None = None) -> list[Reject]:
        sql = "SELECT * FROM rejects"
        args: tuple[str, ...] = ()
        if category is not None:
            sql, args = sql + " WHERE category = ?", (category,)
        rows = self._db.execute(sql + " ORDER BY category, record_id", args).fetchall()
        return [
            Reject(
                r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), decode_value(r[6]), r[7], r[8], r[9]
            )
            for r in rows
        ]

    def rejects_by_reason(self) -> dict[tuple[str, str], int]:
        rows = self._db.execute(
            "SELECT category, reason_code, count(*) FROM rejects GROUP BY category, reason_code"
        ).fetchall()
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def withdrawals(self, category: str) -> list[str]:
        rows = self._db.execute(
            "SELECT record_id FROM withdrawals WHERE category = ? ORDER BY record_id", (category,)
        ).fetchall()
        return [r[0] for r in rows]

    def watermarks(self) -> dict[str, tuple[Any, str]]:
        rows = self._db.execute("SELECT category, value, saved_at FROM watermarks").fetchall()
        return {r[0]: (decode_value(r[1]), r[2]) for r in rows}


def _record_id(verdict: RecordVerdict) -> str:
    record = verdict.item.record
    return record.record_id if record is not None else ""


def _row(original: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in original.items() if not k.startswith("_")}
