"""The Chinese working-day calendar (工作日历), as data.

A working day is an adjusted working day (调休上班) of the year's State Council General
Office notice (国务院办公厅关于XXXX年部分节假日安排的通知), or else a Monday to Friday outside
its holiday periods. One JSON file per year: ``xinlian/data/workdays/YYYY.json`` ships with
the package; an operator adds (or corrects) a year with ``YYYY.json`` in an extra directory
passed to :func:`load_calendar`. Every file is checked strictly when loaded.

A date in a year with no file is an error (:class:`UnknownCalendarYear`), never a guess;
so is any computation that has to look at such a day. See docs/workdays.md.

Counting rule: the day something is received never counts. ``add_workdays(d, n)`` is the
n-th working day *after* ``d``; "forward within 2 working days of receipt" ends at the
end (23:59:59.999999, Asia/Shanghai) of ``add_workdays(receipt_day, 2)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from xinlian.errors import FailedPrecondition, InvalidArgument


def _shanghai() -> tzinfo:
    # Without a tz database (a slim image with neither /usr/share/zoneinfo nor tzdata) a
    # fixed UTC+8 is exact: China has kept UTC+8 without daylight saving since 1991.
    try:
        return ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=8), "Asia/Shanghai")


SHANGHAI = _shanghai()
PACKAGE_DATA = "xinlian.data.workdays"
MAX_PERIOD_DAYS = 14  # the longest holiday period a file may hold (so far: 9 days, 春节 2026)
_END_OF_DAY = time(23, 59, 59, 999999)


def end_of_day(day: date) -> datetime:
    """The last moment (23:59:59.999999, Asia/Shanghai, aware) of ``day``: a deadline on
    that day is met by any moment t <= it."""
    return datetime.combine(day, _END_OF_DAY, tzinfo=SHANGHAI)


class CalendarDataError(FailedPrecondition):
    """A calendar file is malformed; the message names the file and the entry."""

    default_reason = "CALENDAR_DATA"


class UnknownCalendarYear(FailedPrecondition):
    """A date lies in a year for which no calendar file was loaded."""

    default_reason = "CALENDAR_YEAR_UNKNOWN"

    def __init__(self, year: int, known: Iterable[int]) -> None:
        shown = ", ".join(str(y) for y in sorted(known)) or "none"
        super().__init__(
            f"no working-day calendar for {year} (known years: {shown}); add {year}.json, "
            f"transcribed from 国务院办公厅关于{year}年部分节假日安排的通知, to a calendar "
            "directory (see docs/workdays.md)",
            metadata={"year": str(year)},
        )
        self.year = year


@dataclass(frozen=True)
class Holiday:
    name: str
    first: date
    last: date


@dataclass(frozen=True)
class CalendarYear:  # one year's notice: its holiday periods and adjusted working days
    year: int
    title: str
    published: date
    number: str | None
    holidays: tuple[Holiday, ...]
    working_days: frozenset[date]
    source: str

    def holiday_days(self) -> frozenset[date]:
        return frozenset(
            h.first + timedelta(days=i)
            for h in self.holidays
            for i in range((h.last - h.first).days + 1)
        )


def _fail(source: str, entry: str, problem: str) -> CalendarDataError:
    return CalendarDataError(f"{source}: {entry}: {problem}", metadata={"file": source})


def _keys(source: str, entry: str, obj: object, need: set[str], may: set[str]) -> dict[str, object]:
    if not isinstance(obj, dict):
        raise _fail(source, entry, f"got {type(obj).__name__}, want an object")
    missing, unknown = need - obj.keys(), obj.keys() - need - may
    if missing or unknown:
        raise _fail(source, entry, f"missing {sorted(missing)}, unknown {sorted(unknown)}")
    return obj


def _text(source: str, entry: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, entry, f"got {value!r}, want non-empty text")
    return value


def _date(source: str, entry: str, value: object, year: int | None = None) -> date:
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise _fail(source, entry, f"got {value!r}, want a date YYYY-MM-DD") from None
    if year is not None and day.year != year:
        raise _fail(source, entry, f"{day} is outside the file's year {year}")
    return day


def parse_year(data: object, source: str) -> CalendarYear:
    """One year file's content (already JSON-decoded), checked strictly."""
    top = _keys(source, "file", data, {"year", "notice", "holidays", "working_days"}, {"note"})
    year = top["year"]
    if type(year) is not int or not 1991 <= year <= 9999:
        raise _fail(source, "year", f"got {year!r}, want a year from 1991")
    stem = Path(source).stem
    if stem != str(year):
        raise _fail(source, "year", f"{year} in a file named {Path(source).name}")
    notice = _keys(source, "notice", top["notice"], {"title", "published"}, {"number"})
    title = _text(source, "notice.title", notice["title"])
    published = _date(source, "notice.published", notice["published"])
    number = _text(source, "notice.number", notice["number"]) if "number" in notice else None
    periods = top["holidays"]
    if not isinstance(periods, list) or not periods:
        raise _fail(source, "holidays", "want a non-empty list of holiday periods")
    holidays: list[Holiday] = []
    taken: dict[date, str] = {}
    for i, item in enumerate(periods):
        entry = f"holidays[{i}]"
        raw = _keys(source, entry, item, {"name", "first", "last", "days"}, set())
        name = _text(source, f"{entry}.name", raw["name"])
        entry = f"holidays[{i}] ({name})"
        first = _date(source, f"{entry}.first", raw["first"], year)
        last = _date(source, f"{entry}.last", raw["last"], year)
        span = (last - first).days + 1
        if span < 1:
            raise _fail(source, entry, f"last {last} is before first {first}")
        if span > MAX_PERIOD_DAYS:
            raise _fail(source, entry, f"{span} days, more than {MAX_PERIOD_DAYS}")
        if raw["days"] != span:
            raise _fail(source, entry, f"days {raw['days']!r}, but {first}..{last} is {span}")
        for k in range(span):
            day = first + timedelta(days=k)
            if day in taken:
                raise _fail(source, entry, f"{day} is also in {taken[day]}")
            taken[day] = entry
        holidays.append(Holiday(name, first, last))
    listed = top["working_days"]
    if not isinstance(listed, list):
        raise _fail(source, "working_days", "want a list of dates")
    working: set[date] = set()
    for i, value in enumerate(listed):
        entry = f"working_days[{i}]"
        day = _date(source, entry, value, year)
        if day in working:
            raise _fail(source, entry, f"{day} is listed twice")
        if day.weekday() < 5:
            raise _fail(source, entry, f"{day} is a {day:%A}: adjusted working days are weekends")
        if day in taken:
            raise _fail(source, entry, f"{day} is also in {taken[day]}")
        working.add(day)
    return CalendarYear(year, title, published, number, tuple(holidays), frozenset(working), source)


def _read(text: str, source: str) -> CalendarYear:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _fail(source, "file", f"not JSON: {exc}") from None
    return parse_year(data, source)


def load_calendar(extra_dirs: Iterable[str | Path] = ()) -> WorkdayCalendar:
    """The shipped years, then each ``YYYY.json`` of ``extra_dirs``: an operator's file
    replaces the shipped one of its year; two operator files for one year are an error."""
    years: dict[int, CalendarYear] = {}
    for item in sorted(resources.files(PACKAGE_DATA).iterdir(), key=lambda t: t.name):
        if item.name.endswith(".json"):
            parsed = _read(item.read_text(encoding="utf-8"), f"{PACKAGE_DATA}/{item.name}")
            years[parsed.year] = parsed
    added: dict[int, str] = {}
    for folder in map(Path, extra_dirs):
        if not folder.is_dir():
            raise CalendarDataError(f"calendar directory {folder} does not exist")
        for path in sorted(folder.glob("*.json")):
            parsed = _read(path.read_text(encoding="utf-8"), str(path))
            if parsed.year in added:
                raise _fail(str(path), "year", f"{parsed.year} is also in {added[parsed.year]}")
            added[parsed.year] = str(path)
            years[parsed.year] = parsed
    return WorkdayCalendar(years)


def _plain_date(name: str, value: object) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidArgument.field(name, value, "a date (not a datetime)")
    return value


def _count(name: str, value: object, least: int) -> int:
    if type(value) is not int or value < least:
        raise InvalidArgument.field(name, value, f"an integer >= {least}")
    return value


class WorkdayCalendar:
    """Working days of the loaded years; every date it takes or returns is in one."""

    def __init__(self, years: Mapping[int, CalendarYear]) -> None:
        self.years: dict[int, CalendarYear] = dict(sorted(years.items()))
        self._holidays = {y: c.holiday_days() for y, c in self.years.items()}

    @classmethod
    def load(cls, extra_dirs: Iterable[str | Path] = ()) -> WorkdayCalendar:
        return load_calendar(extra_dirs)

    def _known(self, day: date) -> date:
        if day.year not in self.years:
            raise UnknownCalendarYear(day.year, self.years)
        return day

    def _step(self, day: date, days: int = 1) -> date:
        try:
            return self._known(day + timedelta(days=days))
        except OverflowError:
            raise UnknownCalendarYear(day.year + (1 if days > 0 else -1), self.years) from None

    def is_workday(self, day: date) -> bool:
        day = self._known(_plain_date("day", day))
        if day in self.years[day.year].working_days:
            return True
        return day not in self._holidays[day.year] and day.weekday() < 5

    def holiday_name(self, day: date) -> str | None:
        """The notice's name of the holiday period ``day`` falls in, if any."""
        day = self._known(_plain_date("day", day))
        for h in self.years[day.year].holidays:
            if h.first <= day <= h.last:
                return h.name
        return None

    def add_workdays(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (``day`` itself never counts; n=0 gives
        ``day``). ``workdays_between(day, add_workdays(day, n)) == n``."""
        day = self._known(_plain_date("day", day))
        left = _count("n", n, 0)
        while left:
            day = self._step(day)
            left -= self.is_workday(day)
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days d with ``start < d <= end``; negative when ``end`` is earlier."""
        start = self._known(_plain_date("start", start))
        end = self._known(_plain_date("end", end))
        if end < start:
            return -self.workdays_between(end, start)
        count, day = 0, start
        while day < end:
            day = self._step(day)
            count += self.is_workday(day)
        return count

    def next_workday(self, day: date) -> date:
        """``day`` when it is a working day, else the first working day after it."""
        return day if self.is_workday(day) else self.add_workdays(day, 1)

    def add_calendar_days(self, day: date, n: int, *, roll_forward: bool = False) -> date:
        """``day`` plus ``n`` calendar days (n may be negative). With ``roll_forward`` a
        result that is not a working day moves to the next working day (a period whose
        last day is a rest day ends on the next working day, 民法典 第二百零三条)."""
        day = self._known(_plain_date("day", day))
        result = self._step(day, _count("n", n, -36600))
        return self.next_workday(result) if roll_forward else result

    def deadline_after(self, received: datetime, workdays: int) -> datetime:
        """The end (23:59:59.999999, Asia/Shanghai, aware) of the ``workdays``-th working
        day after the local day of ``received``; a moment t meets it when t <= it."""
        if not isinstance(received, datetime) or received.utcoffset() is None:
            raise InvalidArgument.field("received", received, "a timezone-aware datetime")
        day = self.add_workdays(
            received.astimezone(SHANGHAI).date(), _count("workdays", workdays, 1)
        )
        return end_of_day(day)
