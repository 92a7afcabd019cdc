"""Batch push (批量推送) end to end over real mTLS: a region/industry subscription
receives exactly the matching public records — registration records carry the
GB/T 4754-2017 industry code — and nothing of other regions or industries; a
non-public category or a malformed region is refused when created."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from subscriptions.helpers import pull, push
from support.harness import Gateway

from authz.catalog import Catalog
from node_agent.subscriptions import SubscriptionClient
from xinlian_samples.generator import generate_enterprises, generate_records

pytestmark = pytest.mark.integration


def test_region_and_industry_select_exactly_the_matching_records(
    gateway_any: Gateway, tmp_path: Path
) -> None:
    gateway = gateway_any
    catalog = Catalog.default()
    dept = gateway.enroll_node("department", "amr-dept", categories=("registration", "honors"))
    bank = gateway.enroll_node("institution", "bank-x")
    enterprises = generate_enterprises(40, seed=14)
    region = "35"  # 福建
    industry = "C"  # 制造业
    with SubscriptionClient(bank) as client:
        sub = client.create(
            "batch", ["registration", "honors"], region_prefix=region, industry=industry
        )
        with pytest.raises(grpc.RpcError) as refused:
            client.create("batch", ["tax"], region_prefix=region)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as bad_region:
            client.create("batch", ["registration"], region_prefix="3")
        assert bad_region.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as bad_industry:
            client.create("batch", ["registration"], region_prefix=region, industry="C99")
        assert bad_industry.value.code() is grpc.StatusCode.INVALID_ARGUMENT

    registrations = [
        r
        for e in enterprises
        for r in generate_records(e, catalog.categories["registration"], 1, 3)
    ]
    honors = [
        r for e in enterprises for r in generate_records(e, catalog.categories["honors"], 1, 3)
    ]
    for category, records in (("registration", registrations), ("honors", honors)):
        push(
            dept,
            tmp_path,
            category,
            [(r.credit_code, r.record_id, r.version, dict(r.fields)) for r in records],
        )
    matching = {
        e.credit_code
        for e in enterprises
        if e.credit_code[2:4] == region and e.industry_code.startswith(industry)
    }
    assert matching and len(matching) < len(enterprises)  # the test selects something
    expected = {
        (r.category, r.record_id) for r in registrations + honors if r.credit_code in matching
    }
    events = pull(bank, sub.subscription_id, tmp_path / "out")
    got = [(e["category"], e["record_id"]) for e in events]
    assert sorted(got) == sorted(expected)  # each exactly once, nothing else
    registration = next(e for e in events if e["category"] == "registration")
    assert registration["fields"]["industry_code"]["value"].startswith(industry)
    assert all(e["grant_id"] is None for e in events)  # public: no grant needed
