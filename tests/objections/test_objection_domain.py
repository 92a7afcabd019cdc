"""The objection statement, the platform's receipt, deadlines and states: pure."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from authz.objections import (
    Note,
    Objection,
    ObjectionReceipt,
    ObjectionRule,
    ObjectionState,
    check_answer,
    notes_for,
    verify_filing,
)
from gateway.flows.objections import deadlines
from xinlian.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from xinlian.signing import sign
from xinlian.workdays import SHANGHAI, load_calendar

CAL = load_calendar()
CODE = "91350100M000100Y43"


def shanghai(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def objection(**changes: object) -> Objection:
    values: dict[str, object] = {
        "objection_id": "obj-1",
        "credit_code": CODE,
        "source_node_id": "tax-dept",
        "record_id": "tax-1",
        "version": 1,
        "fields": ("tax_credit_rating", "arrears_amount"),
        "claim": "欠税已于2025年9月缴清，纳税信用等级应为A",
        "evidence_sha256": ("b" * 64, "a" * 64),
        "issued_at": shanghai(2025, 9, 30, 9, 0),
    }
    values.update(changes)
    return Objection(**values)  # type: ignore[arg-type]


ENTERPRISE = ed25519.Ed25519PrivateKey.generate()
PLATFORM = ec.generate_private_key(ec.SECP256R1())
RECEIVED = shanghai(2025, 9, 30, 10, 0)


def filing(statement: Objection, **kw: object) -> None:
    receipt = ObjectionReceipt.of(statement, "fz-platform", RECEIVED)
    args: dict[str, object] = {
        "signature": sign(ENTERPRISE, statement.canonical_bytes()),
        "enterprise_key": ENTERPRISE.public_key(),
        "receipt": receipt,
        "countersignature": sign(PLATFORM, receipt.canonical_bytes()),
        "platform_key": PLATFORM.public_key(),
        "now": shanghai(2025, 10, 11, 9, 0),
    }
    args.update(kw)
    verify_filing(statement, **args)  # type: ignore[arg-type]


def test_canonical_form_is_sorted_and_round_trips() -> None:
    statement = objection()
    assert statement.fields == ("arrears_amount", "tax_credit_rating")
    assert statement.evidence_sha256 == ("a" * 64, "b" * 64)
    data = statement.canonical_bytes()
    assert data.startswith(b'{"claim":') and b'"type":"objection"' in data
    assert Objection.from_canonical(data) == statement
    with pytest.raises(InvalidArgument):
        Objection.from_canonical(data.replace(b'"version":1', b'"version":1.0'))
    with pytest.raises(InvalidArgument):
        Objection.from_canonical(data.replace(b"{", b"{ ", 1))


def test_a_filing_signed_by_both_verifies() -> None:
    filing(objection())


def test_forged_or_altered_statement_is_refused() -> None:
    statement = objection()
    forged = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(PermissionDenied, match="objection: signature does not verify"):
        filing(statement, signature=sign(forged, statement.canonical_bytes()))
    # altered after signing: the enterprise signed another claim
    altered = dataclasses.replace(statement, claim="纳税信用等级应为A+")
    receipt = ObjectionReceipt.of(altered, "fz-platform", RECEIVED)
    with pytest.raises(PermissionDenied, match="objection: signature"):
        filing(
            altered,
            signature=sign(ENTERPRISE, statement.canonical_bytes()),
            receipt=receipt,
            countersignature=sign(PLATFORM, receipt.canonical_bytes()),
        )


def test_forged_or_altered_countersignature_is_refused() -> None:
    statement = objection()
    other = ec.generate_private_key(ec.SECP256R1())
    receipt = ObjectionReceipt.of(statement, "fz-platform", RECEIVED)
    with pytest.raises(PermissionDenied, match="objection receipt: signature"):
        filing(statement, countersignature=sign(other, receipt.canonical_bytes()))
    # the platform signed one receipt time, the filing claims another
    later = ObjectionReceipt.of(statement, "fz-platform", RECEIVED + timedelta(days=3))
    with pytest.raises(PermissionDenied, match="objection receipt: signature"):
        filing(statement, receipt=later, countersignature=sign(PLATFORM, receipt.canonical_bytes()))
    # a receipt for another statement
    with pytest.raises(FailedPrecondition):
        filing(
            statement, receipt=ObjectionReceipt.of(objection(claim="x"), "fz-platform", RECEIVED)
        )


def test_times_are_checked() -> None:
    with pytest.raises(InvalidArgument, match="received_at"):
        filing(objection(), now=RECEIVED - timedelta(hours=1))
    with pytest.raises(InvalidArgument, match="issued_at"):
        filing(objection(issued_at=RECEIVED + timedelta(hours=1)))
    with pytest.raises(FailedPrecondition, match="older than 30 days"):
        filing(objection(), now=RECEIVED + timedelta(days=31))


def test_forwarding_deadline_counts_working_days_across_the_national_day_holiday() -> None:
    # received 2025-09-30; 10-01..10-08 is 国庆节、中秋节: the 1st working day after is
    # 10-09, the 2nd 10-10; the 3rd is Saturday 10-11, an adjusted working day
    on_time = deadlines(CAL, RECEIVED, shanghai(2025, 10, 10, 20, 0), 20)
    assert on_time.forward_due == datetime(2025, 10, 10, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert not on_time.forwarded_late
    late = deadlines(CAL, RECEIVED, shanghai(2025, 10, 11, 9, 0), 20)
    assert late.forwarded_late
    # an adjusted working day counts: received Friday 2025-09-26, the 1st working day
    # after is Sunday 09-28 (调休上班), the 2nd Monday 09-29; filed on the 30th is late
    due = deadlines(CAL, shanghai(2025, 9, 26, 16, 0), shanghai(2025, 9, 29, 9, 0), 20)
    assert due.forward_due.date() == datetime(2025, 9, 29).date()
    assert not due.forwarded_late
    assert deadlines(
        CAL, shanghai(2025, 9, 26, 16, 0), shanghai(2025, 9, 30, 9, 0), 20
    ).forwarded_late


def test_answer_deadline_is_calendar_days_ending_on_a_working_day() -> None:
    # filed 2025-09-12 + 20 days = 10-02, inside the holiday: due at the end of 10-09
    due = deadlines(CAL, shanghai(2025, 9, 11, 9, 0), shanghai(2025, 9, 12, 9, 0), 20)
    assert due.answer_due == datetime(2025, 10, 9, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    # an ordinary weekday stays: 2025-10-13 + 20 = 11-02 (Sunday) -> Monday 11-03
    due = deadlines(CAL, shanghai(2025, 10, 13, 9, 0), shanghai(2025, 10, 13, 9, 0), 20)
    assert due.answer_due.date() == datetime(2025, 11, 3).date()
    # per category: 10 days
    due = deadlines(CAL, shanghai(2025, 10, 13, 9, 0), shanghai(2025, 10, 13, 9, 0), 10)
    assert due.answer_due.date() == datetime(2025, 10, 23).date()
    # the gateway's receipt day is the Shanghai day: 2025-10-12 20:00 UTC is 10-13 04:00
    due = deadlines(CAL, shanghai(2025, 10, 13, 9, 0), datetime(2025, 10, 12, 20, tzinfo=UTC), 10)
    assert due.answer_due.date() == datetime(2025, 10, 23).date()


def test_answers_are_final_and_need_reasons() -> None:
    for answer in ObjectionState:
        if answer is ObjectionState.OPEN:
            with pytest.raises(InvalidArgument):
                check_answer(ObjectionState.OPEN, answer, "x")
            continue
        check_answer(ObjectionState.OPEN, answer, "核实无误")
        with pytest.raises(FailedPrecondition, match="already answered"):
            check_answer(ObjectionState.UPHELD, answer, "核实无误")
    for needs_reason in (ObjectionState.UPHELD, ObjectionState.UNCONFIRMABLE):
        with pytest.raises(InvalidArgument, match="reason"):
            check_answer(ObjectionState.OPEN, needs_reason, " ")
    check_answer(ObjectionState.OPEN, ObjectionState.CORRECTED, "")


def test_while_open_rule() -> None:
    filed = shanghai(2025, 10, 11, 9, 0)
    open_note = Note("obj-1", ObjectionState.OPEN, filed, "")
    finding = Note("obj-2", ObjectionState.UNCONFIRMABLE, filed, "无法核实")
    assert open_note.label_zh == "异议处理中" and finding.label_zh == "异议无法核实"
    assert notes_for(ObjectionRule.ANNOTATE, (open_note,), own_query=False) == (open_note,)
    assert notes_for(ObjectionRule.WITHHOLD, (open_note,), own_query=False) is None
    assert notes_for(ObjectionRule.WITHHOLD, (open_note,), own_query=True) == (open_note,)
    assert notes_for(ObjectionRule.WITHHOLD, (finding,), own_query=False) == (finding,)
