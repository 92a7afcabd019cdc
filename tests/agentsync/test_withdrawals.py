"""WithdrawalService over mTLS: only the department that pushed a record, in a category
it is responsible for, withdraws it; once; with a ledger entry."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from support.harness import Gateway

from node_agent.push import Pusher
from xinlian.batch import BatchRecord
from xinlian.identity import Identity
from xinlian.v1 import exchange_pb2_grpc, withdrawals_pb2_grpc
from xinlian.v1 import withdrawals_pb2 as pb
from xinlian_samples.tax_source import tax_rows

pytestmark = pytest.mark.integration


def _push_one(pusher: Pusher, record_id: str) -> None:
    record = BatchRecord(
        credit_code=str(tax_rows(1)[0]["uscc"]),
        record_id=record_id,
        version=1,
        event_time=datetime(2025, 3, 1, tzinfo=UTC),
        fields={
            "tax_period": "2025-02-01",
            "taxpayer_type": "一般纳税人",
            "tax_credit_rating": "A",
            "filing_status": "已申报",
            "total_tax_paid": "100",
        },
    )
    request = pusher.make_request(f"b-{record_id}", "tax", [record])
    with pusher.identity.channel() as channel:
        answers = list(exchange_pb2_grpc.ExchangeServiceStub(channel).Push(iter([request])))
    assert answers[0].results[0].outcome == 1  # RECORD_OUTCOME_ACCEPTED


def _withdraw(identity: Identity, category: str, ids: list[str]) -> pb.WithdrawRecordsResponse:
    with identity.channel() as channel:
        return withdrawals_pb2_grpc.WithdrawalServiceStub(channel).WithdrawRecords(
            pb.WithdrawRecordsRequest(category=category, record_ids=ids, reason="test"),
            timeout=30,
        )


def test_withdraw_own_record_once(gateway: Gateway) -> None:
    tax = gateway.enroll_node("department", categories=("tax",))
    other = gateway.enroll_node("department", categories=("tax",))
    _push_one(Pusher(tax), "r-1")
    # another department cannot withdraw it: it never pushed r-1
    assert _withdraw(other, "tax", ["r-1"]).results[0].outcome == (pb.WITHDRAWAL_OUTCOME_NOT_FOUND)
    first = _withdraw(tax, "tax", ["r-1", "r-unknown"]).results
    assert [r.outcome for r in first] == [
        pb.WITHDRAWAL_OUTCOME_WITHDRAWN,
        pb.WITHDRAWAL_OUTCOME_NOT_FOUND,
    ]
    assert first[0].versions == 1 and first[0].ledger_index > 0
    again = _withdraw(tax, "tax", ["r-1"]).results[0]
    assert again.outcome == pb.WITHDRAWAL_OUTCOME_ALREADY_WITHDRAWN
    assert again.ledger_index == 0


def test_withdraw_refused_outside_the_department_categories(gateway: Gateway) -> None:
    tax = gateway.enroll_node("department", categories=("tax",))
    bank = gateway.enroll_node("institution")
    with pytest.raises(grpc.RpcError) as refused:
        _withdraw(tax, "judicial", ["r-1"])
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as denied:
        _withdraw(bank, "tax", ["r-1"])
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as empty:
        _withdraw(tax, "tax", [])
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
