"""The demo's last steps (scripts/demo.py runs them after the audit):

15. an objection (异议): the enterprise objects to a tax record through its platform; the
    bank (granted again) and the platform see it marked 异议处理中; the tax department
    pushes a corrected version and answers ``corrected``; the bank and the platform, which
    received the old version, pull their correction notices (更正通知, docs/notices.md);
16. a credit repair (信用修复): the bank sees an administrative penalty (public data); the
    market-regulation department records a repair; the bank no longer sees it, the
    enterprise's own query still does (docs/repairs.md).

Step 15 needs the working-day calendar of the year its answer deadline falls in; without
it the step says what to add and is skipped. Step 16 runs either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

Xl = Callable[..., str]

ANSWER_DAYS = 20  # the catalog's objection_answer_days for tax (docs/objections.md)
FORWARD_WORKDAYS = 2  # the platform forwards within 2 working days
NOTICE_POLLS = 20  # the gateway's notice generator runs every second once caught up
NOTICE_POLL_PAUSE_S = 0.5
PENALTY_AGE_DAYS = 183  # past the 3-month minimum publicity period of a 市场监管 penalty
PENALTY_PUBLICITY_DAYS = 730  # its own 公示截止期, well ahead
CHINA = timezone(timedelta(hours=8))


def objection_section(
    xl: Xl,
    banner: Callable[[str], None],
    identity: Callable[[str], str],
    demo: Path,
    record_id: str,
    code: str,
) -> None:
    """Step 15 (skipped, saying why, without a calendar for its deadline), then step 16."""
    run = Run(xl, banner, identity, demo, code)
    _objection(run, record_id)
    _repair(run)


@dataclass(frozen=True)
class Run:
    """What both steps use of demo.py: its runner, banner, identities, state and enterprise."""

    xl: Xl
    banner: Callable[[str], None]
    identity: Callable[[str], str]
    demo: Path
    code: str

    @property
    def key(self) -> str:
        return str(self.demo / "enterprise" / "enterprise.key")


# -- 15. objection, correction, notices --------------------------------------------------------


def _missing_calendar_year() -> int | None:
    """The year, if any, whose working-day calendar a filing now would need but the
    package does not ship (the gateway refuses such a filing: FAILED_PRECONDITION)."""
    from xinlian.workdays import UnknownCalendarYear, WorkdayCalendar

    calendar = WorkdayCalendar.load()
    now = datetime.now(CHINA)
    try:
        calendar.deadline_after(now, FORWARD_WORKDAYS)
        calendar.add_calendar_days(now.date(), ANSWER_DAYS, roll_forward=True)
    except UnknownCalendarYear as exc:
        return exc.year
    return None


def _skip_note(year: int) -> None:
    print(
        f"(step 15 skipped: the objection's answer deadline falls in {year}, and no "
        f"working-day calendar for {year} is loaded, so the gateway refuses the filing.\n"
        f" To run it: transcribe 国务院办公厅关于{year}年部分节假日安排的通知 into "
        f"xinlian/data/workdays/{year}.json,\n or into a directory named by `calendar_dirs` "
        f'in the gateway\'s config, as docs/workdays.md ("Adding a year") describes; '
        f"then run `make demo` again.)"
    )


def _objection(run: Run, record_id: str) -> None:
    xl, banner, demo, code, key = run.xl, run.banner, run.demo, run.code, run.key
    platform, bank = run.identity("fz-platform"), run.identity("bank-cib")
    tax_dept = run.identity("tax-fj")
    with (demo / "data" / "tax.jsonl").open(encoding="utf-8") as handle:
        record: dict[str, Any] = json.loads(handle.readline())

    banner("15. Objection (异议): the enterprise disputes its tax credit rating")
    out = xl(
        "objection", "file", "--identity", platform, "--enterprise-key", key,
        "--credit-code", code, "--source", "tax-fj", "--record", record_id,
        "--version", str(record.get("version", 1)), "--field", "tax_credit_rating",
        "--claim", "纳税信用等级与税务机关的评定结果不一致",
        check=False,
    )  # fmt: skip
    if not out.startswith("objection "):
        year = _missing_calendar_year()
        if year is None:
            raise SystemExit("demo step failed: xinlian objection file")
        _skip_note(year)
        return
    objection_id = out.split()[1].rstrip(":")

    banner("15a. The enterprise grants the bank again; while the objection is open the bank")
    print("     and the platform (under their grants) receive version 1 marked 异议处理中")
    out = xl(
        "grant", "create", "--identity", platform, "--enterprise-key", key,
        "--credit-code", code, "--grantee", "bank-cib", "--category", "tax",
        "--purpose", "financing", "--days", "365", capture=True,
    )  # fmt: skip
    print("\n".join(line for line in out.splitlines() if line.startswith("grant ")))
    for who in (bank, platform):
        xl("query", "--identity", who, "--enterprise", code, "--purpose", "financing",
           "--category", "tax")  # fmt: skip
    xl("agent", "objections", "list", "--identity", tax_dept)

    banner("15b. The tax department pushes a corrected version and answers 'corrected'")
    fields = dict(record["fields"])
    rating = "B" if fields.get("tax_credit_rating") == "A" else "A"
    corrected = dict(record, version=2, fields={**fields, "tax_credit_rating": rating})
    path = demo / "data" / "tax-corrected.jsonl"
    path.write_text(json.dumps(corrected, ensure_ascii=False) + "\n", encoding="utf-8")
    xl("agent", "push", "--identity", tax_dept, "--category", "tax", str(path))
    xl("agent", "objections", "answer", "--identity", tax_dept, objection_id,
       "--answer", "corrected", "--reason", "核实后更正", "--corrected-version", "2")  # fmt: skip
    xl("objection", "list", "--identity", platform, "--credit-code", code)

    banner("15c. Correction notices (更正通知): the nodes that received version 1 are told")
    print("     (old → new version, the changed fields, new values masked as in their query)")
    for who in (bank, platform):
        _wait_for_notice(xl, who, record_id)
        xl("notices", "pull", "--identity", who, "--ack")


def _wait_for_notice(xl: Xl, who: str, record_id: str) -> None:
    """The gateway's background generator writes a correction's notices within about a
    second: poll briefly (quietly) until the record's notice is waiting."""
    for _ in range(NOTICE_POLLS):
        out = xl("notices", "pull", "--identity", who, "--json", capture=True, show=False)
        if any(n.get("record_id") == record_id for n in json.loads(out)["notices"]):
            return
        time.sleep(NOTICE_POLL_PAUSE_S)
    raise SystemExit(f"demo step failed: no correction notice for {who} about {record_id}")


# -- 16. publicity and credit repair ---------------------------------------------------------


def _old_penalty(demo: Path, code: str) -> dict[str, Any]:
    """An administrative penalty of the demo enterprise decided PENALTY_AGE_DAYS ago (China
    time), so its minimum publicity period is over but it is still disclosed."""
    with (demo / "data" / "admin_penalty.jsonl").open(encoding="utf-8") as handle:
        sample: dict[str, Any] = json.loads(handle.readline())
    decided = datetime.now(CHINA).date() - timedelta(days=PENALTY_AGE_DAYS)
    until: date = decided + timedelta(days=PENALTY_PUBLICITY_DAYS)
    fields = dict(sample["fields"])
    fields.update(
        penalty_domain="市场监管",
        decision_date=decided.isoformat(),
        publicity_until=until.isoformat(),
    )
    return dict(
        sample,
        credit_code=code,
        record_id=f"admin_penalty-{code}-repair-demo",
        version=1,
        event_time=f"{decided.isoformat()}T02:00:00Z",
        fields=fields,
    )


def _sees(xl: Xl, who: str, code: str, record_id: str, *self_key: str) -> bool:
    out = xl(
        "query", "--identity", who, "--enterprise", code, "--purpose", "financing",
        "--category", "admin_penalty", *self_key, "--json", capture=True,
    )  # fmt: skip
    return any(
        r["record_id"] == record_id for c in json.loads(out)["categories"] for r in c["records"]
    )


def _repair(run: Run) -> None:
    xl, banner, demo, code, key = run.xl, run.banner, run.demo, run.code, run.key
    platform, bank, amr = (run.identity(n) for n in ("fz-platform", "bank-cib", "amr-fj"))
    penalty = _old_penalty(demo, code)
    record_id, decided = penalty["record_id"], penalty["fields"]["decision_date"]

    banner("16. Publicity (公示期): a penalty is public data, the bank sees it")
    path = demo / "data" / "admin_penalty-repair.jsonl"
    path.write_text(json.dumps(penalty, ensure_ascii=False) + "\n", encoding="utf-8")
    xl("agent", "push", "--identity", amr, "--category", "admin_penalty", str(path))
    seen = _sees(xl, bank, code, record_id)
    print(f"  bank-cib sees {record_id} (行政处罚, decided {decided}): {_yes(seen)}")

    banner("16a. Credit repair (信用修复): the market-regulation department records it")
    xl(
        "repair", "record", "--identity", amr, "--credit-code", code, "--source", "amr-fj",
        "--record-id", record_id, "--category", "admin_penalty",
        "--basis", "当事人已履行行政处罚决定并完成信用承诺",
    )  # fmt: skip

    banner("16b. The bank no longer sees it; the enterprise's own query still does")
    after = _sees(xl, bank, code, record_id)
    own = _sees(xl, platform, code, record_id, "--self-key", key)
    print(f"  bank-cib sees {record_id}: {_yes(after)}")
    print(f"  the enterprise (self query) sees {record_id}: {_yes(own)}")
    if not seen or after or not own:
        raise SystemExit("demo step failed: the repaired penalty's visibility is wrong")
    print("  the bank, which received it, gets a notice (reason repaired):")
    xl("notices", "pull", "--identity", bank, "--ack")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
