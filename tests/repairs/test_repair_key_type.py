"""A department whose certificate key cannot sign (P-384) records no repair: refused
``BAD_KEY_TYPE`` like its push, and the refusal is an ``access.denied`` ledger entry
(gateway.flows.caller_key, shared with push)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from sqlalchemy import func, select
from support.authz_helpers import CODE, reason_of
from support.p384 import p384_credentials
from test_repairs_grpc import DEPT, Setup, repair, setup  # noqa: F401  (the fixture)

from gateway.store import schema
from node_agent.repairs import make_repair
from xinlian.v1 import repairs_pb2 as pb
from xinlian.v1 import repairs_pb2_grpc

pytestmark = pytest.mark.integration


def test_repair_with_a_key_that_cannot_sign_is_refused_and_recorded(setup: Setup) -> None:  # noqa: F811
    s = setup
    record: dict[str, Any] = {
        "source_node_id": DEPT,
        "record_id": "pen-live",
        "category": "admin_penalty",
    }
    statement = make_repair(
        s.dept, credit_code=CODE, **record, basis="已履行行政处罚决定", issued_at=s.clock.now()
    )
    request = pb.RecordRepairRequest(statement=statement.canonical_bytes(), signature=b"\0" * 64)
    credentials = p384_credentials(s.gw, s.dept)
    channel = grpc.secure_channel(s.gw.address, credentials, options=s.dept.channel_options())
    with channel, pytest.raises(grpc.RpcError) as err:
        repairs_pb2_grpc.RepairServiceStub(channel).RecordRepair(request, timeout=30)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert reason_of(err.value) == "BAD_KEY_TYPE"
    t = schema.ledger_entries
    last, repairs = s.gw.runtime.store.read(
        lambda conn: (
            conn.execute(
                select(t.c.action, t.c.actor, t.c.outcome).order_by(t.c.idx.desc()).limit(1)
            ).one(),
            conn.execute(select(func.count()).select_from(schema.credit_repairs)).scalar_one(),
        )
    )
    assert tuple(last) == ("access.denied", DEPT, "denied")
    assert repairs == 0
    # the department's own certificate still repairs
    assert repair(s, s.dept, "pen-live").repair.signer_node_id == DEPT  # type: ignore[attr-defined]
