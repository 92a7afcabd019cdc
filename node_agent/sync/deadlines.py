"""Deadline warnings: a rejected record not yet pushed, whose catalog update deadline
(``update_deadline_days`` working days after its event, ``authz.update_deadlines``)
passes within ``warn_workdays`` working days, or has passed.

The working-day calendar ships years one by one (``xinlian.workdays``); for a year it
does not know, the warning says so plainly instead of guessing a calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from authz.catalog import Catalog
from authz.update_deadlines import update_due
from node_agent.sync.watermark import SyncState
from xinlian.workdays import SHANGHAI, UnknownCalendarYear, WorkdayCalendar


@dataclass(frozen=True)
class DeadlineWarning:
    category: str
    record_id: str
    due: datetime | None  # None: the calendar does not cover the year
    message: str


def deadline_warnings(
    state: SyncState,
    catalog: Catalog,
    calendar: WorkdayCalendar,
    warn_workdays: int,
    now: datetime,
) -> list[DeadlineWarning]:
    warnings: list[DeadlineWarning] = []
    today = now.astimezone(SHANGHAI).date()
    for reject in state.rejects():
        category = catalog.get(reject.category)
        if category is None or reject.event_time is None:
            continue
        event = datetime.fromisoformat(reject.event_time)
        try:
            due = update_due(category, event, calendar)
            left = calendar.workdays_between(today, due.date()) if due.date() > today else 0
        except UnknownCalendarYear as exc:
            warnings.append(
                DeadlineWarning(
                    reject.category,
                    reject.record_id,
                    None,
                    f"{reject.category} {reject.record_id}: deadline not checked: {exc} "
                    "(add the year's calendar with calendar_dirs)",
                )
            )
            continue
        if due < now.astimezone(UTC):
            text = f"its deadline {due.date()} has passed"
        elif left <= warn_workdays:
            text = f"its deadline {due.date()} is {left} working days away"
        else:
            continue
        warnings.append(
            DeadlineWarning(
                reject.category,
                reject.record_id,
                due,
                f"{reject.category} {reject.record_id} is not pushed ({reject.reason_code}) "
                f"and {text}",
            )
        )
    return warnings
