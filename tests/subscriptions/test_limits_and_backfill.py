"""Per-node limits and backfill over real mTLS: at most MAX_SUBSCRIPTIONS_PER_NODE active
subscriptions; a backfill delivers what was logged since its start, within
MAX_BACKFILL_DAYS; a new version of a record arrives as a ``corrected`` event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from subscriptions.helpers import pull, push
from support.authz_helpers import reason_of
from support.harness import Gateway

from authz.catalog import Catalog
from gateway.flows.subscriptions import MAX_BACKFILL_DAYS, MAX_SUBSCRIPTIONS_PER_NODE
from node_agent.subscriptions import SubscriptionClient
from xinlian_samples.generator import generate_enterprises, generate_records

pytestmark = pytest.mark.integration


def test_limit_backfill_and_corrections(gateway: Gateway, tmp_path: Path) -> None:
    dept = gateway.enroll_node("department", "amr-dept", categories=("registration",))
    bank = gateway.enroll_node("institution", "bank-x")
    spec = Catalog.default().categories["registration"]
    fujian = [e for e in generate_enterprises(30, seed=51) if e.credit_code[2:4] == "35"][:3]
    records = [r for e in fujian for r in generate_records(e, spec, 1, 51)]
    push(
        dept, tmp_path, "registration", [(r.credit_code, r.record_id, 1, r.fields) for r in records]
    )
    since = datetime.now(UTC) - timedelta(hours=1)
    with SubscriptionClient(bank) as client:
        backfilled = client.create(
            "batch", ["registration"], region_prefix="35", backfill_from=since
        )
        fresh = client.create("batch", ["registration"], region_prefix="35")
        with pytest.raises(grpc.RpcError) as too_old:
            client.create(
                "batch",
                ["registration"],
                region_prefix="35",
                backfill_from=datetime.now(UTC) - timedelta(days=MAX_BACKFILL_DAYS + 1),
            )
        assert too_old.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        for _ in range(MAX_SUBSCRIPTIONS_PER_NODE - 2):
            client.create("batch", ["registration"], region_prefix="35")
        with pytest.raises(grpc.RpcError) as limit:
            client.create("batch", ["registration"], region_prefix="35")
        assert limit.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert reason_of(limit.value) == "SUBSCRIPTION_LIMIT"
        client.cancel(fresh.subscription_id)  # a cancelled one frees its place
        client.create("batch", ["registration"], region_prefix="35")
    got = pull(bank, backfilled.subscription_id, tmp_path / "backfilled")
    assert sorted(e["record_id"] for e in got) == sorted(r.record_id for r in records)
    assert {e["kind"] for e in got} == {"record"}
    # a correction: the new version arrives as a corrected event
    first = records[0]
    push(dept, tmp_path, "registration", [(first.credit_code, first.record_id, 2, first.fields)])
    later = pull(bank, backfilled.subscription_id, tmp_path / "backfilled")
    assert [(e["record_id"], e["version"], e["kind"]) for e in later[len(got) :]] == [
        (first.record_id, 2, "corrected")
    ]
