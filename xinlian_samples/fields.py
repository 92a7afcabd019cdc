"""Per-field value makers: what a record field's maker sees (:class:`Ctx`), the value
helpers the makers share, and the maker chosen from a field's type and name
(:func:`fallback`) for fields the catalog modules do not know.

The makers of the default catalog's fields are in :mod:`xinlian_samples.fields_registers`
(what authorities register about an enterprise) and
:mod:`xinlian_samples.fields_operations` (the figures of its operations); each holds a
:class:`KnownFields` table.

Every value is a string in its wire form:

    integer   non-negative decimal digits          "42"
    decimal   digits, a point, two digits           "12345.67"
    date      ISO 8601 calendar date                "2025-09-01"
    datetime  RFC 3339 in UTC                       "2025-09-15T08:30:00Z"
    boolean   "true" or "false"
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from authz.catalog import FieldSpec, FieldType
from authz.credit_code import make_code
from xinlian_samples.enterprises import Enterprise, bank_account, id_number, mobile, person_name
from xinlian_samples.tables import DIVISIONS

END = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
"""Every generated event happens before this instant."""

T = TypeVar("T")


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Ctx:
    """What a field generator sees while one record is being made."""

    __slots__ = ("day", "div", "ent", "event", "rng", "scratch", "sticky")

    def __init__(self, ent: Enterprise, rng: random.Random) -> None:
        self.ent = ent
        self.div = ent.division_info
        self.rng = rng
        self.sticky: dict[str, Any] = {}  # per enterprise and call: stable attributes
        self.scratch: dict[str, Any] = {}  # per record: choices shared between fields
        self.event = END
        self.day = END.date()

    def stable(self, key: str, make: Callable[[random.Random], T]) -> T:
        """An attribute of the enterprise that stays the same across its records."""
        if key not in self.sticky:
            self.sticky[key] = make(random.Random(f"{self.ent.credit_code}:{key}"))
        result: T = self.sticky[key]
        return result

    def memo(self, key: str, make: Callable[[], T]) -> T:
        """A value made once per record, the same for every field that asks for ``key``."""
        if key not in self.scratch:
            self.scratch[key] = make()
        result: T = self.scratch[key]
        return result

    def pick(self, key: str, options: Sequence[tuple[str, int]]) -> str:
        """One weighted choice among ``options`` (value, weight), made once per record."""
        return self.memo(key, lambda: weighted(self.rng, options))


Gen = Callable[[Ctx], str | None]


def money(rng: random.Random, low: float, high: float) -> str:
    cents = rng.randrange(int(low * 100), int(high * 100) + 1)
    return f"{cents // 100}.{cents % 100:02d}"


def cents(value: str) -> int:
    whole, _, frac = value.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def fmt_cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def weighted(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]


def month_start(day: date, back: int = 1) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def days(day: date, delta: int) -> date:
    return day + timedelta(days=delta)


def years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def not_before(day: date, floor: date) -> date:
    return day if day >= floor else floor


def scale(ctx: Ctx) -> float:
    return float(ctx.ent.employees)


def authority(ctx: Ctx, suffix: str = "市场监督管理局") -> str:
    return (
        f"{ctx.div.local}{suffix}"
        if not ctx.div.district.endswith("市")
        else ctx.div.district + suffix
    )


def court(ctx: Ctx) -> str:
    return authority(ctx, "人民法院")


def doc_no(ctx: Ctx, word: str) -> str:
    return f"{ctx.div.name_prefix}{word}〔{ctx.day.year}〕{ctx.rng.randint(1, 3000)}号"


def gov_code(ctx: Ctx) -> str:
    org = "".join(ctx.rng.choices("0123456789", k=8))
    division = ctx.ent.division
    if len(division) != 6 or not (division.isascii() and division.isdigit()):
        division = "100000"
    return make_code("1", "1", division, org)


TYPES = (FieldType.STRING, FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE, FieldType.BOOLEAN)
"""The field types, for short names in the tables: ``_S, _I, _D, _DA, _B = TYPES``."""


class KnownFields(dict[tuple[str, str], tuple[FieldType, Gen]]):
    """Makers of known fields: (category id, or "" for any category; field name) -> (the
    field type they make values of, the maker)."""

    def add(self, name: str, ftype: FieldType, gen: Gen, *, category: str = "") -> None:
        self[(category, name)] = (ftype, gen)


def fallback(spec: FieldSpec) -> Gen:
    """A generator chosen from the field's type and words in its name."""
    name = spec.name.lower()

    def has(*words: str) -> bool:
        return any(w in name for w in words)

    if spec.type is FieldType.STRING:
        if has("credit_code", "uscc"):
            if has("authority", "issuer", "agency", "dept", "department"):
                return gov_code
            return lambda c: c.ent.credit_code
        if has("id_number", "id_card", "idcard", "id_no", "identity"):
            if has("legal", "rep"):
                return lambda c: c.ent.legal_rep_id_number
            return lambda c: id_number(c.rng, c.rng.choice(DIVISIONS).code, 1960, 2004)
        if has("mobile", "phone", "tel"):
            return lambda c: mobile(c.rng)
        if has("account", "card_no", "iban"):
            return lambda c: bank_account(c.rng)
        if has("email"):
            return lambda c: f"user{c.rng.randrange(10**6):06d}@example.com"
        if has("enterprise", "company", "corp", "org") and has("name"):
            return lambda c: c.ent.name
        if has("person", "legal", "rep", "contact", "operator", "holder", "manager", "owner"):
            return lambda c: person_name(c.rng)
        if has("name"):
            return lambda c: person_name(c.rng) if c.rng.random() < 0.5 else c.ent.name
        if has("address", "location", "addr"):
            return lambda c: c.ent.address
        if has("authority", "court", "department", "agency", "organ"):
            return authority
        if has("rating", "grade", "level"):
            return lambda c: c.rng.choice(("A", "B", "C", "D"))
        if has("status", "state"):
            return lambda c: weighted(c.rng, (("正常", 90), ("异常", 10)))
        if has("division", "region", "area_code"):
            return lambda c: c.ent.division
        if name.endswith(("_no", "_number", "_code", "_id")) or has("number"):
            return lambda c: f"{c.div.abbr}{c.ent.division}{c.rng.randrange(10**8):08d}"
        return lambda c: f"示例{spec.name_zh or spec.name}{c.rng.randrange(10**4):04d}"
    if spec.type is FieldType.INTEGER:
        if has("month", "day", "overdue"):
            return lambda c: str(c.rng.choices((0, 1, 2, 3, 6, 12), (80, 8, 5, 3, 2, 2))[0])
        if has("year"):
            return lambda c: str(c.day.year)
        if has("count", "headcount", "number", "num", "qty", "quantity", "employees", "staff"):
            return lambda c: str(c.rng.randint(0, max(1, c.ent.employees * 2)))
        if has("percent", "ratio", "rate"):
            return lambda c: str(c.rng.randint(0, 100))
        return lambda c: str(c.rng.randint(0, 10_000))
    if spec.type is FieldType.DECIMAL:
        if has("percent", "ratio", "rate"):
            return lambda c: money(c.rng, 0, 100)
        if has("area"):
            return lambda c: money(c.rng, 10, 20_000)
        if has("capital"):
            return lambda c: f"{c.ent.registered_capital:.2f}"
        return lambda c: money(c.rng, 0, max(1_000.0, scale(c) * 20_000))
    if spec.type is FieldType.DATE:
        if has("birth"):
            return lambda c: days(date(1960, 1, 1), c.rng.randrange(16_000)).isoformat()
        if has("establish", "founded", "incorporat"):
            return lambda c: c.ent.established.isoformat()
        if has("until", "expir", "end", "deadline", "due", "removal") or name.endswith("_to"):
            return lambda c: days(c.day, c.rng.randint(30, 1825)).isoformat()
        if has("month", "period"):
            return lambda c: month_start(c.day).isoformat()
        return lambda c: not_before(
            days(c.day, -c.rng.randint(0, 30)), c.ent.established
        ).isoformat()
    if spec.type is FieldType.DATETIME:
        return lambda c: rfc3339(c.event - timedelta(seconds=c.rng.randint(0, 3600)))
    # BOOLEAN
    if has("arrear", "overdue", "dishonest", "restrict", "sealed", "pledge", "default", "penal"):
        return lambda c: "true" if c.rng.random() < 0.15 else "false"
    return lambda c: "true" if c.rng.random() < 0.5 else "false"
