"""Synthetic enterprises: names built from a city, a trade name (字号) and an industry
word; credit codes that pass GB 32100 (with a GB 11714 organization code inside); legal
representatives with ID numbers carrying a valid ISO 7064 MOD 11-2 check digit.

The people's names, ID numbers, mobile numbers and bank accounts are made here too; the
record fields (:mod:`xinlian_samples.fields`) use them as well.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from authz.credit_code import CHARSET, make_code
from xinlian_samples.tables import (
    CAPITAL_WEIGHTS,
    CAPITALS_WAN,
    DIVISION_BY_CODE,
    DIVISIONS,
    ENTERPRISE_TYPES,
    GIVEN,
    INDUSTRIES,
    INDUSTRY_SECTIONS,
    ROADS,
    SECTIONS,
    SURNAMES,
    TRADE_CHARS,
    TRADE_WORDS,
    TRADE_WORDS_FUJIAN,
    Division,
    division_weights,
    section_weights,
)

_EARLIEST_ESTABLISHED = date(1993, 1, 1)
_LATEST_ESTABLISHED = date(2025, 6, 30)
_MA_CODES_FROM = date(2016, 1, 1)  # new organization codes start with "MA" since the reform


@dataclass(frozen=True)
class Enterprise:
    credit_code: str
    name: str
    trade_name: str  # 字号
    division: str  # GB/T 2260 code of the registering authority
    division_name: str
    industry: str  # GB/T 4754 section letter
    industry_name: str
    industry_code: str  # GB/T 4754-2017 section letter and division (大类), e.g. "C39"
    registration_dept: str  # position 1 of the credit code: "9" market regulation (工商)
    org_type: str  # position 2: "1" enterprise, "2" individual business, "3" farmers' cooperative
    enterprise_type: str  # 市场主体类型 as registered
    legal_representative: str
    legal_rep_id_number: str
    contact_mobile: str
    established: date
    registered_capital: Decimal  # 万元 (10,000 CNY)
    employees: int
    address: str
    basic_account_no: str

    @property
    def division_info(self) -> Division:
        """The division's names; a code outside :data:`DIVISIONS` gets empty names."""
        found = DIVISION_BY_CODE.get(self.division)
        return found if found is not None else Division(self.division, "", "", "", "")


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number (GB 11643)."""
    total = sum(int(ch) * pow(2, 17 - i, 11) for i, ch in enumerate(first17))
    return "10X98765432"[total % 11]


def person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN)
    if rng.random() < 0.7:
        given += rng.choice(GIVEN)
    return rng.choice(SURNAMES) + given


def id_number(rng: random.Random, division: str, born_after: int, born_before: int) -> str:
    born = date(born_after, 1, 1) + timedelta(
        days=rng.randrange((date(born_before, 1, 1) - date(born_after, 1, 1)).days)
    )
    first17 = f"{division}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_digit(first17)


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def bank_account(rng: random.Random) -> str:
    length = rng.randint(16, 19)
    return str(rng.randrange(10 ** (length - 1), 10**length))


_ORG_BODY = CHARSET  # organization code body characters that survive in a credit code


def _org_code8(rng: random.Random, established: date) -> str:
    if established >= _MA_CODES_FROM:
        return "MA" + rng.choice("0123456789") + "".join(rng.choices(_ORG_BODY, k=5))
    return str(rng.randrange(10_000_000, 80_000_000))


def _enterprise_name(
    rng: random.Random,
    division: Division,
    org_type: str,
    words: tuple[str, ...],
    shops: tuple[str, ...],
    suffix: str,
    long: bool,
) -> tuple[str, str]:
    pool = TRADE_WORDS + (TRADE_WORDS_FUJIAN if division.abbr == "闽" else ())
    two = "".join(rng.sample(TRADE_CHARS, 2))
    trade = rng.choice(pool) if rng.random() < 0.15 else two
    if long:
        trade += rng.choice(TRADE_CHARS)
    if org_type == "2":
        return trade, f"{division.local}{trade}{rng.choice(shops)}"
    if org_type == "3":
        crop = rng.choice(("蔬菜种植", "茶叶种植", "水果种植", "生猪养殖", "食用菌"))
        return trade, f"{division.name_prefix}{trade}{crop}专业合作社"
    return trade, f"{division.name_prefix}{trade}{rng.choice(words)}{suffix}"


def _industry_code(credit_code: str, division_code: str, section: str) -> str:
    """The section and a division of it likely in the enterprise's province, drawn from
    its own stream (the enterprises' stream, and so their codes, stay as they were)."""
    divisions, weights = division_weights(division_code, section)
    rng = random.Random(f"xinlian-industry:{credit_code}")
    return section + rng.choices(divisions, weights)[0]


def generate_enterprises(n: int, seed: int) -> list[Enterprise]:
    """``n`` synthetic enterprises with valid, unique credit codes and unique names."""
    rng = random.Random(f"xinlian-enterprises:{seed}")
    codes: set[str] = set()
    names: set[str] = set()
    out: list[Enterprise] = []
    span = (_LATEST_ESTABLISHED - _EARLIEST_ESTABLISHED).days
    types = list(ENTERPRISE_TYPES)
    type_weights = [t[2] for t in ENTERPRISE_TYPES]
    while len(out) < n:
        division = rng.choice(DIVISIONS)
        section = rng.choices(SECTIONS, section_weights(division.code))[0]
        industry = INDUSTRIES[section]
        roll = rng.random()
        org_type = "1" if roll < 0.82 else ("2" if roll < 0.96 else "3")
        if org_type == "3":
            section = "A"
        established = _EARLIEST_ESTABLISHED + timedelta(days=rng.randrange(span))
        if org_type == "1":
            enterprise_type, suffix, _ = rng.choices(types, type_weights)[0]
            capital = Decimal(rng.choices(CAPITALS_WAN, CAPITAL_WEIGHTS)[0])
            employees = max(1, int(float(capital) ** 0.6 * rng.uniform(0.5, 2.0)))
        elif org_type == "2":
            enterprise_type, suffix = "个体工商户", ""
            capital = Decimal(rng.randint(1, 50))
            employees = rng.randint(1, 8)
        else:
            enterprise_type, suffix = "农民专业合作社", ""
            capital = Decimal(rng.choice((10, 20, 50, 100, 200, 500)))
            employees = rng.randint(5, 60)
        trade, name = "", ""
        for attempt in range(40):
            trade, name = _enterprise_name(
                rng, division, org_type, industry.words, industry.shops, suffix, long=attempt >= 20
            )
            if name not in names:
                break
        else:
            continue
        code = make_code("9", org_type, division.code, _org_code8(rng, established))
        if code in codes:
            continue
        codes.add(code)
        names.add(name)
        born_before = min(established.year - 22, 2003)
        out.append(
            Enterprise(
                credit_code=code,
                name=name,
                trade_name=trade,
                division=division.code,
                division_name=division.name,
                industry=section,
                industry_name=INDUSTRY_SECTIONS[section],
                industry_code=_industry_code(code, division.code, section),
                registration_dept="9",
                org_type=org_type,
                enterprise_type=enterprise_type,
                legal_representative=person_name(rng),
                legal_rep_id_number=id_number(
                    rng,
                    division.code if rng.random() < 0.7 else rng.choice(DIVISIONS).code,
                    max(1950, born_before - 33),
                    born_before,
                ),
                contact_mobile=mobile(rng),
                established=established,
                registered_capital=capital,
                employees=employees,
                address=f"{division.local}{rng.choice(ROADS)}{rng.randint(1, 399)}号",
                basic_account_no=bank_account(rng),
            )
        )
    return out
