"""What ``xinlian agent status`` shows: per configured category, the watermark, the
counts, the last run and last success, how many rows still wait at the source (where it
can tell), and the rejects by reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from node_agent.sync.config import SyncConfig
from node_agent.sync.watermark import SyncState


def status_data(config: SyncConfig, state: SyncState) -> dict[str, Any]:
    stats = state.stats()
    marks = state.watermarks()
    by_reason = state.rejects_by_reason()
    now = datetime.now(UTC)
    out: list[dict[str, Any]] = []
    for category in config.categories:
        row = stats.get(category.id, {})
        mark = marks.get(category.id)
        success = row.get("last_success_at")
        out.append(
            {
                "category": category.id,
                "source": category.source.kind,
                "watermark": None if mark is None else mark[0],
                "watermark_saved_at": None if mark is None else mark[1],
                "runs": row.get("runs", 0),
                "read": row.get("read", 0),
                "accepted": row.get("accepted", 0),
                "duplicates": row.get("duplicates", 0),
                "rejected": row.get("rejected", 0),
                "withdrawn": row.get("withdrawn", 0),
                "pending": row.get("pending"),
                "last_run_at": row.get("last_run_at"),
                "last_success_at": success,
                "seconds_since_success": None
                if not success
                else round((now - datetime.fromisoformat(success)).total_seconds(), 1),
                "last_error": row.get("last_error"),
                "rejects_by_reason": {
                    reason: n
                    for (cat, reason), n in sorted(by_reason.items())
                    if cat == category.id
                },
            }
        )
    return {"state": str(state.path), "categories": out}


def print_status(data: dict[str, Any]) -> None:
    for item in data["categories"]:
        click.echo(
            f"{item['category']} ({item['source']}): watermark {item['watermark']!s}, "
            f"read {item['read']}, accepted {item['accepted']}, duplicate {item['duplicates']}, "
            f"rejected {item['rejected']}, withdrawn {item['withdrawn']}"
        )
        click.echo(
            f"  last success {item['last_success_at'] or 'never'}; "
            f"waiting at the source {'unknown' if item['pending'] is None else item['pending']}"
        )
        if item["last_error"]:
            click.echo(f"  last error: {item['last_error']}")
        for reason, count in item["rejects_by_reason"].items():
            click.echo(f"  rejects {reason}: {count}")
