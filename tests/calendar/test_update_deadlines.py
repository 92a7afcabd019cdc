"""The catalog's update deadlines (authz.update_deadlines.update_due) count working days
from the event's Shanghai day: across 国庆 2025 (10-01..08 off, Saturday 10-11 worked) and
春节 2026 (02-15..23 off, Saturdays 02-14 and 02-28 worked)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from importlib import resources

import pytest

from authz.catalog import Catalog
from authz.update_deadlines import update_due
from xinlian.errors import InvalidArgument
from xinlian.workdays import SHANGHAI, UnknownCalendarYear, WorkdayCalendar, load_calendar

CATEGORIES = Catalog.default().categories
END = (23, 59, 59, 999999)


@pytest.fixture(scope="module")
def calendar() -> WorkdayCalendar:
    return load_calendar()


def _end_of(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, *END, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("category", "event", "due"),
    [
        # 国庆 2025: 10-09 Thu, 10-10 Fri, 10-11 Sat (worked), 10-13 Mon …
        ("admin_penalty", datetime(2025, 9, 30, 10, tzinfo=SHANGHAI), _end_of(2025, 10, 16)),
        ("judicial", datetime(2025, 9, 30, 10, tzinfo=SHANGHAI), _end_of(2025, 10, 14)),
        ("serious_dishonesty", datetime(2025, 9, 29, 9, tzinfo=SHANGHAI), _end_of(2025, 10, 10)),
        # Saturday 09-27: the Sunday 09-28 is worked, so 09-28, 09-29, 09-30
        ("serious_dishonesty", datetime(2025, 9, 27, 9, tzinfo=SHANGHAI), _end_of(2025, 9, 30)),
        # 春节 2026: 02-14 Sat (worked), 02-24 Tue, 02-25 Wed, … 02-28 Sat (worked)
        ("serious_dishonesty", datetime(2026, 2, 13, 16, tzinfo=SHANGHAI), _end_of(2026, 2, 25)),
        ("judicial", datetime(2026, 2, 13, 16, tzinfo=SHANGHAI), _end_of(2026, 2, 27)),
        ("tax", datetime(2026, 2, 13, 16, tzinfo=SHANGHAI), _end_of(2026, 3, 12)),
        # the event's day is its Shanghai day: 02-13 17:00 UTC is 02-14 01:00 there
        ("serious_dishonesty", datetime(2026, 2, 13, 17, tzinfo=UTC), _end_of(2026, 2, 26)),
    ],
)
def test_update_due_across_the_holidays(
    calendar: WorkdayCalendar, category: str, event: datetime, due: datetime
) -> None:
    spec = CATEGORIES[category]
    got = update_due(spec, event, calendar)
    assert got == due and got.tzinfo is SHANGHAI
    start = event.astimezone(SHANGHAI).date()
    assert calendar.workdays_between(start, got.date()) == spec.update_deadline_days


def test_every_category_has_a_working_day_deadline(calendar: WorkdayCalendar) -> None:
    event = datetime(2025, 9, 30, 10, tzinfo=SHANGHAI)
    for spec in CATEGORIES.values():
        due = update_due(spec, event, calendar)
        assert calendar.is_workday(due.date())
        assert calendar.workdays_between(event.date(), due.date()) == spec.update_deadline_days


def test_descriptions_that_name_a_unit_name_working_days() -> None:
    # the unit is working days because the catalog's sources say so; a description that
    # names another unit would need an explicit unit field in the catalog
    text = resources.files("authz.data").joinpath("catalog.json").read_text(encoding="utf-8")
    named = 0
    for spec in json.loads(text)["categories"]:
        units = re.findall(r"\d+\s+(working|calendar)?\s*days?", spec.get("description", ""))
        assert all(unit == "working" for unit in units), spec["id"]
        named += len(units)
    assert named >= 3  # registration, admin_license, admin_penalty


def test_refusals(calendar: WorkdayCalendar) -> None:
    spec = CATEGORIES["tax"]
    with pytest.raises(InvalidArgument):
        update_due(spec, datetime(2026, 2, 13, 16), calendar)  # naive
    with pytest.raises(UnknownCalendarYear):
        update_due(spec, datetime(2026, 12, 20, tzinfo=SHANGHAI), calendar)  # into 2027
