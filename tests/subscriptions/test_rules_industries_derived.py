"""The pure parts: risk rules as data, GB/T 4754-2017 industry codes, and the catalog's
derived fields (ratings and indicators as is; raw detail still masked, and the policy
loader still refuses keep on it)."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from authz.catalog import Catalog
from authz.desensitize import MaskPolicy, desensitize_record, load_default_policy
from authz.industry import load_industries, matches
from authz.risk_signals import load_default_rules, parse_rules
from xinlian.errors import InvalidArgument

SECRET = b"s" * 32


def test_industry_codes_follow_the_standard() -> None:
    industries = load_industries()
    assert len(industries.sections) == 20 and len(industries.divisions) == 97
    for good in ("C", "C13", "C131", "C1311", "I65", "T97", "A05"):
        assert industries.check(good) == good
    for bad in ("", "c13", "Z", "C1", "C12", "A13", "I6501x", "C13111", "13"):
        with pytest.raises(InvalidArgument):
            industries.check(bad)
    assert industries.name_of("I65") == "软件和信息技术服务业"
    assert industries.name_of("C") == "制造业"
    assert matches("C", "C1311") and matches("C13", "C1311") and not matches("C14", "C1311")
    assert matches("", None) and not matches("C", None)


def test_risk_rules_mark_what_a_lender_must_not_miss() -> None:
    rules = load_default_rules()

    def marked(category: str, kind: str, fields: dict[str, str]) -> list[str]:
        return [s.rule for s in rules.signals(category, kind, fields)]

    assert marked("admin_penalty", "record", {}) == ["new_admin_penalty"]
    assert marked("admin_penalty", "corrected", {}) == []
    assert marked("tax", "record", {"arrears_amount": "10000.01"}) == ["tax_arrears"]
    assert marked("tax", "record", {"arrears_amount": "10000"}) == []
    assert marked("tax", "record", {"arrears_amount": "n/a"}) == []
    assert marked("judicial", "record", {"dishonest_debtor": "是", "case_type": "执行案件"}) == [
        "court_enforcement",
        "dishonest_debtor",
    ]
    assert marked("registration", "corrected", {"status": "吊销"}) == ["registration_status_change"]
    assert marked("registration", "record", {"status": "存续"}) == []
    assert {s.severity for r in rules.rules for s in [r.signal]} <= {"high", "medium", "low"}
    with pytest.raises(ValueError, match="severity"):
        parse_rules(
            {
                "rules": [
                    {
                        "id": "x",
                        "label_zh": "x",
                        "severity": "urgent",
                        "category": "tax",
                        "kinds": ["record"],
                    }
                ]
            }
        )


def _catalog_data() -> Any:
    return json.loads(resources.files("authz.data").joinpath("catalog.json").read_text("utf-8"))


def test_derived_fields_reach_a_granted_institution_as_is() -> None:
    catalog = Catalog.default()
    tax = catalog.categories["tax"]
    derived = {f.name for f in tax.fields if f.derived}
    assert {"tax_credit_rating", "arrears_indicator"} <= derived
    fields = {
        "tax_credit_rating": "A",
        "arrears_indicator": "是",
        "arrears_amount": "52000.00",
        "taxable_revenue": "1234567.89",
        "basic_account_no": "6222021234567890123",
    }
    masked = {
        f.name: (f.value, f.mask)
        for f in desensitize_record(
            fields,
            tax,
            "institution",
            frozenset(fields),
            "bank-a",
            SECRET,
            load_default_policy(catalog),
        )
    }
    assert masked["tax_credit_rating"] == ("A", "keep")
    assert masked["arrears_indicator"] == ("是", "keep")
    assert masked["arrears_amount"][1] != "keep" and masked["arrears_amount"][0] != "52000.00"
    assert (
        masked["basic_account_no"][0].endswith("0123") and masked["basic_account_no"][1] != "keep"
    )
    # a grant that does not cover the derived field: not sent at all
    partial = desensitize_record(
        fields,
        tax,
        "institution",
        frozenset({"arrears_amount"}),
        "bank-a",
        SECRET,
        load_default_policy(catalog),
    )
    assert [f.name for f in partial] == ["arrears_amount"]


def test_the_loaders_still_refuse_keep_on_raw_detail() -> None:
    policy = json.loads(
        resources.files("authz.data").joinpath("mask_policy.json").read_text("utf-8")
    )
    bad = copy.deepcopy(policy)
    bad["roles"]["institution"]["non_public_category"]["C1"] = "keep"
    with pytest.raises(InvalidArgument, match="institutions never get raw values"):
        MaskPolicy.from_dict(bad)
    data = _catalog_data()
    for category in data["categories"]:
        for field in category["fields"]:
            if field["name"] == "basic_account_no":
                field["derived"] = True  # C2 personal data cannot be declared derived
    with pytest.raises(ValueError, match="derived"):
        Catalog.from_dict(data)
