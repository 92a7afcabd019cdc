"""``xinlian_objections_overdue{category}``: the open objections whose answer deadline
passed on the gateway's clock, read from the store by the monitor's background refresh
(at most once a minute; the test asks for it now) and served from memory by /metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ops.conftest import http_get, ops_gateway, series
from support.authz_helpers import CODE, make_world, seed_records
from support.harness import Gateway

from node_agent.objections import ObjectionClient, make_objection, sign_objection
from xinlian.clock import FakeClock
from xinlian.workdays import SHANGHAI

pytestmark = pytest.mark.integration

FILED = datetime(2025, 10, 11, 9, 0, tzinfo=SHANGHAI)  # Saturday, an adjusted working day
OVERDUE = "xinlian_objections_overdue"


def _overdue(gw: Gateway) -> list[float]:
    gw.loop.run(gw.running.monitor.refresh_figures())
    status, text = http_get(gw.running.ops_port, "/metrics")
    assert status == 200
    values: list[float] = series(text, OVERDUE, category="tax")
    return values


def test_overdue_objection_is_counted_by_category(tmp_path: Path, db_url: str) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with ops_gateway(tmp_path, db_url, clock) as gw:
        seed_records(gw.runtime.store)
        world = make_world(gw, tmp_path)
        gw.enroll_node("department", "tax-dept", categories=("tax",))
        clock.set(FILED)
        statement = make_objection(
            credit_code=CODE,
            source_node_id="tax-dept",
            record_id="tax-1",
            version=1,
            fields=["tax_credit_rating"],
            claim="欠税已缴清",
            issued_at=FILED - timedelta(days=2),
        )
        with ObjectionClient(world.platform) as client:
            filed = client.file(
                statement, sign_objection(world.key, statement), FILED - timedelta(days=1)
            )
        due = filed.objection.answer_due.ToDatetime(UTC)

        assert _overdue(gw) in ([], [0.0])  # open, not yet due
        clock.set(due + timedelta(seconds=1))
        assert _overdue(gw) == [1.0]
