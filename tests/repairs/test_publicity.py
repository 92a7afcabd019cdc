"""The publicity rule, pure: month arithmetic, the periods' boundaries, overrides, the
source's own end of publicity, repairs and removals, and the catalog data it reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from authz.catalog import Catalog, Publicity
from authz.publicity import (
    PublicityReason,
    RepairKind,
    check_repair_allowed,
    end_of_months,
    local_day,
    period_of,
    verdict,
)
from xinlian.errors import FailedPrecondition
from xinlian.workdays import SHANGHAI

CATALOG = Catalog.default()
PENALTY = CATALOG.require("admin_penalty").publicity
LISTING = CATALOG.require("serious_dishonesty").publicity
EVENT_DAY = date(2000, 1, 1)  # never used when the basis field is present


def at(day: date, hour: int = 12) -> datetime:
    """Noon (by default) of ``day`` in China."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def penalty(decided: str, **more: str) -> dict[str, str]:
    return {"decision_date": decided, **more}


def test_the_catalog_carries_the_rules_as_data() -> None:
    assert PENALTY is not None and LISTING is not None
    assert (PENALTY.basis_field, PENALTY.min_months, PENALTY.max_months) == (
        "decision_date",
        3,
        36,
    )
    assert PENALTY.until_field == "publicity_until"
    assert PENALTY.overrides[0].values == {"特种设备", "安全生产", "消防"}
    assert PENALTY.overrides[0].min_months == 12
    assert LISTING.removable and not PENALTY.removable
    assert dict(LISTING.end_fields) == {
        "removal_date": "LIST_REMOVED",
        "credit_repair_date": "CREDIT_REPAIRED",
    }
    # only public negative categories carry a rule
    for category in CATALOG.categories.values():
        if category.publicity is not None:
            assert category.public and category.negative


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2025, 1, 10), 3, date(2025, 4, 10)),
        (date(2024, 11, 30), 3, date(2025, 2, 28)),  # no 30 February: the month's last day
        (date(2023, 11, 30), 3, date(2024, 2, 29)),  # leap year
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 36, date(2027, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2025, 8, 31), 1, date(2025, 9, 30)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),  # across the year
        (date(2025, 5, 5), 0, date(2025, 5, 5)),
    ],
)
def test_end_of_months_counts_calendar_months_and_clamps_the_day(
    start: date, months: int, end: date
) -> None:
    assert end_of_months(start, months) == end


def test_the_day_is_the_day_in_china() -> None:
    # 2025-04-10 16:00 UTC is already 2025-04-11 in China
    assert local_day(datetime(2025, 4, 10, 16, 0, tzinfo=UTC)) == date(2025, 4, 11)
    assert local_day(datetime(2025, 4, 10, 15, 59, tzinfo=UTC)) == date(2025, 4, 10)


def test_three_years_is_the_maximum_inclusive() -> None:
    fields = penalty("2024-03-15")
    last = date(2027, 3, 15)
    assert period_of(PENALTY, fields, EVENT_DAY).last_public_day == last
    assert verdict(PENALTY, fields, EVENT_DAY, at(last, 23)).disclosed
    after = verdict(PENALTY, fields, EVENT_DAY, at(last + timedelta(days=1), 0))
    assert after == verdict(PENALTY, fields, EVENT_DAY, at(date(2030, 1, 1)))
    assert not after.disclosed and after.reason is PublicityReason.PUBLICITY_EXPIRED


def test_the_sources_own_end_of_publicity_when_earlier() -> None:
    fields = penalty("2024-03-15", publicity_until="2024-06-15")
    assert period_of(PENALTY, fields, EVENT_DAY).last_public_day == date(2024, 6, 15)
    assert verdict(PENALTY, fields, EVENT_DAY, at(date(2024, 6, 15))).disclosed
    expired = verdict(PENALTY, fields, EVENT_DAY, at(date(2024, 6, 16)))
    assert expired.reason is PublicityReason.PUBLICITY_EXPIRED
    # a later publicity_until does not stretch the maximum
    late = penalty("2024-03-15", publicity_until="2030-01-01")
    assert period_of(PENALTY, late, EVENT_DAY).last_public_day == date(2027, 3, 15)
    # an unreadable one is ignored
    bad = penalty("2024-03-15", publicity_until="soon")
    assert period_of(PENALTY, bad, EVENT_DAY).last_public_day == date(2027, 3, 15)


def test_a_repair_is_refused_before_exactly_three_months() -> None:
    fields = penalty("2025-01-10")
    with pytest.raises(FailedPrecondition) as err:
        check_repair_allowed(PENALTY, fields, EVENT_DAY, at(date(2025, 4, 10), 23))
    assert err.value.reason == "REPAIR_BEFORE_MINIMUM"
    assert "2025-04-11" in err.value.message
    period = check_repair_allowed(PENALTY, fields, EVENT_DAY, at(date(2025, 4, 11), 0))
    assert period.earliest_repair == date(2025, 4, 11)


@pytest.mark.parametrize("domain", ["特种设备", "安全生产", "消防"])
def test_special_equipment_work_safety_and_fire_need_twelve_months(domain: str) -> None:
    fields = penalty("2025-01-10", penalty_domain=domain)
    assert period_of(PENALTY, fields, EVENT_DAY).earliest_repair == date(2026, 1, 11)
    with pytest.raises(FailedPrecondition):
        check_repair_allowed(PENALTY, fields, EVENT_DAY, at(date(2026, 1, 10)))
    check_repair_allowed(PENALTY, fields, EVENT_DAY, at(date(2026, 1, 11)))
    # the maximum is unchanged
    assert period_of(PENALTY, fields, EVENT_DAY).last_public_day == date(2028, 1, 10)


def test_other_domains_keep_three_months() -> None:
    fields = penalty("2025-01-10", penalty_domain="市场监管")
    assert period_of(PENALTY, fields, EVENT_DAY).earliest_repair == date(2025, 4, 11)


def test_a_recorded_repair_or_removal_ends_disclosure_at_once() -> None:
    fields = penalty("2025-01-10")
    now = at(date(2025, 6, 1))
    assert verdict(PENALTY, fields, EVENT_DAY, now).disclosed
    repaired = verdict(PENALTY, fields, EVENT_DAY, now, repair=RepairKind.REPAIR)
    assert repaired.reason is PublicityReason.CREDIT_REPAIRED and not repaired.disclosed
    listing = {"listing_date": "2024-01-10"}
    removed = verdict(LISTING, listing, EVENT_DAY, now, repair=RepairKind.REMOVAL)
    assert removed.reason is PublicityReason.LIST_REMOVED


def test_the_lists_own_removal_and_repair_dates() -> None:
    now = at(date(2025, 6, 1))
    listed = {"listing_date": "2024-01-10"}
    assert verdict(LISTING, listed, EVENT_DAY, now).disclosed
    future = {**listed, "removal_date": "2025-06-02"}
    assert verdict(LISTING, future, EVENT_DAY, now).disclosed
    removed = {**listed, "removal_date": "2025-06-01"}
    assert verdict(LISTING, removed, EVENT_DAY, now).reason is PublicityReason.LIST_REMOVED
    repaired = {**listed, "credit_repair_date": "2025-05-01"}
    assert verdict(LISTING, repaired, EVENT_DAY, now).reason is PublicityReason.CREDIT_REPAIRED


def test_without_a_basis_date_the_event_day_counts() -> None:
    assert period_of(PENALTY, {}, date(2025, 1, 10)).last_public_day == date(2028, 1, 10)
    bad = {"decision_date": "2025-13-01"}
    assert period_of(PENALTY, bad, date(2025, 1, 10)).earliest_repair == date(2025, 4, 11)


def test_a_rule_naming_unknown_fields_or_bad_periods_is_refused() -> None:
    names = ("decision_date",)
    with pytest.raises(ValueError, match="unknown fields"):
        Publicity.from_dict({"basis_field": "decided", "min_months": 3, "max_months": 36}, names)
    with pytest.raises(ValueError, match="min_months"):
        Publicity.from_dict(
            {"basis_field": "decision_date", "min_months": 40, "max_months": 36}, names
        )
