"""The reference tables sample data is drawn from, read once from ``xinlian_samples/data/``.

``places.json``
    real GB/T 2260 county-level divisions by province, and road names for addresses;
``industries.json``
    GB/T 4754-2017 sections (门类) and, for those drawn for enterprises, a weight and the
    words of company names, of shop names (个体工商户) and of the business scope;
``names.json``
    surnames and given-name characters, trade-name (字号) characters and words,
    enterprise types, registered capitals, banks;
``records.json``
    what the record fields are made of: licences, violations, case types, dishonesty
    lists and their measures, honours, intellectual property.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any


def _load(name: str) -> Any:
    return json.loads(resources.files("xinlian_samples.data").joinpath(name).read_text("utf-8"))


def _rows(rows: list[list[Any]]) -> tuple[Any, ...]:
    return tuple(tuple(row) for row in rows)


_PLACES = _load("places.json")
_INDUSTRIES = _load("industries.json")
_NAMES = _load("names.json")
_RECORDS = _load("records.json")


# ---- places ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Division:
    """A county-level division of GB/T 2260."""

    code: str
    province: str  # "福建省"; for a municipality the municipality itself ("北京市")
    city: str  # prefecture-level city ("福州市"), or the municipality
    district: str  # "鼓楼区", or a county-level city ("晋江市")
    abbr: str  # one-character province abbreviation used in document numbers ("闽")

    @property
    def name(self) -> str:
        """Full name, e.g. 福建省福州市鼓楼区, 北京市朝阳区."""
        head = "" if self.province == self.city else self.province
        return head + self.city + self.district

    @property
    def local(self) -> str:
        """City and district, e.g. 福州市鼓楼区 (the start of an address)."""
        return self.city + self.district

    @property
    def name_prefix(self) -> str:
        """The place word of enterprise names: the county-level city if any, else the city."""
        return self.district[:-1] if self.district.endswith("市") else self.city[:-1]


DIVISIONS: tuple[Division, ...] = tuple(
    Division(code, p["province"], city, district, p["abbr"])
    for p in _PLACES["provinces"]
    for code, city, district in p["divisions"]
)
DIVISION_BY_CODE: Mapping[str, Division] = {d.code: d for d in DIVISIONS}
ROADS: tuple[str, ...] = tuple(_PLACES["roads"])


# ---- industries --------------------------------------------------------------------------

INDUSTRY_SECTIONS: Mapping[str, str] = _INDUSTRIES["sections"]
"""GB/T 4754-2017 sections (门类). S and T are never drawn for enterprises."""


@dataclass(frozen=True)
class Industry:
    """What a section drawn for enterprises looks like in names and business scopes."""

    weight: int
    words: tuple[str, ...]  # company name words
    shops: tuple[str, ...]  # shop words for 个体工商户
    scope: str  # business scope
    divisions: tuple[str, ...] = ()  # GB/T 4754-2017 divisions (大类) drawn for it


INDUSTRIES: Mapping[str, Industry] = {
    section: Industry(
        v["weight"], tuple(v["words"]), tuple(v["shops"]), v["scope"], tuple(v["divisions"])
    )
    for section, v in _INDUSTRIES["industries"].items()
}
SECTIONS: tuple[str, ...] = tuple(INDUSTRIES)
SECTION_WEIGHTS: tuple[int, ...] = tuple(i.weight for i in INDUSTRIES.values())
_PROVINCES: Mapping[str, Any] = {
    k: v for k, v in _INDUSTRIES["provinces"].items() if not k.startswith("_")
}
PROVINCE_WEIGHT_FACTOR = 4
"""How much more often a province's own divisions of a section are drawn."""


def section_weights(division_code: str) -> tuple[float, ...]:
    """The section weights for enterprises registered in a division: the national
    weights times the province's multipliers (Shaanxi draws more mining and energy,
    Beijing more software and research)."""
    factors = _PROVINCES.get(division_code[:2], {}).get("weights", {})
    return tuple(
        w * float(factors.get(s, 1.0)) for s, w in zip(SECTIONS, SECTION_WEIGHTS, strict=True)
    )


def division_weights(division_code: str, section: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The section's divisions and their weights in a province (its own first)."""
    own = set(_PROVINCES.get(division_code[:2], {}).get("divisions", {}).get(section, ()))
    divisions = INDUSTRIES[section].divisions
    return divisions, tuple(PROVINCE_WEIGHT_FACTOR if d in own else 1 for d in divisions)


# ---- names -------------------------------------------------------------------------------

SURNAMES: str = _NAMES["surnames"]
GIVEN: str = _NAMES["given"]
"""Characters of given names."""
TRADE_CHARS: str = _NAMES["trade_chars"]
TRADE_WORDS: tuple[str, ...] = tuple(_NAMES["trade_words"])
TRADE_WORDS_FUJIAN: tuple[str, ...] = tuple(_NAMES["trade_words_fujian"])
ENTERPRISE_TYPES: tuple[tuple[str, str, int], ...] = _rows(_NAMES["enterprise_types"])
"""(type as registered, name suffix, weight)"""
CAPITALS_WAN: tuple[int, ...] = tuple(_NAMES["capitals_wan"])
CAPITAL_WEIGHTS: tuple[int, ...] = tuple(_NAMES["capital_weights"])
BANKS: tuple[str, ...] = tuple(_NAMES["banks"])


# ---- record fields -----------------------------------------------------------------------

LICENSES: tuple[tuple[str, str], ...] = _rows(_RECORDS["licenses"])
"""(licence name, number prefix)"""
VIOLATIONS: tuple[tuple[str, str, str], ...] = _rows(_RECORDS["violations"])
"""(violation type, penalty basis, facts)"""
CASE_TYPES: tuple[tuple[str, int, str], ...] = _rows(_RECORDS["case_types"])
"""(case type, weight, case number word)"""
LISTS: tuple[tuple[str, str, str, str], ...] = _rows(_RECORDS["lists"])
"""(list type, listing reason, listing basis, kind of listing authority)"""
MEASURES: tuple[str, ...] = tuple(_RECORDS["measures"])
HONORS: tuple[tuple[str, str, str, str, int], ...] = _rows(_RECORDS["honors"])
"""(honour name, category, level, awarding authority template, years valid or 0)"""
IP_TYPES: tuple[tuple[str, int, str, int], ...] = _rows(_RECORDS["ip_types"])
"""(type, weight, patent number type digit or "", years of protection)"""
IP_OBJECTS: tuple[str, ...] = tuple(_RECORDS["ip_objects"])
IP_PARTS: tuple[str, ...] = tuple(_RECORDS["ip_parts"])
