"""The working-day calendar: shipped data, deadlines across holidays, strict loading."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.errors import FailedPrecondition, InvalidArgument
from xinlian.workdays import (
    SHANGHAI,
    CalendarDataError,
    UnknownCalendarYear,
    WorkdayCalendar,
    load_calendar,
)

CAL = load_calendar()
D = date.fromisoformat


def _year(year: int, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "year": year,
        "notice": {
            "title": f"国务院办公厅关于{year}年部分节假日安排的通知",
            "published": "2026-11-20",
        },
        "holidays": [
            {"name": "元旦", "first": f"{year}-01-01", "last": f"{year}-01-01", "days": 1},
        ],
        "working_days": [],
    }
    data.update(changes)
    return data


def _write(folder: Path, data: object, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{data['year']}.json")  # type: ignore[index]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# -- the shipped data ------------------------------------------------------------------


def test_shipped_years_and_their_notices() -> None:
    assert {2025, 2026} <= set(CAL.years)
    assert CAL.years[2025].published == D("2024-11-12")
    assert CAL.years[2026].published == D("2025-11-04")
    assert all(f"{y}年部分节假日安排" in c.title for y, c in CAL.years.items())
    # the revised 全国年节及纪念日放假办法 from 2025: 13 statutory days in all, so every
    # holiday period of a notice holds them (the rest are weekend days moved by 调休)
    for c in CAL.years.values():
        assert sum((h.last - h.first).days + 1 for h in c.holidays) >= 13


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2025-01-01", False),  # 元旦
        ("2025-01-26", True),  # Sunday, 调休 for 春节
        ("2025-01-27", True),
        ("2025-01-28", False),  # 除夕, first day of 春节
        ("2025-02-04", False),  # last day of 春节
        ("2025-02-05", True),
        ("2025-02-08", True),  # Saturday, 调休
        ("2025-02-09", False),  # an ordinary Sunday
        ("2025-04-27", True),  # Sunday, 调休 for 劳动节
        ("2025-05-05", False),
        ("2025-09-28", True),  # Sunday, 调休 for 国庆节、中秋节
        ("2025-10-08", False),
        ("2025-10-11", True),  # Saturday, 调休
        ("2026-01-04", True),  # Sunday, 调休 for 元旦
        ("2026-02-14", True),  # Saturday, 调休 for 春节
        ("2026-02-15", False),
        ("2026-02-23", False),  # Monday, last day of 春节
        ("2026-02-24", True),
        ("2026-02-28", True),  # Saturday, 调休
        ("2026-05-09", True),
        ("2026-09-20", True),
        ("2026-10-07", False),
        ("2026-10-10", True),
    ],
)
def test_is_workday(day: str, working: bool) -> None:
    assert CAL.is_workday(D(day)) is working


def test_holiday_names() -> None:
    assert CAL.holiday_name(D("2025-10-05")) == "国庆节、中秋节"
    assert CAL.holiday_name(D("2026-02-16")) == "春节"
    assert CAL.holiday_name(D("2026-02-14")) is None


# -- counting and deadlines ------------------------------------------------------------


def test_the_start_day_never_counts() -> None:
    assert CAL.add_workdays(D("2025-03-03"), 0) == D("2025-03-03")
    assert CAL.add_workdays(D("2025-03-03"), 1) == D("2025-03-04")  # Monday -> Tuesday
    assert CAL.add_workdays(D("2025-03-07"), 2) == D("2025-03-11")  # over a weekend
    assert CAL.workdays_between(D("2025-03-07"), D("2025-03-11")) == 2
    assert CAL.workdays_between(D("2025-03-11"), D("2025-03-07")) == -2


def test_deadline_across_national_day_2025() -> None:
    received = datetime(2025, 9, 30, 16, 0, tzinfo=SHANGHAI)
    deadline = CAL.deadline_after(received, 2)
    # 10-01..10-08 is the holiday; the 9th and 10th are the 1st and 2nd working days
    assert deadline == datetime(2025, 10, 10, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert deadline.utcoffset() == timedelta(hours=8)
    # the 调休 Sunday 09-28 and Saturday 10-11 are working days
    assert CAL.add_workdays(D("2025-09-27"), 1) == D("2025-09-28")
    assert CAL.add_workdays(D("2025-09-27"), 2) == D("2025-09-29")
    assert CAL.add_workdays(D("2025-10-09"), 2) == D("2025-10-11")
    # after 09-26: 28 (Sun, 调休), 29, 30, then 10-09, 10-10, 10-11 (Sat, 调休)
    assert CAL.workdays_between(D("2025-09-26"), D("2025-10-12")) == 6


def test_deadline_across_spring_festival_2025() -> None:
    # received on Friday 01-24: the 调休 Sunday 01-26 is the 1st working day, 01-27 the 2nd
    assert CAL.add_workdays(D("2025-01-24"), 2) == D("2025-01-27")
    # received on 01-27: 01-28..02-04 is the holiday, then 02-05 and 02-06
    assert CAL.add_workdays(D("2025-01-27"), 2) == D("2025-02-06")
    # received 02-06: 02-07 (Fri) and the 调休 Saturday 02-08
    assert CAL.add_workdays(D("2025-02-06"), 2) == D("2025-02-08")
    # after 01-24: 26 (Sun, 调休), 27, then 02-05, 02-06, 02-07, 02-08 (Sat, 调休)
    assert CAL.workdays_between(D("2025-01-24"), D("2025-02-09")) == 6


def test_deadline_across_spring_festival_2026() -> None:
    # 02-13 (Fri) -> the 调休 Saturday 02-14, then the holiday 02-15..02-23
    assert CAL.add_workdays(D("2026-02-13"), 1) == D("2026-02-14")
    assert CAL.add_workdays(D("2026-02-13"), 2) == D("2026-02-24")
    # the 调休 Saturday 02-28 is the 5th working day after the holiday
    assert CAL.add_workdays(D("2026-02-23"), 5) == D("2026-02-28")
    received_utc = datetime(2026, 2, 13, 17, 30, tzinfo=UTC)  # 02-14 01:30 in Shanghai
    assert CAL.deadline_after(received_utc, 2) == datetime(
        2026, 2, 25, 23, 59, 59, 999999, tzinfo=SHANGHAI
    )


def test_deadline_refuses_a_naive_time_and_zero_days() -> None:
    with pytest.raises(InvalidArgument):
        CAL.deadline_after(datetime(2025, 9, 30, 12), 2)
    with pytest.raises(InvalidArgument):
        CAL.deadline_after(datetime(2025, 9, 30, 12, tzinfo=UTC), 0)
    with pytest.raises(InvalidArgument):
        CAL.add_workdays(D("2025-09-30"), -1)
    with pytest.raises(InvalidArgument):
        CAL.is_workday(datetime(2025, 9, 30, 12, tzinfo=UTC))


def test_add_calendar_days() -> None:
    assert CAL.add_calendar_days(D("2025-09-20"), 15) == D("2025-10-05")
    assert CAL.add_calendar_days(D("2025-09-20"), 15, roll_forward=True) == D("2025-10-09")
    assert CAL.add_calendar_days(D("2025-10-05"), -15) == D("2025-09-20")
    assert CAL.add_calendar_days(D("2026-02-13"), 1, roll_forward=True) == D("2026-02-14")


# -- unknown years ---------------------------------------------------------------------


def test_a_year_without_data_raises_naming_it() -> None:
    last = max(CAL.years)
    with pytest.raises(UnknownCalendarYear) as caught:
        CAL.is_workday(date(last + 1, 3, 1))
    assert isinstance(caught.value, FailedPrecondition)
    message = str(caught.value)
    assert str(last + 1) in message
    assert f"{last + 1}.json" in message and "docs/workdays.md" in message
    with pytest.raises(UnknownCalendarYear, match="2024"):
        CAL.is_workday(D("2024-06-03"))


def test_crossing_into_an_unknown_year_raises() -> None:
    cal = WorkdayCalendar({2025: CAL.years[2025]})
    with pytest.raises(UnknownCalendarYear, match="2026"):
        cal.add_workdays(D("2025-12-30"), 5)
    with pytest.raises(UnknownCalendarYear, match="2026"):
        cal.deadline_after(datetime(2025, 12, 31, 9, tzinfo=SHANGHAI), 1)
    with pytest.raises(UnknownCalendarYear, match="2024"):
        cal.add_calendar_days(D("2025-01-01"), -1)
    assert cal.add_workdays(D("2025-12-29"), 2) == D("2025-12-31")


# -- the data files ----------------------------------------------------------------------


def test_an_operator_year_in_an_extra_directory_is_used(tmp_path: Path) -> None:
    year = max(CAL.years) + 1
    data = _year(
        year,
        holidays=[{"name": "元旦", "first": f"{year}-01-01", "last": f"{year}-01-03", "days": 3}],
    )
    saturday = next(
        d for d in (date(year, 1, 4) + timedelta(days=i) for i in range(7)) if d.weekday() == 5
    )
    data["working_days"] = [saturday.isoformat()]
    _write(tmp_path / "calendar", data)
    (tmp_path / "calendar" / "README.txt").write_text("ignored", encoding="utf-8")
    cal = load_calendar([tmp_path / "calendar"])
    assert set(CAL.years) | {year} == set(cal.years)
    assert cal.is_workday(saturday)
    assert not cal.is_workday(date(year, 1, 2))
    assert cal.years[year].source.endswith(f"{year}.json")
    # the year before now runs into the new one
    assert cal.add_workdays(date(year - 1, 12, 31), 1) >= date(year, 1, 4)


def test_an_operator_file_replaces_the_shipped_year(tmp_path: Path) -> None:
    data = json.loads((Path(__file__).parents[2] / "xinlian/data/workdays/2025.json").read_text())
    data["holidays"].append(
        {"name": "测试", "first": "2025-12-01", "last": "2025-12-01", "days": 1}
    )
    _write(tmp_path, data)
    cal = load_calendar([tmp_path])
    assert not cal.is_workday(D("2025-12-01"))
    assert CAL.is_workday(D("2025-12-01"))


def test_one_year_in_two_extra_directories_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "a", _year(2030))
    _write(tmp_path / "b", _year(2030))
    with pytest.raises(CalendarDataError, match="also in"):
        load_calendar([tmp_path / "a", tmp_path / "b"])


def test_a_missing_extra_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CalendarDataError, match="does not exist"):
        load_calendar([tmp_path / "nowhere"])


BAD: list[tuple[str, dict[str, Any], str]] = [
    (
        "reversed period",
        {"holidays": [{"name": "春节", "first": "2030-02-08", "last": "2030-02-02", "days": 7}]},
        r"holidays\[0\] \(春节\): last 2030-02-02 is before first 2030-02-08",
    ),
    (
        "wrong day count",
        {"holidays": [{"name": "春节", "first": "2030-02-02", "last": "2030-02-08", "days": 8}]},
        r"holidays\[0\] \(春节\): days 8, but 2030-02-02..2030-02-08 is 7",
    ),
    (
        "date outside the year",
        {"holidays": [{"name": "元旦", "first": "2029-12-31", "last": "2030-01-01", "days": 2}]},
        r"holidays\[0\] \(元旦\)\.first: 2029-12-31 is outside the file's year 2030",
    ),
    (
        "overlapping periods",
        {
            "holidays": [
                {"name": "中秋节", "first": "2030-09-12", "last": "2030-09-14", "days": 3},
                {"name": "重复", "first": "2030-09-14", "last": "2030-09-15", "days": 2},
            ]
        },
        r"holidays\[1\] \(重复\): 2030-09-14 is also in holidays\[0\] \(中秋节\)",
    ),
    (
        "working day inside a holiday",
        {
            "holidays": [{"name": "元旦", "first": "2030-01-01", "last": "2030-01-06", "days": 6}],
            "working_days": ["2030-01-05"],
        },
        r"working_days\[0\]: 2030-01-05 is also in holidays\[0\] \(元旦\)",
    ),
    (
        "working day on a weekday",
        {"working_days": ["2030-01-02"]},
        r"working_days\[0\]: 2030-01-02 is a Wednesday",
    ),
    (
        "working day in another year",
        {"working_days": ["2031-01-04"]},
        r"working_days\[0\]: 2031-01-04 is outside the file's year 2030",
    ),
    ("not a date", {"working_days": ["2030-1-5"]}, r"working_days\[0\]: got '2030-1-5'"),
    ("unknown key", {"extra": 1}, r"file: missing \[\], unknown \['extra'\]"),
    ("no holidays", {"holidays": []}, r"holidays: want a non-empty list"),
    (
        "overlong period",
        {"holidays": [{"name": "春节", "first": "2030-01-20", "last": "2030-02-20", "days": 32}]},
        r"32 days, more than 14",
    ),
]


@pytest.mark.parametrize(("case", "changes", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_malformed_file_is_refused_naming_file_and_entry(
    tmp_path: Path, case: str, changes: dict[str, Any], message: str
) -> None:
    path = _write(tmp_path, _year(2030, **changes))
    with pytest.raises(CalendarDataError, match=message) as caught:
        load_calendar([tmp_path])
    assert str(caught.value).startswith(f"{path}: ")


def test_a_file_named_for_another_year_or_not_json_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "a", _year(2030), name="2031.json")
    with pytest.raises(CalendarDataError, match=r"2031\.json: year: 2030 in a file named"):
        load_calendar([tmp_path / "a"])
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2030.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CalendarDataError, match=r"2030\.json: file: not JSON"):
        load_calendar([tmp_path / "b"])


# -- properties --------------------------------------------------------------------------

FIRST, LAST = date(min(CAL.years), 1, 1), date(max(CAL.years), 12, 31)
days = st.dates(min_value=FIRST, max_value=LAST - timedelta(days=60))


@settings(max_examples=300, deadline=None)
@given(days, st.integers(min_value=1, max_value=30))
def test_add_workdays_lands_on_a_working_day(day: date, n: int) -> None:
    end = CAL.add_workdays(day, n)
    assert end > day
    assert CAL.is_workday(end)
    assert CAL.workdays_between(day, end) == n
    assert CAL.workdays_between(day, end - timedelta(days=1)) == n - 1


@settings(max_examples=300, deadline=None)
@given(days, st.integers(min_value=0, max_value=60))
def test_workdays_between_agrees_with_add_workdays(start: date, span: int) -> None:
    end = start + timedelta(days=span)
    n = CAL.workdays_between(start, end)
    assert n == sum(CAL.is_workday(start + timedelta(days=i)) for i in range(1, span + 1))
    reached = CAL.add_workdays(start, n)
    assert reached <= end
    assert reached == end or not CAL.is_workday(end)
    assert CAL.workdays_between(end, start) == -n
