"""Timeliness and gaps (authz.timeliness), pure: the shortcut that stops at the receipt
day agrees with ``update_due`` wherever that is defined, reaches past the last year
loaded only when it must, and never guesses a year; the period counts (audit.period_counts)
of hand-made entries."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.period_counts import PeriodCounts
from authz.catalog import Catalog
from authz.timeliness import PushedRecord, assess, gaps, pushed_in_time
from authz.update_deadlines import update_due
from xinlian.workdays import SHANGHAI, UnknownCalendarYear, load_calendar

CATALOG = Catalog.default()
CALENDAR = load_calendar()
PENALTY = CATALOG.categories["admin_penalty"]  # 7 working days
DAYS = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 11, 30))


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


@settings(max_examples=300, deadline=None)
@given(
    event=DAYS,
    delay=st.integers(min_value=-3, max_value=30),
    category=st.sampled_from(sorted(CATALOG.categories)),
    hour=st.integers(min_value=0, max_value=23),
)
def test_agrees_with_update_due(event: date, delay: int, category: str, hour: int) -> None:
    received = at(event, 12) + timedelta(days=delay, hours=hour - 12)
    spec = CATALOG.categories[category]
    try:
        due = update_due(spec, at(event), CALENDAR)
    except UnknownCalendarYear:
        return  # the deadline itself lies in 2027: covered below
    assert pushed_in_time(spec, at(event), received, CALENDAR) == (received <= due)


def test_the_deadline_day_itself_and_the_holiday_after_it() -> None:
    # decided 2025-09-30; 10-01..08 国庆节、中秋节; due by the end of 2025-10-16
    decided = at(date(2025, 9, 30))
    assert pushed_in_time(PENALTY, decided, at(date(2025, 10, 16), 23), CALENDAR)
    assert not pushed_in_time(PENALTY, decided, at(date(2025, 10, 17), 0), CALENDAR)
    # 2025-10-11 is an adjusted working Saturday: it counts
    assert CALENDAR.workdays_between(date(2025, 9, 30), date(2025, 10, 11)) == 3


def test_late_december_is_assessed_without_the_next_year() -> None:
    decided = at(date(2026, 12, 28))
    with pytest.raises(UnknownCalendarYear):
        update_due(PENALTY, decided, CALENDAR)  # due in January 2027
    assert pushed_in_time(PENALTY, decided, at(date(2026, 12, 31)), CALENDAR)
    # decided 12-18: the 7th working day after it is 12-29, so 12-31 is late
    assert not pushed_in_time(PENALTY, at(date(2026, 12, 18)), at(date(2026, 12, 31)), CALENDAR)


def test_years_without_a_calendar_are_not_assessed() -> None:
    records = [
        PushedRecord("amr", "admin_penalty", at(date(2024, 12, 30)), at(date(2025, 1, 3))),
        PushedRecord("amr", "admin_penalty", at(date(2025, 3, 3)), at(date(2025, 3, 20))),
        PushedRecord("amr", "admin_penalty", at(date(2025, 3, 18)), at(date(2025, 3, 20))),
        PushedRecord("amr", "no_such_category", at(date(2025, 3, 18)), at(date(2025, 3, 20))),
    ]
    report = assess(records, CATALOG, CALENDAR)
    counts = report.counts[("amr", "admin_penalty")]
    assert (counts.on_time, counts.late, counts.not_assessed) == (1, 1, 1)
    assert report.unknown_years == {2024}
    assert report.counts[("amr", "no_such_category")].not_assessed == 1
    assert report.unknown_categories == {"no_such_category"}


def test_gaps_and_what_counts_as_one() -> None:
    found = gaps(
        {"amr": ("admin_penalty", "admin_license"), "sci": ("rnd",)},
        {("amr", "admin_penalty")},
        CATALOG,
    )
    listed = {(g.department, g.category_id): g.expected for g in found}
    assert listed[("amr", "admin_license")] is True  # realtime: expected every month
    assert listed[("sci", "rnd")] is False  # yearly: listed, not a gap
    assert ("amr", "admin_penalty") not in listed
    nobody = {c for d, c in listed if d == ""}
    assert nobody == set(CATALOG.categories) - {"admin_penalty", "admin_license", "rnd"}


def test_period_counts() -> None:
    counts = PeriodCounts()
    counts.add(
        "push.batch",
        "amr",
        "department",
        "ok",
        {"category": "admin_penalty", "accepted": 3, "duplicates": 1, "rejected": 2,
         "reasons": {"BAD_CREDIT_CODE": 2}},
    )  # fmt: skip
    counts.add("push.batch", "tax", "department", "denied",
               {"category": "registration", "reason": "CATEGORY_NOT_RESPONSIBLE"})  # fmt: skip
    denied = {"allowed": False, "reason_code": "NO_GRANT"}
    counts.add("query", "bank", "institution", "ok",
               {"categories": {"tax": {"allowed": True}, "si": denied}})  # fmt: skip
    counts.add("query.denied", "bank", "institution", "denied", {"categories": {"si": denied}})
    counts.add("grant.created", "p", "city_platform", "ok", {"grantee_node_id": "bank"})
    counts.add("objection.filed", "p", "city_platform", "ok", {"record": ["amr", "r", 1]})
    counts.add("objection.answered", "amr", "department", "ok", {"late": True})
    counts.add("access.denied", "bank", "institution", "denied", {"reason": "KIND_NOT_ALLOWED"})
    counts.add("access.denied", "bank", "institution", "denied",
               {"reason": "KIND_NOT_ALLOWED", "summary": True, "count": 40})  # fmt: skip
    counts.add("node.admitted", "admin", "admin", "ok", {})  # not counted
    push = counts.pushes[("amr", "admin_penalty")]
    assert (push.batches, push.accepted, push.duplicates, push.rejected) == (1, 3, 1, 2)
    assert counts.rejects == {("amr", "admin_penalty", "BAD_CREDIT_CODE"): 2}
    assert counts.refused_batches == {("tax", "registration", "CATEGORY_NOT_RESPONSIBLE"): 1}
    bank = counts.consumers["bank"]
    assert (bank.kind, bank.queries, bank.denied_queries, bank.denied_categories) == (
        "institution",
        2,
        1,
        2,
    )
    assert bank.grants_new == 1 and bank.refused_calls == 41
    assert counts.denials == {
        ("bank", "query", "NO_GRANT"): 2,
        ("bank", "access.denied", "KIND_NOT_ALLOWED"): 41,
    }
    amr = counts.objections["amr"]
    assert (amr.received, amr.answered, amr.answered_late) == (1, 1, 1)
