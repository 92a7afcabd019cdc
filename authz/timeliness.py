"""Timeliness (及时率) and gaps (漏报) of a department's pushes in one period. Pure.

**Within the deadline.** A record is pushed in time when the gateway received its first
stored version no later than ``authz.update_deadlines.update_due(category, event_time)``:
the end (23:59:59.999999 Asia/Shanghai) of the ``update_deadline_days``-th working day
after the Shanghai day of the record's own ``event_time`` (the decision, the judgment,
the month's close the record reports). Later versions of a record are corrections and
are not assessed again.

``pushed_in_time`` decides this without looking past the receipt day: with ``n`` the
deadline and ``w`` the working days ``d`` with ``event day < d <= receipt day``, the
receipt day is at or before the n-th working day after the event day exactly when
``w < n``, or ``w == n`` and the receipt day is itself a working day. So a push in the
last days of the last calendar year loaded is assessed even when its deadline would fall
in the next year. A record whose event day or receipt day lies in a year with no
calendar file is **not assessed** (``UnknownCalendarYear``): never a guess.

**Gaps.** A category a department answers for with no new record in the period is
listed; it counts as a gap (漏报) only when the category's ``update_frequency`` expects
data every month (``EXPECTED_MONTHLY``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from authz.catalog import Catalog, Category
from xinlian.workdays import SHANGHAI, UnknownCalendarYear, WorkdayCalendar

EXPECTED_MONTHLY = frozenset({"realtime", "daily", "weekly", "monthly"})
"""Update frequencies that promise new data every month; others (yearly) do not."""


def pushed_in_time(
    category: Category, event_time: datetime, received_at: datetime, calendar: WorkdayCalendar
) -> bool:
    """``received_at <= update_due(category, event_time, calendar)`` (both aware), decided
    from the days up to the receipt day only (module docstring). Raises
    ``UnknownCalendarYear`` when one of those days is in a year with no calendar."""
    event_day = event_time.astimezone(SHANGHAI).date()
    receipt_day = received_at.astimezone(SHANGHAI).date()
    return _in_time(event_day, receipt_day, category.update_deadline_days, calendar)


def _in_time(event_day: date, receipt_day: date, n: int, calendar: WorkdayCalendar) -> bool:
    if receipt_day <= event_day:
        calendar.is_workday(receipt_day)  # a year with no calendar is still not assessed
        return True
    worked = calendar.workdays_between(event_day, receipt_day)
    return worked < n or (worked == n and calendar.is_workday(receipt_day))


@dataclass(frozen=True)
class PushedRecord:
    """The first stored version of a record the period received."""

    department: str
    category: str
    event_time: datetime
    received_at: datetime


@dataclass
class Timeliness:
    on_time: int = 0
    late: int = 0
    not_assessed: int = 0

    @property
    def assessed(self) -> int:
        return self.on_time + self.late


@dataclass
class TimelinessReport:
    """Per (department, category) the counts; the years that left records unassessed."""

    counts: dict[tuple[str, str], Timeliness] = field(default_factory=dict)
    unknown_years: set[int] = field(default_factory=set)
    unknown_categories: set[str] = field(default_factory=set)


def assess(
    records: Iterable[PushedRecord], catalog: Catalog, calendar: WorkdayCalendar
) -> TimelinessReport:
    """Each record in time, late, or not assessed (a year with no calendar; a category
    the catalog no longer has)."""
    report = TimelinessReport()
    seen: dict[tuple[date, date, int], bool | int] = {}  # a decision, or the unknown year
    for record in records:
        counts = report.counts.setdefault((record.department, record.category), Timeliness())
        category = catalog.get(record.category)
        if category is None:
            counts.not_assessed += 1
            report.unknown_categories.add(record.category)
            continue
        key = (
            record.event_time.astimezone(SHANGHAI).date(),
            record.received_at.astimezone(SHANGHAI).date(),
            category.update_deadline_days,
        )
        if key not in seen:
            try:
                seen[key] = _in_time(*key, calendar)
            except UnknownCalendarYear as exc:
                seen[key] = exc.year
        decided = seen[key]
        if decided is True:
            counts.on_time += 1
        elif decided is False:
            counts.late += 1
        else:
            counts.not_assessed += 1
            report.unknown_years.add(int(decided))
    return report


@dataclass(frozen=True)
class Gap:
    department: str
    category: Category | None  # None: a category the catalog does not have
    category_id: str
    expected: bool  # its update frequency expects data every month: a gap (漏报)


def gaps(
    responsibilities: dict[str, tuple[str, ...]],
    with_data: set[tuple[str, str]],
    catalog: Catalog,
) -> list[Gap]:
    """For each department (``responsibilities``: department -> the categories it answers
    for) the categories with no new record in the period (``with_data``: (department,
    category) pairs that had one), then the catalog's categories no department answers
    for (department ``""``), sorted."""
    out: list[Gap] = []
    for department, categories in sorted(responsibilities.items()):
        for category_id in sorted(set(categories)):
            if (department, category_id) not in with_data:
                category = catalog.get(category_id)
                expected = category is None or category.update_frequency in EXPECTED_MONTHLY
                out.append(Gap(department, category, category_id, expected))
    answered = {c for categories in responsibilities.values() for c in categories}
    for category_id, category in sorted(catalog.categories.items()):
        if category_id not in answered:
            expected = category.update_frequency in EXPECTED_MONTHLY
            out.append(Gap("", category, category_id, expected))
    return out


__all__ = [
    "EXPECTED_MONTHLY",
    "Gap",
    "PushedRecord",
    "Timeliness",
    "TimelinessReport",
    "assess",
    "gaps",
    "pushed_in_time",
]
