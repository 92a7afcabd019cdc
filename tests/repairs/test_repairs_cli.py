"""``xinlian repair …`` through the installed command against a real gateway: an
enterprise's application, the department's inbox, the repair that grants it, and the exit
codes of a refusal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.authz_helpers import CODE, insert_record, make_world
from support.harness import Gateway
from support.installed_cli import assert_exit, xinlian

from authz.publicity import local_day
from node_agent.query import QueryClient

pytestmark = pytest.mark.integration

DEPT = "market-dept"


def _ids(gw: Gateway, node: str) -> list[str]:
    return ["--identity", str(gw.tmp / "nodes" / node), "--gateway", gw.address]


def test_apply_list_record_and_refusals(gateway: Gateway, tmp_path: Path) -> None:
    gw = gateway
    world = make_world(gw, tmp_path)
    gw.enroll_node("department", DEPT, categories=("admin_penalty",))
    gw.enroll_node("department", "other-dept", categories=("admin_penalty",))
    decided = local_day(datetime.now(UTC)) - timedelta(days=130)
    for record_id, day in (("pen-1", decided), ("pen-2", decided + timedelta(days=100))):
        insert_record(
            gw.runtime.store,
            code=CODE,
            category="admin_penalty",
            record_id=record_id,
            fields={"decision_date": day.isoformat(), "penalty_type": "罚款"},
            source=DEPT,
        )
    record = ["--credit-code", CODE, "--source", DEPT, "--category", "admin_penalty"]
    applied = xinlian(
        "repair", "apply", *_ids(gw, "fz-platform"), "--enterprise-key", str(world.key_path),
        *record, "--record-id", "pen-1", "--reason", "已缴纳罚款并完成整改",
    )  # fmt: skip
    assert_exit(applied, 0)
    assert "open" in applied.stdout
    inbox = xinlian("repair", "applications", *_ids(gw, DEPT), "--state", "open", "--json")
    assert_exit(inbox, 0)
    (application,) = json.loads(inbox.stdout)
    assert application["recordId"] == "pen-1"
    # another department: an empty inbox, and its repair is denied (exit 4)
    other = xinlian("repair", "applications", *_ids(gw, "other-dept"), "--json")
    assert json.loads(other.stdout) == []
    denied = xinlian(
        "repair", "record", *_ids(gw, "other-dept"), *record, "--record-id", "pen-1",
        "--basis", "越权",
    )  # fmt: skip
    assert_exit(denied, 4)
    assert "REPAIR_NOT_SOURCE" in denied.stderr
    # too early for pen-2 (decided 30 days ago): refused, exit 6
    early = xinlian(
        "repair", "record", *_ids(gw, DEPT), *record, "--record-id", "pen-2", "--basis", "整改"
    )
    assert_exit(early, 6)
    assert "REPAIR_BEFORE_MINIMUM" in early.stderr
    # the department grants the application by recording the repair
    done = xinlian(
        "repair", "record", *_ids(gw, DEPT), *record, "--record-id", "pen-1",
        "--basis", "榕信修〔2026〕1号", "--application-id", application["applicationId"],
    )  # fmt: skip
    assert_exit(done, 0)
    listed = xinlian("repair", "list", *_ids(gw, DEPT), "--credit-code", CODE, "--json")
    assert [r["recordId"] for r in json.loads(listed.stdout)] == ["pen-1"]
    with QueryClient(world.bank) as bank:
        (category,) = bank.query(CODE, categories=["admin_penalty"]).categories
    assert [r.record_id for r in category.records] == ["pen-2"]
