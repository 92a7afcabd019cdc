"""Publicity periods (公示期) and credit repair (信用修复) of public negative records: pure.

A category with a ``publicity`` rule in the catalog (``authz.catalog.Publicity``: today
行政处罚 and 严重失信主体名单) is disclosed as public data only for a while. For one record:

    (1) the basis day: the record's ``basis_field`` (decision or listing date); if the
        field is missing or not a date, the day of the record's event time
    (2) the periods: ``min_months`` and ``max_months``, replaced by those of the first
        override whose field holds one of its values (e.g. at least 12 months for
        特种设备, 安全生产, 消防)
    (3) the last public day: the end of the maximum period, or the source's own
        ``until_field`` (公示截止期, inclusive) when that is earlier
    (4) the earliest repair day: the day after the end of the minimum period; a repair
        or removal recorded before it is refused (REPAIR_BEFORE_MINIMUM)

Then, at ``now`` (a day is a day in China Standard Time, UTC+8, no daylight saving):

    (5) a recorded repair or removal ends disclosure (CREDIT_REPAIRED / LIST_REMOVED)
    (6) a date among the rule's ``end_fields`` on or before today ends it (the list's
        own 移出日期 or 信用修复日期: LIST_REMOVED / CREDIT_REPAIRED)
    (7) after the last public day it has ended (PUBLICITY_EXPIRED)
    (8) otherwise the record is disclosed

Month arithmetic follows 民法典 第二百零一条、第二百零二条: the period starts the day
after the basis day and its last day is the basis day's number in the month ``n`` months
later, or that month's last day when it has no such day. ``end_of_months(2024-11-30, 3)``
is 2025-02-28; a 3-month period from 2025-01-10 runs to 2025-04-10 inclusive, and a repair
may take effect from 2025-04-11.

A record that is no longer disclosed as public data stays stored: the enterprise's own
query, officers' traces and the retention rules still see it.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from authz.catalog import Publicity
from xinlian.errors import FailedPrecondition, InvalidArgument
from xinlian.workdays import SHANGHAI

"""The zone the catalog's dates are in (China Standard Time, no daylight saving)."""


class PublicityReason(StrEnum):
    PUBLICITY_EXPIRED = "PUBLICITY_EXPIRED"
    CREDIT_REPAIRED = "CREDIT_REPAIRED"
    LIST_REMOVED = "LIST_REMOVED"
    REPAIR_BEFORE_MINIMUM = "REPAIR_BEFORE_MINIMUM"


class RepairKind(StrEnum):
    REPAIR = "repair"  # 信用修复
    REMOVAL = "removal"  # 移出严重失信主体名单

    @property
    def reason(self) -> PublicityReason:
        if self is RepairKind.REMOVAL:
            return PublicityReason.LIST_REMOVED
        return PublicityReason.CREDIT_REPAIRED


def end_of_months(start: date, months: int) -> date:
    """The last day of a period of ``months`` calendar months from ``start`` (module
    docstring): same day number ``months`` later, clamped to that month's last day."""
    if months < 0:
        raise InvalidArgument.field("months", months, "a number of months ≥ 0")
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last))


def local_day(now: datetime) -> date:
    """The day ``now`` falls on in China Standard Time."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidArgument.field("now", now, "a timezone-aware datetime")
    return now.astimezone(SHANGHAI).date()


def _day(fields: Mapping[str, str], name: str | None) -> date | None:
    if name is None:
        return None
    text = fields.get(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Period:
    """One record's publicity period (steps 1-4)."""

    basis: date
    earliest_repair: date  # the first day a repair or removal may take effect
    last_public_day: date  # the last day it is disclosed without a repair


def period_of(rule: Publicity, fields: Mapping[str, str], event_day: date) -> Period:
    # (1) the basis day
    basis = _day(fields, rule.basis_field) or event_day
    # (2) the periods, the first matching override replacing what it names
    min_months, max_months = rule.min_months, rule.max_months
    for override in rule.overrides:
        if fields.get(override.field) in override.values:
            min_months = override.min_months if override.min_months is not None else min_months
            max_months = override.max_months if override.max_months is not None else max_months
            break
    # (3) the last public day: the maximum, or the source's own earlier end
    last = end_of_months(basis, max_months)
    until = _day(fields, rule.until_field)
    if until is not None and until < last:
        last = until
    # (4) a repair may take effect the day after the minimum period ends
    earliest = end_of_months(basis, min_months) + timedelta(days=1)
    return Period(basis=basis, earliest_repair=earliest, last_public_day=last)


@dataclass(frozen=True)
class Verdict:
    disclosed: bool
    reason: PublicityReason | None = None


DISCLOSED = Verdict(True)


def verdict(
    rule: Publicity,
    fields: Mapping[str, str],
    event_day: date,
    now: datetime,
    *,
    repair: RepairKind | None = None,
) -> Verdict:
    """Whether one record of a category with ``rule`` is disclosed as public data at
    ``now`` (steps 5-8); ``repair``: the repair or removal recorded for it, if any."""
    # (5) a recorded repair or removal
    if repair is not None:
        return Verdict(False, repair.reason)
    today = local_day(now)
    # (6) the source's own removal or repair date
    for name, reason in rule.end_fields:
        ended = _day(fields, name)
        if ended is not None and ended <= today:
            return Verdict(False, PublicityReason(reason))
    # (7) past the last public day
    if today > period_of(rule, fields, event_day).last_public_day:
        return Verdict(False, PublicityReason.PUBLICITY_EXPIRED)
    # (8)
    return DISCLOSED


def check_repair_allowed(
    rule: Publicity, fields: Mapping[str, str], event_day: date, now: datetime
) -> Period:
    """Refuse a repair or removal before the minimum period has passed (step 4)."""
    period = period_of(rule, fields, event_day)
    today = local_day(now)
    if today < period.earliest_repair:
        raise FailedPrecondition(
            f"the minimum publicity period runs from {period.basis.isoformat()}; a repair "
            f"may take effect from {period.earliest_repair.isoformat()}, not "
            f"{today.isoformat()}",
            reason=PublicityReason.REPAIR_BEFORE_MINIMUM.value,
        )
    return period
