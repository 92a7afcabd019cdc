"""When a department must have pushed a record: the catalog's update deadline.

Each category of the catalog gives ``update_deadline_days``: the number of **working
days** (工作日, ``xinlian.workdays``) after the event — the decision, the judgment, the
month's close — by which its record must reach the gateway. The catalog's own sources
count them so (企业信息公示暂行条例: 20 working days; 双公示: 7 working days of the
decision), so the unit is not configurable. Pure: no clock, no store; the monthly
report's lateness per department compares a batch's receipt with it.
"""

from __future__ import annotations

from datetime import datetime

from authz.catalog import Category
from xinlian.workdays import WorkdayCalendar


def update_due(category: Category, event_time: datetime, calendar: WorkdayCalendar) -> datetime:
    """The end (23:59:59.999999 Asia/Shanghai, aware) of the
    ``category.update_deadline_days``-th working day after the local (Asia/Shanghai) day
    of ``event_time``, which must be timezone-aware. A push at ``t`` is in time when
    ``t <= update_due(...)``. A year with no loaded calendar raises
    ``UnknownCalendarYear``; a naive ``event_time`` raises ``InvalidArgument``."""
    return calendar.deadline_after(event_time, category.update_deadline_days)


__all__ = ["update_due"]
