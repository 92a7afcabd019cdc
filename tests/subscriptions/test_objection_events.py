"""Objection events over real mTLS: a batch subscriber receives the annotation when the
enterprise objects to a registration record (note ``open``) and the withdrawal when the
department answers ``withdrawn``; an upheld answer ends the annotation (note ``upheld``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from subscriptions.helpers import pull
from support.authz_helpers import CODE, REGISTRATION_FIELDS, insert_record, make_world
from support.harness import running_gateway

from node_agent.objections import ObjectionClient, make_objection, sign_objection
from node_agent.subscriptions import SubscriptionClient
from xinlian.clock import FakeClock
from xinlian.workdays import SHANGHAI

pytestmark = pytest.mark.integration

FILED = datetime(2025, 10, 11, 9, 0, tzinfo=SHANGHAI)  # inside the shipped calendars


def test_objection_and_withdrawal_are_events(tmp_path: Path, db_url: str) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with running_gateway(tmp_path, db_url, clock=clock) as gateway:
        for record_id in ("reg-a", "reg-b"):
            insert_record(
                gateway.runtime.store,
                code=CODE,
                category="registration",
                record_id=record_id,
                fields=REGISTRATION_FIELDS,
                source="amr-dept",
            )
        world = make_world(gateway, tmp_path)
        amr = gateway.enroll_node("department", "amr-dept", categories=("registration",))
        clock.set(FILED)
        with SubscriptionClient(world.bank) as client:
            sub = client.create("batch", ["registration"], region_prefix=CODE[2:4])
        ids = []
        for record_id in ("reg-a", "reg-b"):
            statement = make_objection(
                credit_code=CODE,
                source_node_id="amr-dept",
                record_id=record_id,
                version=1,
                fields=["status"],
                claim="该记录与事实不符",
                issued_at=clock.now() - timedelta(days=2),
            )
            with ObjectionClient(world.platform) as platform:
                filed = platform.file(
                    statement,
                    sign_objection(world.key, statement),
                    clock.now() - timedelta(days=1),
                )
            ids.append(filed.objection.statement.objection_id)
        with ObjectionClient(amr) as department:
            department.answer(ids[0], "withdrawn", "登记信息有误，予以撤回")
            department.answer(ids[1], "upheld", "经核实登记信息无误")
        events = pull(world.bank, sub.subscription_id, tmp_path / "out")
    assert [(e["kind"], e["record_id"], e["note"], e["fields"]) for e in events] == [
        ("objection", "reg-a", "open", {}),
        ("objection", "reg-b", "open", {}),
        ("withdrawn", "reg-a", "withdrawn", {}),
        ("objection", "reg-b", "upheld", {}),
    ]
