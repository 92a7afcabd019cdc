"""The default sharing catalog (共享清单) in authz/data/catalog.json."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest

from authz.catalog import Catalog, Category, FieldType, Purpose, Sensitivity

# id -> (public, department, negative), per 国办发〔2021〕52号 and the design notes.
EXPECTED: dict[str, tuple[bool, str, bool]] = {
    "registration": (True, "market_regulation", False),
    "admin_license": (True, "market_regulation", False),
    "admin_penalty": (True, "market_regulation", True),
    "judicial": (True, "court", True),
    "serious_dishonesty": (True, "credit_office", True),
    "honors": (True, "credit_office", False),
    "tax": (False, "tax", False),
    "social_insurance": (False, "social_security", False),
    "housing_fund": (False, "housing_fund", False),
    "utilities": (False, "utilities", False),
    "real_estate": (False, "natural_resources", False),
    "import_export": (False, "customs", False),
    "intellectual_property": (True, "intellectual_property", False),
    "rnd": (False, "science_tech", False),
}

SNAKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
MASK = re.compile(
    r"keep|drop|mask_all|pseudonym|date_year|date_month|id_card|mobile|bank_account"
    r"|person_name|first_n:[1-9][0-9]?|last_n:[1-9][0-9]?|range:[0-9]+(\.[0-9]+)?"
)
NUMERIC = {FieldType.INTEGER, FieldType.DECIMAL}
DATES = {FieldType.DATE, FieldType.DATETIME}
LENDING = {Purpose.FINANCING, Purpose.GUARANTEE, Purpose.POST_LOAN}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.default()


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    text = resources.files("authz.data").joinpath("catalog.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def categories(catalog: Catalog) -> list[Category]:
    return list(catalog.categories.values())


def test_default_catalog_loads(catalog: Catalog, raw: dict[str, Any]) -> None:
    assert catalog.version == "2026.1"
    assert set(raw) == {"version", "categories"}
    assert raw["version"] == "2026.1"


def test_all_named_categories_with_publicity_department_and_negativity(catalog: Catalog) -> None:
    assert set(EXPECTED) <= set(catalog.categories)
    for category_id, (public, department, negative) in EXPECTED.items():
        category = catalog.require(category_id)
        assert (category.public, category.department, category.negative) == (
            public,
            department,
            negative,
        ), category_id


def test_ids_and_field_names_are_snake_case_and_unique(catalog: Catalog) -> None:
    for category in categories(catalog):
        assert SNAKE.fullmatch(category.id), category.id
        names = category.field_names
        assert len(names) == len(set(names)), category.id
        for name in names:
            assert SNAKE.fullmatch(name), (category.id, name)


def test_every_category_is_described(catalog: Catalog, raw: dict[str, Any]) -> None:
    for entry in raw["categories"]:
        assert entry["description"].strip(), entry["id"]
    for category in categories(catalog):
        assert category.name_zh and category.name_en
        # 13: admin_penalty's penalty_domain, which its publicity rule reads (issue 13)
        assert 5 <= len(category.fields) <= 13, category.id
        assert any(spec.required for spec in category.fields), category.id
        for spec in category.fields:
            assert spec.name_zh and spec.description, (category.id, spec.name)


def test_non_public_fields_never_default_to_keep(catalog: Catalog) -> None:
    """Raw detail never defaults to keep; a derived field (a rating or indicator) does,
    and is never personal information."""
    for category in categories(catalog):
        for spec in category.fields:
            if spec.derived:
                assert spec.sensitivity in (Sensitivity.INTERNAL, Sensitivity.C1), spec.name
            elif not category.public or spec.sensitivity is not Sensitivity.PUBLIC:
                assert spec.default_mask != "keep", (category.id, spec.name)


def test_public_categories_are_public_except_personal_identifiers(catalog: Catalog) -> None:
    for category in categories(catalog):
        if not category.public:
            continue
        for spec in category.fields:
            if spec.sensitivity is Sensitivity.PUBLIC:
                assert spec.default_mask == "keep", (category.id, spec.name)
            else:
                assert spec.sensitivity is Sensitivity.C2, (category.id, spec.name)
                assert spec.default_mask == "id_card", (category.id, spec.name)
        public = sum(spec.sensitivity is Sensitivity.PUBLIC for spec in category.fields)
        assert public >= len(category.fields) - 1, category.id


def test_non_public_categories_have_no_public_fields(catalog: Catalog) -> None:
    for category in categories(catalog):
        if not category.public:
            assert all(spec.sensitivity is not Sensitivity.PUBLIC for spec in category.fields)


def test_default_masks_are_from_the_closed_list_and_fit_the_type(catalog: Catalog) -> None:
    for category in categories(catalog):
        for spec in category.fields:
            where = (category.id, spec.name, spec.default_mask)
            assert MASK.fullmatch(spec.default_mask), where
            name = spec.default_mask.partition(":")[0]
            if name == "range":
                assert spec.type in NUMERIC, where
            if name in ("date_year", "date_month"):
                assert spec.type in DATES, where
            if name in ("id_card", "mobile", "bank_account", "person_name"):
                assert spec.type is FieldType.STRING, where


def test_personal_and_account_identifiers_are_c2(catalog: Catalog) -> None:
    masks = {"id_card", "mobile", "bank_account"}
    for category in categories(catalog):
        for spec in category.fields:
            if spec.default_mask in masks:
                assert spec.sensitivity is Sensitivity.C2, (category.id, spec.name)
    tax = catalog.require("tax")
    account = tax.field("basic_account_no")
    assert account is not None and account.default_mask == "bank_account"
    social = catalog.require("social_insurance")
    for name, mask in (("legal_rep_id_number", "id_card"), ("contact_mobile", "mobile")):
        found = social.field(name)
        assert found is not None and found.default_mask == mask
        assert found.sensitivity is Sensitivity.C2


def test_purposes(catalog: Catalog) -> None:
    for category in categories(catalog):
        purposes = set(category.purposes)
        assert len(purposes) == len(category.purposes), category.id
        assert Purpose.FINANCING in purposes, category.id
        if category.public:
            assert purposes == set(Purpose), category.id
        else:
            assert purposes <= LENDING, category.id


def test_purposes_in_the_file_are_valid_values(raw: dict[str, Any]) -> None:
    valid = {p.value for p in Purpose}
    for entry in raw["categories"]:
        assert entry["purposes"], entry["id"]
        assert set(entry["purposes"]) <= valid, entry["id"]


def test_registration_names_the_enterprise_and_its_representative(catalog: Catalog) -> None:
    registration = catalog.require("registration")
    for name in ("enterprise_name", "legal_representative"):
        spec = registration.field(name)
        assert spec is not None and spec.required
        assert spec.type is FieldType.STRING
        assert spec.sensitivity is Sensitivity.PUBLIC


def test_update_rules(catalog: Catalog) -> None:
    for category in categories(catalog):
        assert category.update_deadline_days > 0, category.id
        assert category.update_frequency in {"realtime", "daily", "weekly", "monthly", "yearly"}
        if category.public:
            assert category.relay_upstream, category.id
    # 行政许可和行政处罚: publicized within 7 working days of the decision (双公示).
    for category_id in ("admin_license", "admin_penalty"):
        category = catalog.require(category_id)
        assert category.update_deadline_days == 7
        assert category.update_frequency == "realtime"
    assert catalog.require("tax").update_frequency == "monthly"


def test_negative_categories_are_public(catalog: Catalog) -> None:
    negative = {c.id for c in categories(catalog) if c.negative}
    assert negative == {"admin_penalty", "judicial", "serious_dishonesty"}
