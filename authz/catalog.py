"""The sharing catalog (共享清单) as typed, immutable values.

The catalog is versioned data in ``authz/data/catalog.json``; this module only models and
loads it. "谁产生、谁提供、谁负责": each category names the department kind responsible for
it, whether it is public, its fields with type and sensitivity, and its update deadline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

from xinlian.errors import InvalidArgument


class Sensitivity(Enum):
    """Field sensitivity, lowest to highest (JR/T 0171-2020 C1 < C2 < C3)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    C1 = "C1"
    C2 = "C2"
    C3 = "C3"

    @property
    def rank(self) -> int:
        return _SENSITIVITY_ORDER.index(self)


_SENSITIVITY_ORDER = [
    Sensitivity.PUBLIC,
    Sensitivity.INTERNAL,
    Sensitivity.C1,
    Sensitivity.C2,
    Sensitivity.C3,
]


class FieldType(Enum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"


class Purpose(Enum):
    """The closed list of purposes a grant or query may name."""

    FINANCING = "financing"  # 融资
    GUARANTEE = "guarantee"  # 融资担保
    POST_LOAN = "post_loan"  # 贷后管理
    GOVERNMENT_SERVICE = "government_service"  # 政务服务

    @property
    def label_zh(self) -> str:
        return _PURPOSE_ZH[self]

    @classmethod
    def parse(cls, value: str, *, field_name: str = "purpose") -> Purpose:
        try:
            return cls(value)
        except ValueError:
            want = "one of " + ", ".join(p.value for p in cls)
            raise InvalidArgument.field(field_name, value, want) from None


_PURPOSE_ZH = {
    Purpose.FINANCING: "融资",
    Purpose.GUARANTEE: "融资担保",
    Purpose.POST_LOAN: "贷后管理",
    Purpose.GOVERNMENT_SERVICE: "政务服务",
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    name_zh: str
    type: FieldType
    required: bool
    sensitivity: Sensitivity
    default_mask: str = "keep"
    description: str = ""
    # a rating or computed indicator (纳税信用等级, 海关信用等级, "arrears: yes/no"), not
    # 原始明细数据: delivered as is to a consumer whose grant covers it (authz.desensitize)
    derived: bool = False
    # a code list the value must be in (``authz.industry``: "gbt4754_2017"); "" none
    code_list: str = ""


_END_REASONS = frozenset({"LIST_REMOVED", "CREDIT_REPAIRED"})  # authz.publicity's reasons


@dataclass(frozen=True)
class PublicityOverride:
    """A longer (or shorter) period for records whose ``field`` holds one of ``values``."""

    field: str
    values: frozenset[str]
    min_months: int | None = None
    max_months: int | None = None


@dataclass(frozen=True)
class Publicity:
    """How long a public negative record is disclosed as public data (公示期), as data:
    ``authz.publicity`` applies it. Months count from the day in ``basis_field``."""

    basis_field: str  # the decision or listing date
    min_months: int  # a repair may end publicity only after this
    max_months: int  # publicity ends after this at the latest
    overrides: tuple[PublicityOverride, ...] = ()
    until_field: str | None = None  # the source's own last day of publicity, if any
    # dates that end publicity once reached, each with its reason (removal, repair …)
    end_fields: tuple[tuple[str, str], ...] = ()
    removable: bool = False  # a removal from the list may be recorded, not only a repair

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], field_names: tuple[str, ...]) -> Publicity:
        overrides = tuple(
            PublicityOverride(
                field=o["field"],
                values=frozenset(o["values"]),
                min_months=o.get("min_months"),
                max_months=o.get("max_months"),
            )
            for o in raw.get("overrides", [])
        )
        rule = cls(
            basis_field=raw["basis_field"],
            min_months=int(raw["min_months"]),
            max_months=int(raw["max_months"]),
            overrides=overrides,
            until_field=raw.get("until_field"),
            end_fields=tuple(sorted(raw.get("end_fields", {}).items())),
            removable=bool(raw.get("removable", False)),
        )
        named = [rule.basis_field, *(f for f, _ in rule.end_fields), *(o.field for o in overrides)]
        if rule.until_field is not None:
            named.append(rule.until_field)
        bad_reasons = sorted({r for _, r in rule.end_fields} - _END_REASONS)
        if bad_reasons:
            raise ValueError(
                f"publicity rule: end_fields reasons {bad_reasons} not in {_END_REASONS}"
            )
        unknown = sorted(set(named) - set(field_names))
        if unknown:
            raise ValueError(f"publicity rule names unknown fields {unknown}")
        periods = [(rule.min_months, rule.max_months)] + [
            (
                rule.min_months if o.min_months is None else o.min_months,
                rule.max_months if o.max_months is None else o.max_months,
            )
            for o in overrides
        ]
        for low, high in periods:
            if not 0 <= low <= high:
                raise ValueError(
                    f"publicity rule: need 0 <= min_months <= max_months ({low}, {high})"
                )
        return rule


@dataclass(frozen=True)
class Category:
    id: str
    name_zh: str
    name_en: str
    department: str  # responsible department kind, e.g. "tax", "court"
    public: bool
    fields: tuple[FieldSpec, ...]
    update_frequency: str  # e.g. "daily", "monthly", "realtime"
    update_deadline_days: int  # working days after the event by which it must be pushed
    relay_upstream: bool
    purposes: tuple[Purpose, ...] = (Purpose.FINANCING,)
    negative: bool = False  # negative credit information: retention 5 years after event end
    publicity: Publicity | None = None  # public negative data: how long it is disclosed
    # while an objection is open: "annotate" (show the record, marked) or "withhold"
    # (authz.objections); the department answers within objection_answer_days calendar days
    objection_rule: str = "annotate"
    objection_answer_days: int = 20

    def field(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)


@dataclass(frozen=True)
class Catalog:
    version: str
    categories: Mapping[str, Category] = field(default_factory=dict)

    def get(self, category_id: str) -> Category | None:
        return self.categories.get(category_id)

    def require(self, category_id: str, *, field_name: str = "category") -> Category:
        category = self.categories.get(category_id)
        if category is None:
            raise InvalidArgument.field(field_name, category_id, "a category of the catalog")
        return category

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalog:
        categories: dict[str, Category] = {}
        for raw in data["categories"]:
            fields = tuple(
                FieldSpec(
                    name=f["name"],
                    name_zh=f["name_zh"],
                    type=FieldType(f["type"]),
                    required=bool(f.get("required", False)),
                    sensitivity=Sensitivity(f["sensitivity"]),
                    default_mask=f.get("default_mask", "keep"),
                    description=f.get("description", ""),
                    code_list=_code_list(f.get("code_list", "")),
                    derived=_derived(f),
                )
                for f in raw["fields"]
            )
            names = [f.name for f in fields]
            if len(set(names)) != len(names):
                raise ValueError(f"catalog category {raw['id']}: duplicate field names")
            category = Category(
                id=raw["id"],
                name_zh=raw["name_zh"],
                name_en=raw["name_en"],
                department=raw["department"],
                public=bool(raw["public"]),
                fields=fields,
                update_frequency=raw["update_frequency"],
                update_deadline_days=int(raw["update_deadline_days"]),
                relay_upstream=bool(raw.get("relay_upstream", False)),
                purposes=tuple(Purpose(p) for p in raw.get("purposes", ["financing"])),
                negative=bool(raw.get("negative", False)),
                publicity=_publicity(raw, tuple(names)),
                objection_rule=str(raw.get("objection_rule", "annotate")),
                objection_answer_days=int(raw.get("objection_answer_days", 20)),
            )
            if category.objection_rule not in ("annotate", "withhold"):
                raise ValueError(f"catalog category {raw['id']}: objection_rule annotate|withhold")
            if not 1 <= category.update_deadline_days <= 366:
                raise ValueError(f"catalog category {raw['id']}: update_deadline_days 1-366")
            if not 1 <= category.objection_answer_days <= 366:
                raise ValueError(f"catalog category {raw['id']}: objection_answer_days 1-366")
            if category.id in categories:
                raise ValueError(f"catalog: duplicate category {category.id}")
            categories[category.id] = category
        return cls(version=str(data["version"]), categories=categories)

    @classmethod
    def load(cls, path: Path) -> Catalog:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def default(cls) -> Catalog:
        text = resources.files("authz.data").joinpath("catalog.json").read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))


CODE_LISTS = frozenset({"gbt4754_2017"})
"""The code lists a field may name (``authz.industry``: GB/T 4754-2017 industries)."""


DERIVED_SENSITIVITIES = frozenset({"internal", "C1"})
"""A derived field is a rating or indicator: never personal information (C2, C3), and
never public (a public field is kept for everyone anyway)."""


def _derived(raw: Mapping[str, Any]) -> bool:
    derived = raw.get("derived", False)
    if not isinstance(derived, bool):
        raise ValueError(f"catalog field {raw['name']}: derived must be true or false")
    if derived and raw["sensitivity"] not in DERIVED_SENSITIVITIES:
        raise ValueError(
            f"catalog field {raw['name']}: a derived field is internal or C1, "
            f"not {raw['sensitivity']}"
        )
    return derived


def _code_list(name: str) -> str:
    if name and name not in CODE_LISTS:
        raise ValueError(f"catalog: unknown code list {name!r}, want one of {sorted(CODE_LISTS)}")
    return name


def _publicity(raw: Mapping[str, Any], field_names: tuple[str, ...]) -> Publicity | None:
    rule = raw.get("publicity")
    if rule is None:
        return None
    if not raw.get("public") or not raw.get("negative"):
        raise ValueError(
            f"catalog category {raw['id']}: a publicity rule needs public negative data"
        )
    try:
        return Publicity.from_dict(rule, field_names)
    except ValueError as exc:
        raise ValueError(f"catalog category {raw['id']}: {exc}") from None
