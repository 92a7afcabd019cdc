"""A department whose certificate key cannot sign batches (issue 11: push reads the key from
the ``Caller`` the edge authenticated): its push is refused ``BAD_KEY_TYPE`` and the refusal
is a ledger entry, like the other refusals of a known node."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import select
from support.harness import Gateway
from support.p384 import p384_credentials
from test_push_grpc import count, push, tax_records

from gateway.store import schema
from node_agent.push import Pusher
from xinlian.v1 import exchange_pb2_grpc

pytestmark = pytest.mark.integration


def test_push_with_a_key_that_cannot_sign_batches_is_refused_and_recorded(
    gateway: Gateway,
) -> None:
    dept = gateway.enroll_node("department", "tax-p384", categories=("tax",))
    request = Pusher(dept).make_request("b-p384", "tax", tax_records())
    credentials = p384_credentials(gateway, dept)
    channel = grpc.secure_channel(gateway.address, credentials, options=dept.channel_options())
    with channel, pytest.raises(grpc.RpcError) as err:
        list(exchange_pb2_grpc.ExchangeServiceStub(channel).Push(iter([request]), timeout=60))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert dict(err.value.trailing_metadata() or ()).get("xinlian-reason") == "BAD_KEY_TYPE"
    assert count(gateway, schema.batches) == 0
    t = schema.ledger_entries
    last = gateway.runtime.store.read(
        lambda conn: conn.execute(
            select(t.c.action, t.c.actor, t.c.outcome).order_by(t.c.idx.desc()).limit(1)
        ).one()
    )
    assert tuple(last) == ("access.denied", "tax-p384", "denied")
    # the department's own certificate still pushes
    assert push(dept, [request])[0].accepted == len(tax_records())
