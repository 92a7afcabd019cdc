"""Masks, the policy table and its loader, and the one masking entry point."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from authz.catalog import Catalog, Category, Sensitivity
from authz.desensitize import (
    ROLES,
    SCOPE_NON_PUBLIC,
    SCOPE_PUBLIC,
    DisclosedField,
    MaskPolicy,
    MaskSpec,
    desensitize_record,
    load_default_policy,
    parse_mask,
    pseudonym,
    role_for,
)
from xinlian.errors import InvalidArgument

SECRET = b"s" * 32
GRANTEE = "bank-a"
POLICY = MaskPolicy.default()


def apply(spec: str, value: str, *, grantee: str = GRANTEE, field: str = "f") -> str | None:
    return parse_mask(spec).apply(value, grantee_node_id=grantee, field_name=field, secret=SECRET)


# -- masks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "value", "want"),
    [
        ("keep", "abc", "abc"),
        ("drop", "abc", None),
        ("mask_all", "福州某某", "****"),
        ("first_n:3", "ABCDEFG", "ABC****"),
        ("first_n:3", "ABC", "***"),  # never shows a whole value
        ("last_n:4", "6222020200112233", "************2233"),
        ("last_n:4", "123", "***"),
        ("range:10000", "12345", "10000-20000"),
        ("range:10000", "12345.67", "10000-20000"),
        ("range:10000", "0", "0-10000"),
        ("range:10000", "-1", "-10000-0"),
        ("range:0.5", "3.74", "3.5-4"),
        ("range:1000", " 999 ", "0-1000"),
        ("date_year", "2026-01-05", "2026"),
        ("date_month", "2026-01-05", "2026-01"),
        ("date_month", "2026-01-05T09:30:00Z", "2026-01"),
        ("date_year", "2026-01-05T09:30:00+08:00", "2026"),
        ("id_card", "350102199001011234", "3****************4"),
        ("id_card", "35010219900101123x", "3****************x"),
        ("id_card", "350102900101123", "3*************3"),
        ("mobile", "13812345678", "138****5678"),
        ("mobile", "+86 138-1234-5678", "138****5678"),
        ("bank_account", "6222 0202 0011 2233 445", "************3445"),
        ("bank_account", "12345678", "************5678"),
        ("person_name", "张三丰", "张**"),
        ("person_name", "张三", "张*"),
        ("person_name", "李", "*"),
    ],
)
def test_mask_known_answers(spec: str, value: str, want: str | None) -> None:
    assert apply(spec, value) == want


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        ("range:1000", "abc"),
        ("range:1000", "1e5"),
        ("range:1000", "NaN"),
        ("date_year", "2026-02-30"),
        ("date_year", "20260105"),
        ("id_card", "35010219900101123"),
        ("id_card", "3501021990010112345"),
        ("mobile", "0591-87654321"),
        ("mobile", "23812345678"),
        ("bank_account", "1234"),
        ("bank_account", "6222-ABCD-0000"),
        ("person_name", "   "),
    ],
)
def test_values_that_do_not_fit_their_mask_raise(spec: str, value: str) -> None:
    with pytest.raises(ValueError):
        apply(spec, value)


def test_pseudonym_known_answer_and_linkability() -> None:
    expected = hmac.new(SECRET, b"bank-a\x00f\x00350102199001011234", hashlib.sha256).digest()
    got = apply("pseudonym", "350102199001011234")
    assert got == "ps:" + expected[:16].hex()
    # stable for one grantee, so a bank links its own records
    assert apply("pseudonym", "350102199001011234") == got
    # different for another grantee, another field, another value
    assert apply("pseudonym", "350102199001011234", grantee="bank-b") != got
    assert apply("pseudonym", "350102199001011234", field="g") != got
    assert apply("pseudonym", "350102199001011235") != got


def test_pseudonym_refuses_a_short_secret_and_ambiguous_names() -> None:
    with pytest.raises(InvalidArgument, match="secret"):
        pseudonym("v", grantee_node_id="a", field_name="f", secret=b"short")
    with pytest.raises(InvalidArgument):
        pseudonym("v", grantee_node_id="a\x00b", field_name="f", secret=SECRET)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "nope",
        "KEEP",
        "keep:1",
        "default",
        "first_n",
        "first_n:",
        "first_n:0",
        "first_n:03",
        "first_n:33",
        "last_n:-1",
        "range",
        "range:0",
        "range:-5",
        "range:1e3",
        "pseudonym:x",
    ],
)
def test_parse_mask_is_strict(spec: str) -> None:
    with pytest.raises(InvalidArgument, match="mask"):
        parse_mask(spec)


def test_parse_mask_round_trips() -> None:
    for spec in ["keep", "first_n:4", "last_n:32", "range:10000", "range:0.5", "id_card"]:
        assert str(parse_mask(spec)) == spec
    assert parse_mask("range:100") == MaskSpec("range", Decimal(100))
    with pytest.raises(InvalidArgument):
        MaskSpec("first_n", 0)


# -- the policy table --------------------------------------------------------------------


def policy_data() -> dict[str, Any]:
    path = Path(__file__).resolve().parents[2] / "authz" / "data" / "mask_policy.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_packaged_policy_shape() -> None:
    data = policy_data()
    assert set(data["roles"]) == set(ROLES)
    for role in ROLES:
        for scope in (SCOPE_PUBLIC, SCOPE_NON_PUBLIC):
            assert set(data["roles"][role][scope]) == {s.value for s in Sensitivity}
    institution = data["roles"]["institution"]
    assert "keep" not in institution[SCOPE_NON_PUBLIC].values()
    assert institution[SCOPE_PUBLIC]["public"] == "keep"
    assert institution[SCOPE_PUBLIC]["C2"] != "keep"
    assert set(data["roles"]["self"][SCOPE_NON_PUBLIC].values()) == {"keep"}
    assert set(data["roles"]["self"][SCOPE_PUBLIC].values()) == {"keep"}
    assert MaskPolicy.load(Path(__file__).resolve().parents[2] / "authz/data/mask_policy.json")


@pytest.mark.parametrize("sensitivity", [s.value for s in Sensitivity])
def test_loader_refuses_keep_for_institutions_on_non_public_categories(sensitivity: str) -> None:
    data = policy_data()
    data["roles"]["institution"][SCOPE_NON_PUBLIC][sensitivity] = "keep"
    with pytest.raises(InvalidArgument, match=r"institution\.non_public_category"):
        MaskPolicy.from_dict(data)


@pytest.mark.parametrize("sensitivity", ["C2", "C3"])
def test_loader_refuses_keep_for_institutions_on_c2_c3_of_public_categories(
    sensitivity: str,
) -> None:
    data = policy_data()
    data["roles"]["institution"][SCOPE_PUBLIC][sensitivity] = "keep"
    with pytest.raises(InvalidArgument, match=r"institution\.public_category"):
        MaskPolicy.from_dict(data)


def mutate(path: list[str], value: object) -> dict[str, Any]:
    data = copy.deepcopy(policy_data())
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    "data",
    [
        mutate(["roles", "city_platform", SCOPE_PUBLIC, "C1"], "shuffle"),
        mutate(["roles", "gateway", SCOPE_NON_PUBLIC, "C2"], "first_n:0"),
        mutate(["roles", "gateway", SCOPE_NON_PUBLIC, "C2"], None),
        mutate(["roles", "gateway", SCOPE_NON_PUBLIC, "C4"], "drop"),
        mutate(["roles", "gateway", "other_scope"], {}),
        mutate(["roles", "self"], None),
        mutate(["roles", "officer"], {}),
        mutate(["roles"], None),
    ],
)
def test_loader_refuses_malformed_tables(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument, match="mask_policy"):
        MaskPolicy.from_dict(data)


def catalog(default_mask: str = "range:10000", c2_mask: str = "id_card") -> Catalog:
    return Catalog.from_dict(
        {
            "version": "t",
            "categories": [
                {
                    "id": "registration",
                    "name_zh": "登记注册",
                    "name_en": "Registration",
                    "department": "market",
                    "public": True,
                    "update_frequency": "daily",
                    "update_deadline_days": 7,
                    "fields": [
                        {
                            "name": "name",
                            "name_zh": "名称",
                            "type": "string",
                            "sensitivity": "public",
                        },
                        {
                            "name": "legal_rep_id",
                            "name_zh": "法定代表人身份证号",
                            "type": "string",
                            "sensitivity": "C2",
                            "default_mask": c2_mask,
                        },
                        {
                            "name": "legal_rep",
                            "name_zh": "法定代表人",
                            "type": "string",
                            "sensitivity": "C1",
                            "default_mask": "person_name",
                        },
                    ],
                },
                {
                    "id": "tax",
                    "name_zh": "纳税信息",
                    "name_en": "Tax",
                    "department": "tax",
                    "public": False,
                    "update_frequency": "monthly",
                    "update_deadline_days": 5,
                    "fields": [
                        {
                            "name": "amount",
                            "name_zh": "纳税额",
                            "type": "decimal",
                            "sensitivity": "C1",
                            "default_mask": default_mask,
                        },
                        {
                            "name": "year",
                            "name_zh": "年度",
                            "type": "integer",
                            "sensitivity": "internal",
                        },
                        {
                            "name": "contact_mobile",
                            "name_zh": "办税人手机号",
                            "type": "string",
                            "sensitivity": "C2",
                            "default_mask": "mobile",
                        },
                        {
                            "name": "password_hash",
                            "name_zh": "口令",
                            "type": "string",
                            "sensitivity": "C3",
                            "default_mask": "keep",
                        },
                        {
                            "name": "taxpayer_account",
                            "name_zh": "纳税账户",
                            "type": "string",
                            "sensitivity": "C2",
                            "default_mask": "pseudonym",
                        },
                    ],
                },
            ],
        }
    )


CATALOG = catalog()
REGISTRATION = CATALOG.require("registration")
TAX = CATALOG.require("tax")
TAX_RECORD = {
    "amount": "123456.78",
    "year": "2025",
    "contact_mobile": "13812345678",
    "password_hash": "x9Qz",
    "taxpayer_account": "6222020200112233445",
    "not_in_catalog": "secret",
}
REG_RECORD = {
    "name": "福州某某科技有限公司",
    "legal_rep_id": "350102199001011234",
    "legal_rep": "张三",
}


def run(
    record: dict[str, str],
    category: Category,
    role: str,
    allowed: frozenset[str] | None = None,
    policy: MaskPolicy = POLICY,
) -> dict[str, DisclosedField]:
    out = desensitize_record(
        record,
        category,
        role,
        frozenset(category.field_names) if allowed is None else allowed,
        GRANTEE,
        SECRET,
        policy,
    )
    return {f.name: f for f in out}


def test_institution_on_a_non_public_category() -> None:
    out = run(TAX_RECORD, TAX, "institution")
    # "year" is internal with catalog default "keep": refused for an institution, not sent
    assert set(out) == {"amount", "contact_mobile", "taxpayer_account"}
    assert out["amount"] == DisclosedField("amount", "120000-130000", "range:10000")
    assert out["contact_mobile"].value == "138****5678"
    assert out["contact_mobile"].mask == "mobile"
    assert out["taxpayer_account"].value.startswith("ps:")
    assert out["taxpayer_account"].mask == "pseudonym"
    for field in out.values():
        assert field.mask != "keep"
        assert field.value != TAX_RECORD[field.name]


def test_platform_on_a_non_public_category() -> None:
    out = run(TAX_RECORD, TAX, "city_platform")
    assert out["amount"].mask == "keep" and out["amount"].value == "123456.78"
    assert out["year"].mask == "keep"
    assert out["contact_mobile"].mask == "mobile"  # C2: the catalog default
    assert "password_hash" not in out  # C3: dropped
    assert "not_in_catalog" not in out


def test_self_gets_everything_raw() -> None:
    out = run(TAX_RECORD, TAX, "self")
    assert {name: f.value for name, f in out.items()} == {
        k: v for k, v in TAX_RECORD.items() if k != "not_in_catalog"
    }
    assert {f.mask for f in out.values()} == {"keep"}


def test_public_category_c2_field_is_masked_for_institutions() -> None:
    out = run(REG_RECORD, REGISTRATION, "institution")
    assert out["name"] == DisclosedField("name", "福州某某科技有限公司", "keep")
    assert out["legal_rep_id"] == DisclosedField("legal_rep_id", "3****************4", "id_card")
    assert out["legal_rep"] == DisclosedField("legal_rep", "张*", "person_name")
    assert run(REG_RECORD, REGISTRATION, "city_platform")["legal_rep"].value == "张三"


def test_public_category_c2_field_with_keep_default_is_dropped_for_institutions() -> None:
    registration = catalog(c2_mask="keep").require("registration")
    out = run(REG_RECORD, registration, "institution")
    assert "legal_rep_id" not in out
    assert run(REG_RECORD, registration, "city_platform")["legal_rep_id"].mask == "keep"


def test_only_allowed_fields_leave() -> None:
    out = run(TAX_RECORD, TAX, "city_platform", allowed=frozenset({"amount", "ghost"}))
    assert set(out) == {"amount"}
    assert run(TAX_RECORD, TAX, "self", allowed=frozenset()) == {}


def test_output_follows_catalog_order() -> None:
    out = desensitize_record(
        dict(reversed(TAX_RECORD.items())),
        TAX,
        "self",
        frozenset(TAX.field_names),
        GRANTEE,
        SECRET,
        POLICY,
    )
    assert [f.name for f in out] == [n for n in TAX.field_names if n in TAX_RECORD]


def test_a_value_that_does_not_fit_its_mask_is_not_sent() -> None:
    out = run({**TAX_RECORD, "amount": "about a lot"}, TAX, "institution")
    assert "amount" not in out


def test_default_keep_for_an_institution_falls_back_to_drop() -> None:
    tax = catalog(default_mask="keep").require("tax")
    out = run(TAX_RECORD, tax, "institution")
    assert "amount" not in out


def test_a_table_built_around_the_loader_still_cannot_give_institutions_raw_values() -> None:
    keep = MaskSpec("keep")
    rules = {
        (role, scope, sensitivity): keep
        for role in ROLES
        for scope in (SCOPE_PUBLIC, SCOPE_NON_PUBLIC)
        for sensitivity in Sensitivity
    }
    lax = MaskPolicy(version="tampered", rules=rules)
    assert run(TAX_RECORD, TAX, "institution", policy=lax) == {}
    out = run(REG_RECORD, REGISTRATION, "institution", policy=lax)
    assert set(out) == {"name", "legal_rep"}  # C2 legal_rep_id is not sent raw
    assert run(TAX_RECORD, TAX, "city_platform", policy=lax)["password_hash"].mask == "keep"


def test_a_cell_missing_from_a_hand_built_table_is_not_sent() -> None:
    empty = MaskPolicy(version="empty", rules={})
    assert run(TAX_RECORD, TAX, "self", policy=empty) == {}


def test_unparseable_catalog_default_is_not_sent_and_refused_at_load() -> None:
    bad = catalog(default_mask="shuffle")
    assert "amount" not in run(TAX_RECORD, bad.require("tax"), "institution")
    with pytest.raises(InvalidArgument, match=r"catalog\.tax\.amount"):
        POLICY.check_catalog(bad)
    with pytest.raises(InvalidArgument):
        load_default_policy(bad)
    assert load_default_policy(CATALOG) == POLICY


def test_entry_point_refuses_bad_inputs() -> None:
    with pytest.raises(InvalidArgument, match="role"):
        run(TAX_RECORD, TAX, "officer")
    with pytest.raises(InvalidArgument, match="secret"):
        desensitize_record(TAX_RECORD, TAX, "self", frozenset(), GRANTEE, b"short", POLICY)
    with pytest.raises(InvalidArgument, match="grantee_node_id"):
        desensitize_record(TAX_RECORD, TAX, "self", frozenset(), "", SECRET, POLICY)


def test_role_for() -> None:
    assert role_for("institution", self_query=False) == "institution"
    assert role_for("city_platform", self_query=True) == "self"
    assert role_for("gateway", self_query=False) == "gateway"
    with pytest.raises(InvalidArgument):
        role_for("department", self_query=False)
