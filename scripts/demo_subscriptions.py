"""The demo's subscription steps (scripts/demo.py runs them after the objections):

17. loan monitoring (获贷企业动态监测): the enterprise grants the bank post-loan use; the
    bank subscribes to risk-marked events of the enterprises it holds grants for; the
    market-regulation department pushes a new administrative penalty; the bank's pull
    receives it masked by the query policy and marked as a risk signal;
18. batch push (批量推送): the bank subscribes to registration records of Fujian (35)
    in one industry section, with a backfill from before the demo's pushes, and
    receives exactly those; the officer lists every subscription with its lag.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

Xl = Callable[..., str]
REGION = "35"  # 福建省
BACKFILL_MINUTES = 30


def subscriptions_section(
    xl: Xl, banner: Callable[[str], None], identity: Callable[[str], str], demo: Path, code: str
) -> None:
    platform, bank, amr = (identity(n) for n in ("fz-platform", "bank-cib", "amr-fj"))
    key = str(demo / "enterprise" / "enterprise.key")
    out = demo / "subscriptions"

    banner("18. Loan monitoring (获贷企业动态监测): a post-loan grant, a risk-signal subscription")
    xl(
        "grant", "create", "--identity", platform, "--enterprise-key", key,
        "--credit-code", code, "--grantee", "bank-cib", "--category", "tax",
        "--category", "admin_penalty", "--purpose", "post_loan", "--days", "365",
        capture=True,
    )  # fmt: skip
    created = json.loads(
        xl(
            "subscribe",
            "create",
            "--identity",
            bank,
            "--kind",
            "monitoring",
            "--marked-only",
            "--json",
            capture=True,
        )
    )
    monitoring = created["subscription_id"]
    print(f"  bank-cib: monitoring subscription {monitoring} ({', '.join(created['categories'])})")

    banner("18a. The market-regulation department pushes a new penalty of the enterprise")
    penalty = _new_penalty(demo, code)
    path = demo / "data" / "admin_penalty-new.jsonl"
    path.write_text(json.dumps(penalty, ensure_ascii=False) + "\n", encoding="utf-8")
    xl("agent", "push", "--identity", amr, "--category", "admin_penalty", str(path))

    banner("18b. The bank pulls its monitoring subscription: the penalty, as a risk signal")
    xl("subscribe", "pull", "--identity", bank, "--subscription", monitoring,
       "--out", str(out / "monitoring"))  # fmt: skip
    events = _events(out / "monitoring")
    signal = next((e for e in events if e["record_id"] == penalty["record_id"]), None)
    if signal is None or not signal["signals"]:
        raise SystemExit("demo step failed: the monitoring subscription missed the penalty")
    for s in signal["signals"]:
        print(f"  风险信号 {s['label_zh']} ({s['rule']}, severity {s['severity']}): "
              f"{signal['record_id']}, ledger-recorded delivery")  # fmt: skip

    banner("19. Batch push (批量推送): registrations of one region and industry")
    industry = _industry_of(demo, code)
    since = (datetime.now(UTC) - timedelta(minutes=BACKFILL_MINUTES)).isoformat()
    created = json.loads(
        xl(
            "subscribe",
            "create",
            "--identity",
            bank,
            "--kind",
            "batch",
            "--category",
            "registration",
            "--region",
            REGION,
            "--industry",
            industry[:1],
            "--backfill-from",
            since,
            "--json",
            capture=True,
        )
    )
    batch = created["subscription_id"]
    xl("subscribe", "pull", "--identity", bank, "--subscription", batch,
       "--out", str(out / "batch"))  # fmt: skip
    got = {e["credit_code"] for e in _events(out / "batch")}
    expected = _registered(demo, REGION, industry[:1])
    print(f"  {len(got)} enterprises of region {REGION}, industry section {industry[:1]} "
          f"received; {len(expected)} expected")  # fmt: skip
    if got != expected:
        raise SystemExit("demo step failed: the batch push is not exactly the selection")

    banner("19a. The officer lists every subscription with its lag")
    xl("subscribe", "list", "--identity", identity("officer-1"), "--all")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _events(directory: Path) -> list[dict[str, Any]]:
    return _jsonl(directory / "events.jsonl")


def _new_penalty(demo: Path, code: str) -> dict[str, Any]:
    with (demo / "data" / "admin_penalty.jsonl").open(encoding="utf-8") as handle:
        sample: dict[str, Any] = json.loads(handle.readline())
    today = datetime.now(UTC).date()
    fields = dict(sample["fields"])
    fields.update(
        penalty_domain="市场监管",
        decision_date=today.isoformat(),
        publicity_until=(today + timedelta(days=365)).isoformat(),
    )
    return dict(
        sample,
        credit_code=code,
        record_id=f"admin_penalty-{code}-monitoring-demo",
        version=1,
        event_time=f"{today.isoformat()}T01:00:00Z",
        fields=fields,
    )


def _registrations(demo: Path) -> list[dict[str, Any]]:
    return _jsonl(demo / "data" / "registration.jsonl")


def _industry_of(demo: Path, code: str) -> str:
    for record in _registrations(demo):
        if record["credit_code"] == code and record["fields"].get("industry_code"):
            return str(record["fields"]["industry_code"])
    return "C"


def _registered(demo: Path, region: str, industry: str) -> set[str]:
    return {
        str(r["credit_code"])
        for r in _registrations(demo)
        if str(r["credit_code"])[2:4] == region
        and str(r["fields"].get("industry_code", "")).startswith(industry)
    }
