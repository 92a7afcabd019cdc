"""Synthetic enterprises and records: valid codes, typed wire values, determinism."""

from __future__ import annotations

import csv
import functools
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authz.catalog import Catalog, Category, FieldSpec, FieldType, Sensitivity
from authz.credit_code import is_valid
from xinlian_samples.generator import (
    DIVISIONS,
    END,
    INDUSTRY_SECTIONS,
    Enterprise,
    SampleRecord,
    generate_enterprises,
    generate_records,
    id_check_digit,
    read_jsonl,
    write_csv,
    write_jsonl,
)

INTEGER = re.compile(r"0|[1-9][0-9]*")
DECIMAL = re.compile(r"(0|[1-9][0-9]*)\.[0-9]{2}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
MOBILE = re.compile(r"1[3-9][0-9]{9}")
ACCOUNT = re.compile(r"[1-9][0-9]{15,18}")


def wire_ok(field_type: FieldType, value: str) -> bool:
    """Whether ``value`` is a well-formed wire value of ``field_type``."""
    if field_type is FieldType.STRING:
        return bool(value)
    if field_type is FieldType.INTEGER:
        return INTEGER.fullmatch(value) is not None
    if field_type is FieldType.DECIMAL:
        return DECIMAL.fullmatch(value) is not None
    if field_type is FieldType.DATE:
        return DATE.fullmatch(value) is not None and bool(date.fromisoformat(value))
    if field_type is FieldType.DATETIME:
        return DATETIME.fullmatch(value) is not None and bool(
            datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        )
    return value in ("true", "false")


def id_number_ok(value: str) -> bool:
    if ID_NUMBER.fullmatch(value) is None:
        return False
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    total = sum(int(d) * w for d, w in zip(value[:17], weights, strict=True))
    birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    return "10X98765432"[total % 11] == value[17] and 1900 < birth.year < 2010


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.default()


@functools.cache
def shared_enterprises() -> list[Enterprise]:
    return generate_enterprises(400, seed=20260105)


@pytest.fixture(scope="module")
def enterprises() -> list[Enterprise]:
    return shared_enterprises()


# -- enterprises -------------------------------------------------------------------------


def test_id_check_digit_matches_the_gb_11643_example() -> None:
    assert id_check_digit("11010519491231002") == "X"
    assert id_number_ok("11010519491231002X")


def test_credit_codes_are_valid_and_unique(enterprises: list[Enterprise]) -> None:
    codes = [e.credit_code for e in enterprises]
    assert len(codes) == 400
    assert len(set(codes)) == len(codes)
    assert all(is_valid(code) for code in codes)


def test_enterprises_are_coherent(enterprises: list[Enterprise]) -> None:
    divisions = {d.code: d for d in DIVISIONS}
    assert len({e.name for e in enterprises}) == len(enterprises)
    for e in enterprises:
        code = e.credit_code
        assert code[0] == e.registration_dept == "9"
        assert code[1] == e.org_type in ("1", "2", "3")
        assert code[2:8] == e.division
        assert e.division_name == divisions[e.division].name
        assert e.industry in INDUSTRY_SECTIONS and e.industry not in "ST"
        assert e.industry_name == INDUSTRY_SECTIONS[e.industry]
        assert date(1990, 1, 1) < e.established < END.date()
        assert e.registered_capital > 0 and e.employees > 0
        assert id_number_ok(e.legal_rep_id_number)
        assert MOBILE.fullmatch(e.contact_mobile)
        assert ACCOUNT.fullmatch(e.basic_account_no)
        assert 2 <= len(e.legal_representative) <= 3
        assert e.trade_name in e.name
        if e.org_type == "1":
            assert e.name.endswith("公司")
            assert e.name.startswith(divisions[e.division].name_prefix)
        if e.org_type == "3":
            assert e.name.endswith("专业合作社")


def test_division_list_is_real_gb_2260_codes() -> None:
    codes = {d.code: d.name for d in DIVISIONS}
    assert len(codes) == len(DIVISIONS) >= 40
    assert codes["350102"] == "福建省福州市鼓楼区"
    assert codes["110105"] == "北京市朝阳区"
    assert codes["440305"] == "广东省深圳市南山区"
    assert all(re.fullmatch(r"[1-6][0-9]{5}", code) for code in codes)
    assert len({code[:2] for code in codes}) >= 5


def test_industry_sections_are_a_to_t() -> None:
    assert list(INDUSTRY_SECTIONS) == list("ABCDEFGHIJKLMNOPQRST")
    assert INDUSTRY_SECTIONS["C"] == "制造业"


def test_enterprises_are_deterministic_by_seed() -> None:
    assert generate_enterprises(30, seed=5) == generate_enterprises(30, seed=5)
    assert generate_enterprises(30, seed=5) != generate_enterprises(30, seed=6)
    assert generate_enterprises(10, seed=5) == generate_enterprises(30, seed=5)[:10]


# -- records of the default catalog -----------------------------------------------------


def check_records(
    records: list[SampleRecord], enterprise: Enterprise, category: Category, n: int
) -> None:
    assert len(records) == n
    names = set(category.field_names)
    previous = None
    for k, record in enumerate(records):
        assert record.credit_code == enterprise.credit_code
        assert record.category == category.id
        assert record.record_id == f"{category.id}-{enterprise.credit_code}-{k}"
        assert record.event_time.tzinfo is not None
        assert record.event_time.utcoffset() == UTC.utcoffset(None)
        assert record.event_time < END
        assert record.event_time.date() > enterprise.established
        if previous is not None:
            assert record.event_time >= previous
        previous = record.event_time
        assert set(record.fields) <= names
        for spec in category.fields:
            value = record.fields.get(spec.name)
            if value is None:
                assert not spec.required, (category.id, spec.name)
                continue
            assert isinstance(value, str)
            assert wire_ok(spec.type, value), (category.id, spec.name, value)


def test_default_catalog_records_are_typed_and_complete(
    catalog: Catalog, enterprises: list[Enterprise]
) -> None:
    for enterprise in enterprises[:25]:
        for category in catalog.categories.values():
            records = generate_records(enterprise, category, 12, seed=1)
            check_records(records, enterprise, category, 12)


def test_most_optional_fields_are_filled(catalog: Catalog, enterprises: list[Enterprise]) -> None:
    filled = total = 0
    for enterprise in enterprises[:20]:
        for category in catalog.categories.values():
            for record in generate_records(enterprise, category, 5, seed=2):
                total += len(category.fields)
                filled += len(record.fields)
    assert filled / total > 0.8


def test_identifiers_in_records_are_realistic(
    catalog: Catalog, enterprises: list[Enterprise]
) -> None:
    for enterprise in enterprises[:40]:
        for category in catalog.categories.values():
            for record in generate_records(enterprise, category, 3, seed=3):
                for spec in category.fields:
                    value = record.fields.get(spec.name)
                    if value is None:
                        continue
                    if spec.default_mask == "id_card":
                        assert id_number_ok(value), value
                    if spec.default_mask == "mobile":
                        assert MOBILE.fullmatch(value), value
                    if spec.default_mask == "bank_account":
                        assert ACCOUNT.fullmatch(value), value


def test_registration_records_describe_the_enterprise(
    catalog: Catalog, enterprises: list[Enterprise]
) -> None:
    registration = catalog.require("registration")
    for enterprise in enterprises[:20]:
        (record,) = generate_records(enterprise, registration, 1, seed=4)
        assert record.fields["enterprise_name"] == enterprise.name
        assert record.fields["legal_representative"] == enterprise.legal_representative
        assert record.fields["establishment_date"] == enterprise.established.isoformat()
        assert Decimal(record.fields["registered_capital"]) == enterprise.registered_capital


def test_monthly_records_cover_consecutive_periods(
    catalog: Catalog, enterprises: list[Enterprise]
) -> None:
    tax = catalog.require("tax")
    enterprise = min(enterprises, key=lambda e: e.established)
    periods = [r.fields["tax_period"] for r in generate_records(enterprise, tax, 24, seed=5)]
    assert len(set(periods)) == 24
    assert periods == sorted(periods)
    assert periods[-1] == "2025-11-01"
    for record in generate_records(enterprise, tax, 24, seed=5):
        parts = ("vat_paid", "income_tax_paid", "total_tax_paid")
        if all(p in record.fields for p in parts):
            vat, income, total = (Decimal(record.fields[p]) for p in parts)
            assert total >= vat + income


def test_records_are_deterministic(catalog: Catalog, enterprises: list[Enterprise]) -> None:
    for category in catalog.categories.values():
        first = generate_records(enterprises[0], category, 8, seed=9)
        assert first == generate_records(enterprises[0], category, 8, seed=9)
        assert first != generate_records(enterprises[0], category, 8, seed=10)


def test_a_new_version_keeps_ids_and_times(catalog: Catalog, enterprises: list[Enterprise]) -> None:
    tax = catalog.require("tax")
    v1 = generate_records(enterprises[1], tax, 6, seed=7)
    v2 = generate_records(enterprises[1], tax, 6, seed=7, version=2)
    assert [r.record_id for r in v1] == [r.record_id for r in v2]
    assert [r.event_time for r in v1] == [r.event_time for r in v2]
    assert {r.version for r in v1} == {1} and {r.version for r in v2} == {2}
    assert [r.fields for r in v1] != [r.fields for r in v2]


def test_many_records_for_one_enterprise(catalog: Catalog, enterprises: list[Enterprise]) -> None:
    utilities = catalog.require("utilities")
    records = generate_records(enterprises[2], utilities, 5_000, seed=8)
    check_records(records, enterprises[2], utilities, 5_000)
    assert len({r.record_id for r in records}) == 5_000


def test_zero_records() -> None:
    enterprise = generate_enterprises(1, seed=1)[0]
    assert generate_records(enterprise, Catalog.default().require("tax"), 0, seed=1) == []


# -- records of random catalogs -----------------------------------------------------------

field_names = st.from_regex(r"[a-z][a-z0-9]{0,7}(_[a-z0-9]{1,6}){0,3}", fullmatch=True)
known_names = st.sampled_from(
    [
        "status",
        "arrears_amount",
        "legal_rep_id_number",
        "contact_mobile",
        "tax_period",
        "removal_date",
        "mortgagee",
        "enterprise_name",
        "valid_until",
        "pledged",
    ]
)


@st.composite
def random_categories(draw: st.DrawFn) -> Category:
    names = draw(
        st.lists(st.one_of(field_names, known_names), min_size=1, max_size=10, unique=True)
    )
    fields = tuple(
        FieldSpec(
            name=name,
            name_zh=draw(st.sampled_from(["字段", "金额", "名称", ""])),
            type=draw(st.sampled_from(list(FieldType))),
            required=draw(st.booleans()),
            sensitivity=draw(st.sampled_from(list(Sensitivity))),
        )
        for name in names
    )
    return Category(
        id=draw(st.sampled_from(["registration", "serious_dishonesty", "x_custom", "tax"])),
        name_zh="测试",
        name_en="Test",
        department="test",
        public=draw(st.booleans()),
        fields=fields,
        update_frequency=draw(st.sampled_from(["realtime", "monthly", "yearly", "hourly"])),
        update_deadline_days=1,
        relay_upstream=False,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_categories(), st.integers(0, 399), st.integers(0, 40))
def test_any_category_gets_typed_complete_records(category: Category, which: int, n: int) -> None:
    enterprise = shared_enterprises()[which]
    records = generate_records(enterprise, category, n, seed=which)
    check_records(records, enterprise, category, n)
    assert records == generate_records(enterprise, category, n, seed=which)


# -- files -------------------------------------------------------------------------------


def test_jsonl_round_trip(tmp_path: Path, catalog: Catalog, enterprises: list[Enterprise]) -> None:
    records = [
        record
        for category in catalog.categories.values()
        for record in generate_records(enterprises[3], category, 3, seed=11)
    ]
    path = tmp_path / "records.jsonl"
    assert write_jsonl(records, path) == len(records)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(records)
    first = json.loads(lines[0])
    assert set(first) == {"credit_code", "category", "record_id", "version", "event_time", "fields"}
    assert DATETIME.fullmatch(first["event_time"])
    assert read_jsonl(path) == records


def test_csv_columns_and_rows(
    tmp_path: Path, catalog: Catalog, enterprises: list[Enterprise]
) -> None:
    penalty = catalog.require("admin_penalty")
    records = generate_records(enterprises[4], penalty, 5, seed=12)
    path = tmp_path / "penalty.csv"
    assert write_csv(records, penalty, path) == 5
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["credit_code", "record_id", "version", "event_time", *penalty.field_names]
    assert len(rows) == 6
    for record, row in zip(records, rows[1:], strict=True):
        assert row[:4] == [
            record.credit_code,
            record.record_id,
            "1",
            record.event_time_rfc3339,
        ]
        for name, value in zip(penalty.field_names, row[4:], strict=True):
            assert value == record.fields.get(name, "")
