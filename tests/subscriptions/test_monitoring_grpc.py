"""Loan monitoring end to end over real mTLS: a bank's monitoring subscription receives
the new tax record of an enterprise it holds a post-loan grant for, masked as a query
masks it, and not that of another enterprise; revoking the grant stops the next event;
every delivered batch is a ledger entry with its disclosures."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select
from subscriptions.helpers import count_entries, grant, pull, push, revoke
from support.authz_helpers import CODE, OTHER_CODE, TAX_FIELDS, make_world, reason_of
from support.harness import Gateway

from authz.catalog import Purpose
from gateway.store import schema
from node_agent.query import QueryClient
from node_agent.subscriptions import SubscriptionClient

pytestmark = pytest.mark.integration

ARREARS = {**TAX_FIELDS, "arrears_amount": "52000"}


def test_monitoring_delivers_masked_and_stops_at_revocation(
    gateway_any: Gateway, tmp_path: Path
) -> None:
    gateway = gateway_any
    world = make_world(gateway, tmp_path)
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    # no grant yet: a monitoring subscription is refused
    with SubscriptionClient(world.bank) as client, pytest.raises(grpc.RpcError) as refused:
        client.create("monitoring", ["tax"])
    assert reason_of(refused.value) == "NO_ACTIVE_GRANT"
    grant_id = grant(world, "bank-a")
    with SubscriptionClient(world.bank) as client:
        sub = client.create("monitoring", ["tax"])
    assert (sub.kind, list(sub.categories), sub.purpose) == ("monitoring", ["tax"], "post_loan")

    push(dept, tmp_path, "tax", [(CODE, "tax-m1", 1, ARREARS), (OTHER_CODE, "tax-o1", 1, ARREARS)])
    out = tmp_path / "bank-out"
    events = pull(world.bank, sub.subscription_id, out)
    assert [(e["credit_code"], e["record_id"], e["kind"]) for e in events] == [
        (CODE, "tax-m1", "record")
    ]
    [event] = events
    assert event["grant_id"] == grant_id
    assert [s["rule"] for s in event["signals"]] == ["tax_arrears"]
    # masked exactly as a query masks it for the bank
    with QueryClient(world.bank) as query:
        [result] = query.query(CODE, Purpose.POST_LOAN, ["tax"]).categories
    [record] = [r for r in result.records if r.record_id == "tax-m1"]
    assert event["fields"] == {f.name: {"value": f.value, "mask": f.mask} for f in record.fields}
    assert event["fields"]["taxable_revenue"]["value"] != TAX_FIELDS["taxable_revenue"]
    # the batch is a ledger entry, with one disclosure row
    assert count_entries(gateway, "subscription.delivered") == 1
    rows = gateway.runtime.store.read(
        lambda conn: conn.execute(
            select(schema.disclosures.c.consumer_node_id, schema.disclosures.c.grant_id)
            .join(schema.records, schema.records.c.id == schema.disclosures.c.record_pk)
            .where(schema.records.c.record_id == "tax-m1")
        ).all()
    )
    assert ("bank-a", grant_id) in [tuple(r) for r in rows]
    entry = gateway.runtime.store.read(
        lambda conn: conn.execute(
            select(schema.ledger_entries.c.body).where(
                schema.ledger_entries.c.action == "subscription.delivered"
            )
        ).scalar_one()
    )
    assert TAX_FIELDS["taxable_revenue"] not in bytes(entry).decode("utf-8", "replace")

    # pulling again delivers nothing new (acknowledged)
    assert len(pull(world.bank, sub.subscription_id, out)) == 1

    # the grant revoked: the next event is not delivered
    revoke(world, grant_id)
    push(dept, tmp_path, "tax", [(CODE, "tax-m2", 1, ARREARS)])
    assert [e["record_id"] for e in pull(world.bank, sub.subscription_id, out)] == ["tax-m1"]
    state = json.loads((out / "state.json").read_text())
    assert state["subscription_id"] == sub.subscription_id and state["position"] >= 3
