"""authz.records: per-record validation against the catalog (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authz.catalog import Catalog
from authz.records import (
    MAX_FIELD_VALUE_LEN,
    MAX_RECORD_ID_LEN,
    REASON_CODES,
    RecordValidator,
)
from gateway.services.push_service import parse_record
from gateway.store.batch_bytes import canonical_batch_bytes, canonical_bytes
from node_agent.push_batches import _to_pb
from xinlian.batch import BatchRecord, canonical_batch
from xinlian.signing import canonical_json
from xinlian_samples.generator import generate_enterprises, generate_records

CATALOG = Catalog.default()
V = RecordValidator(CATALOG)
CODE = generate_enterprises(1, 1)[0].credit_code
NOW = datetime(2026, 1, 10, tzinfo=UTC)
TAX_OK = {
    "tax_period": "2025-09-01",
    "taxpayer_type": "一般纳税人",
    "tax_credit_rating": "A",
    "filing_status": "正常申报",
    "total_tax_paid": "12345.67",
}


def check(fields: dict[str, str], *, category: str = "tax", **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "credit_code": CODE,
        "record_id": "r-1",
        "version": 1,
        "event_time": NOW - timedelta(days=3),
        "now": NOW,
    }
    args.update(kw)
    return V.check(
        category,
        str(args.pop("credit_code")),
        str(args.pop("record_id")),
        int(args.pop("version")),  # type: ignore[call-overload]
        fields,
        **args,  # type: ignore[arg-type]
    )


def test_valid_record() -> None:
    verdict = check(TAX_OK)
    assert verdict.ok and verdict.reason_code == ""


def test_every_sample_record_of_every_category_is_valid() -> None:
    enterprises = generate_enterprises(5, 11)
    for category in CATALOG.categories.values():
        for enterprise in enterprises:
            for record in generate_records(enterprise, category, 4, 11):
                verdict = V.check(
                    category.id,
                    record.credit_code,
                    record.record_id,
                    record.version,
                    record.fields,
                    event_time=record.event_time,
                    now=NOW,
                )
                assert verdict.ok, (category.id, verdict)


@pytest.mark.parametrize(
    ("change", "reason", "message_start"),
    [
        (
            {"credit_code": CODE[:17] + ("0" if CODE[17] != "0" else "1")},
            "BAD_CREDIT_CODE",
            "credit_code: check character",
        ),
        ({"credit_code": CODE.lower()}, "BAD_CREDIT_CODE", "credit_code:"),
        ({"credit_code": ""}, "BAD_CREDIT_CODE", "credit_code:"),
        ({"record_id": ""}, "BAD_RECORD_ID", "record_id: got ''"),
        ({"record_id": " r-1"}, "BAD_RECORD_ID", "record_id:"),
        ({"record_id": "r\n1"}, "BAD_RECORD_ID", "record_id:"),
        ({"record_id": "r" * (MAX_RECORD_ID_LEN + 1)}, "BAD_RECORD_ID", "record_id:"),
        ({"version": 0}, "BAD_VERSION", "version: got 0, want"),
        ({"version": -3}, "BAD_VERSION", "version: got -3"),
        ({"event_time": datetime(1800, 1, 1, tzinfo=UTC)}, "BAD_EVENT_TIME", "event_time:"),
        ({"event_time": NOW + timedelta(days=30)}, "BAD_EVENT_TIME", "event_time:"),
        ({"category": "no_such"}, "UNKNOWN_CATEGORY", "category: got 'no_such'"),
        ({"record_category": "judicial"}, "CATEGORY_MISMATCH", "category: got 'judicial'"),
    ],
)
def test_record_level_rejections(
    change: dict[str, object], reason: str, message_start: str
) -> None:
    verdict = check(TAX_OK, **change)
    assert not verdict.ok
    assert verdict.reason_code == reason
    assert verdict.message.startswith(message_start), verdict.message
    assert "want" in verdict.message


@pytest.mark.parametrize(
    ("fields", "reason", "message_start"),
    [
        ({**TAX_OK, "favourite_colour": "red"}, "UNKNOWN_FIELD", "fields.favourite_colour: got"),
        (
            {k: v for k, v in TAX_OK.items() if k != "total_tax_paid"},
            "MISSING_FIELD",
            "fields.total_tax_paid: got nothing",
        ),
        ({**TAX_OK, "total_tax_paid": ""}, "MISSING_FIELD", "fields.total_tax_paid: got an empty"),
        (
            {**TAX_OK, "total_tax_paid": "12,5"},
            "WRONG_TYPE",
            "fields.total_tax_paid: got a 4-character value, want a decimal",
        ),
        ({**TAX_OK, "tax_period": "2025-02-30"}, "WRONG_TYPE", "fields.tax_period:"),
        ({**TAX_OK, "tax_period": "2025/02/01"}, "WRONG_TYPE", "fields.tax_period:"),
        ({**TAX_OK, "vat_paid": ""}, "WRONG_TYPE", "fields.vat_paid:"),
        (
            {**TAX_OK, "basic_account_no": "x" * (MAX_FIELD_VALUE_LEN + 1)},
            "VALUE_TOO_LONG",
            "fields.basic_account_no: got 4097 characters",
        ),
        ({**TAX_OK, "taxpayer_type": "a\x00b"}, "WRONG_TYPE", "fields.taxpayer_type:"),
        ({**TAX_OK, **{f"f{i}": "1" for i in range(70)}}, "TOO_MANY_FIELDS", "fields: got"),
    ],
)
def test_field_rejections(fields: dict[str, str], reason: str, message_start: str) -> None:
    verdict = check(fields)
    assert (verdict.ok, verdict.reason_code) == (False, reason)
    assert verdict.message.startswith(message_start), verdict.message


@pytest.mark.parametrize(
    ("category", "field", "good", "bad"),
    [
        ("social_insurance", "insured_headcount", ["0", "42", "-1"], ["4.2", "abc", "1e3", " 4"]),
        ("judicial", "dishonest_debtor", ["true", "false"], ["True", "1", "yes", ""]),
        ("tax", "total_tax_paid", ["0", "12.50", "-3.1"], ["12.", ".5", "1,000.00", "NaN"]),
    ],
)
def test_wire_types(category: str, field: str, good: list[str], bad: list[str]) -> None:
    base = {
        "social_insurance": {
            "contribution_month": "2025-08-01",
            "insured_headcount": "3",
            "monthly_contribution_total": "100.00",
            "payment_status": "正常",
        },
        "judicial": {
            "case_no": "(2025)闽0102民初1号",
            "court_name": "福州市鼓楼区人民法院",
            "case_type": "民事",
            "filing_date": "2025-01-02",
            "dishonest_debtor": "false",
        },
        "tax": TAX_OK,
    }[category]
    for value in good:
        assert check({**base, field: value}, category=category).ok, value
    for value in bad:
        verdict = check({**base, field: value}, category=category)
        assert verdict.reason_code in ("WRONG_TYPE", "MISSING_FIELD"), value


def test_public_values_shown_non_public_withheld() -> None:
    judicial = {
        "case_no": "(2025)闽0102民初1号",
        "court_name": "福州市鼓楼区人民法院",
        "case_type": "民事",
        "filing_date": "2025-13-02",
        "dishonest_debtor": "false",
    }
    verdict = check(judicial, category="judicial")
    assert verdict.message == (
        "fields.filing_date: got '2025-13-02', want a calendar date YYYY-MM-DD"
    )
    secret = "6222-0202-0011-2233"
    verdict = check({**TAX_OK, "total_tax_paid": secret})
    assert verdict.reason_code == "WRONG_TYPE"
    assert secret not in verdict.message


def test_reason_codes_are_listed() -> None:
    assert len(set(REASON_CODES)) == len(REASON_CODES)


@given(
    st.lists(
        st.tuples(
            st.text(max_size=20),
            st.text(max_size=12),
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=4),
            st.datetimes(
                min_value=datetime(1, 1, 2),
                max_value=datetime(9999, 12, 30),
                timezones=st.just(UTC),
            ),
        ),
        min_size=1,
        max_size=5,
    ),
    st.text(max_size=10),
)
def test_gateway_canonical_bytes_equal_the_shared_encoding(
    raw: list[tuple[str, str, int, dict[str, str], datetime]], batch_id: str
) -> None:
    """The gateway rebuilds the signed bytes from the protobuf request its own (faster)
    way; they must equal xinlian.batch.canonical_batch byte for byte."""
    records = [
        BatchRecord(code, rid, version, when, fields) for code, rid, version, fields, when in raw
    ]
    parsed = [parse_record(_to_pb(r)) for r in records]
    expected = canonical_batch("tax-1", batch_id, "税务", records)
    assert canonical_batch_bytes("tax-1", batch_id, "税务", parsed) == expected
    obj = {"a": [r.to_json() for r in records]}
    assert canonical_bytes(obj) == canonical_json(obj)
