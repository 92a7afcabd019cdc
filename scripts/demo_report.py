"""The demo's monthly report (月度通报, docs/report.md), run by scripts/demo.py last:

17. the market-regulation department pushes two fresh penalties, one decided yesterday
    (in time) and one decided 30 days ago (7 working days: late); the security officer
    writes this month's report (HTML with charts, CSV tables, JSON) under var/report/
    and the demo prints where, with the month's summary.

The month is the current one in Asia/Shanghai (the demo gateway runs on the real
clock). A month whose year the working-day calendar does not have is refused by the
gateway; the step then says what to add and is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

Xl = Callable[..., str]

CHINA = timezone(timedelta(hours=8))
LATE_DAYS = 30  # older than any penalty's 7 working days, even across 春节


def _fresh_penalties(demo: Path, now: datetime) -> Path:
    """Two penalties from the demo's sample file, decided yesterday and LATE_DAYS ago."""
    sample = json.loads(
        (demo / "data" / "admin_penalty.jsonl").read_text(encoding="utf-8").splitlines()[0]
    )
    lines = []
    for suffix, days in (("timely", 1), ("late", LATE_DAYS)):
        event = (now - timedelta(days=days)).astimezone(UTC)
        record = dict(
            sample,
            record_id=f"penalty-{now:%Y%m}-{suffix}",
            version=1,
            event_time=event.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        lines.append(json.dumps(record, ensure_ascii=False))
    path = demo / "data" / "admin_penalty-fresh.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def report_section(
    xl: Xl, banner: Callable[[str], None], identity: Callable[[str], str], demo: Path
) -> None:
    """Step 17; see the module docstring."""
    from xinlian.workdays import load_calendar

    now = datetime.now(CHINA)
    month = f"{now:%Y-%m}"
    banner(f"25. 月度通报: the security officer's monthly report for {month}")
    years = load_calendar().years
    if now.year not in years or (now - timedelta(days=LATE_DAYS)).year not in years:
        print(
            f"(skipped: no working-day calendar for {now.year}; add {now.year}.json as "
            "docs/workdays.md says, then run the demo again)"
        )
        return
    fresh = _fresh_penalties(demo, now)
    xl(
        "agent",
        "push",
        "--identity",
        identity("amr-fj"),
        "--category",
        "admin_penalty",
        str(fresh),
    )
    out = demo.parent / "report" / month
    xl(
        "report",
        "monthly",
        "--identity",
        identity("officer-1"),
        "--month",
        month,
        "--out",
        str(out),
    )
    document = json.loads((out / "statistics.json").read_text(encoding="utf-8"))
    summary = next(t for t in document["tables"] if t["name"] == "summary")
    for _metric, label, value in summary["rows"]:
        print(f"  {label}: {value}")
    print(f"report: {out / 'report.html'} (CSV tables and statistics.json beside it)")
