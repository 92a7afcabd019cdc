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
            )
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
