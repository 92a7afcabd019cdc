"""Industry codes (国民经济行业分类, GB/T 4754-2017): pure, no I/O.

The standard's sections (门类, a letter A-T) and divisions (大类, two digits 01-97) are
shipped as data (``authz/data/industries_gbt4754_2017.json``, from the standard's
published table). A record's ``industry_code`` is the section letter followed by the
division, group or class digits (2, 3 or 4 digits: ``C``, ``C13``, ``C131``, ``C1311``);
it is valid when the section exists and, with digits, the division is one of that
section's. Finer digits (groups, classes) are checked for form only.

A batch push selects by an industry *selector*, a valid code of any of these lengths: a
code matches when it starts with the selector.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from xinlian.errors import InvalidArgument

CODE_RE = re.compile(r"([A-T])(\d{2,4})?")
FIELD = "industry_code"


@dataclass(frozen=True)
class Industries:
    sections: dict[str, str]  # letter -> name
    divisions: dict[str, tuple[str, str]]  # two digits -> (section letter, name)

    def check(self, code: str, *, field_name: str = FIELD) -> str:
        """``code`` if valid (see the module), else INVALID_ARGUMENT naming the field."""
        found = CODE_RE.fullmatch(code)
        if found is None or found.group(1) not in self.sections:
            raise InvalidArgument.field(
                field_name, code, "a GB/T 4754-2017 section letter A-T and 2-4 digits"
            )
        digits = found.group(2)
        if digits:
            division = self.divisions.get(digits[:2])
            if division is None or division[0] != found.group(1):
                raise InvalidArgument.field(
                    field_name, code, f"a division of section {found.group(1)} (GB/T 4754-2017)"
                )
        return code

    def valid(self, code: str) -> bool:
        try:
            self.check(code)
        except InvalidArgument:
            return False
        return True

    def name_of(self, code: str) -> str:
        """The section's or division's name of a valid code."""
        if len(code) >= 3:
            return self.divisions[code[1:3]][1]
        return self.sections[code[:1]]


def matches(selector: str, code: str | None) -> bool:
    """Whether an enterprise's industry ``code`` falls under ``selector`` (empty: all)."""
    if not selector:
        return True
    return code is not None and code.startswith(selector)


@cache
def load_industries() -> Industries:
    text = (
        resources.files("authz.data")
        .joinpath("industries_gbt4754_2017.json")
        .read_text(encoding="utf-8")
    )
    data = json.loads(text)
    sections: dict[str, str] = {}
    divisions: dict[str, tuple[str, str]] = {}
    for section in data["sections"]:
        sections[section["code"]] = section["name_zh"]
        for division in section["divisions"]:
            divisions[division["code"]] = (section["code"], division["name_zh"])
    return Industries(sections, divisions)


__all__ = ["CODE_RE", "FIELD", "Industries", "load_industries", "matches"]
