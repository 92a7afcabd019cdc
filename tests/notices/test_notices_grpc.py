"""Correction notices end to end over real mTLS: a department corrects a record (pushes
v2); the bank and the city platform that queried v1 each receive exactly one notice,
masked as each was entitled, and acknowledge it once; a node that never received the
record gets nothing; the record's trace shows the notices and their acknowledgements."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from support.authz_helpers import CODE, TAX_FIELDS, World, make_world
from support.harness import Gateway, running_gateway

from gateway.store import schema
from node_agent.enterprise import AuthzClient, make_grant, sign_grant, sign_revocation
from node_agent.notices import NoticeClient
from node_agent.objections import ObjectionClient, make_objection, sign_objection
from node_agent.push import Pusher
from node_agent.query import QueryClient
from xinlian.clock import FakeClock
from xinlian.identity import Identity
from xinlian.v1 import notices_pb2 as pb
from xinlian_cli.main import cli
from xinlian_samples.generator import SampleRecord, write_jsonl

pytestmark = pytest.mark.integration

RECORD = "tax-corr-1"
CORRECTED = {**TAX_FIELDS, "taxable_revenue": "2345678.00", "arrears_amount": "1200"}
WAIT_S = 20.0


def _push(dept: Identity, tmp: Path, version: int, fields: dict[str, str]) -> None:
    record = SampleRecord(CODE, "tax", RECORD, version, datetime(2025, 9, 15, tzinfo=UTC), fields)
    path = tmp / f"tax-v{version}.jsonl"
    write_jsonl([record], path)
    summary = Pusher(dept).push_file(path, "tax")
    assert summary.accepted == 1


def _grant(world: World, grantee: str) -> str:
    grant = make_grant(credit_code=CODE, grantee_node_id=grantee, categories=("tax",))
    with AuthzClient(world.platform) as client:
        client.submit(grant, sign_grant(world.key, grant))
    return grant.grant_id


def _tax_fields(node: Identity) -> dict[str, tuple[str, str]]:
    """What the query path gives ``node`` of the record now: name -> (value, mask)."""
    with QueryClient(node) as client:
        [result] = client.query(CODE, categories=["tax"]).categories
    [record] = [r for r in result.records if r.record_id == RECORD]
    return {f.name: (f.value, f.mask) for f in record.fields}


def _pull_until_one(node: Identity) -> pb.Notice:
    """The background generator (started with the gateway) delivers it within a pass."""
    deadline = time.monotonic() + WAIT_S
    with NoticeClient(node) as client:
        while time.monotonic() < deadline:
            notices = client.pull_all()
            if notices:
                [notice] = notices
                return notice
            time.sleep(0.2)
    raise AssertionError("no notice arrived")


def _count(gateway: Gateway, action: str) -> int:
    e = schema.ledger_entries.c
    return int(
        gateway.runtime.store.read(
            lambda conn: conn.execute(
                select(func.count()).select_from(schema.ledger_entries).where(e.action == action)
            ).scalar_one()
        )
    )


def test_correction_reaches_bank_and_platform_once(gateway_any: Gateway, tmp_path: Path) -> None:
    gateway = gateway_any
    world = make_world(gateway, tmp_path)
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    stranger = gateway.enroll_node("institution", "bank-b")
    officer = gateway.enroll_node("officer", "officer-1")
    _push(dept, tmp_path, 1, TAX_FIELDS)
    bank_grant = _grant(world, "bank-a")
    platform_grant = _grant(world, "fz-platform")
    _tax_fields(world.bank)  # both receive v1
    _tax_fields(world.platform)

    _push(dept, tmp_path, 2, CORRECTED)  # the department's correction
    bank_notice = _pull_until_one(world.bank)
    platform_notice = _pull_until_one(world.platform)

    # the notice names the record, both versions and the changed fields; the values are
    # masked exactly as the query path masks v2 for that node
    for node, notice, grant_id in (
        (world.bank, bank_notice, bank_grant),
        (world.platform, platform_notice, platform_grant),
    ):
        assert (notice.record_id, notice.old_version, notice.new_version) == (RECORD, 1, 2)
        assert (notice.reason, notice.credit_code, notice.category) == ("corrected", CODE, "tax")
        assert list(notice.changed_fields) == ["arrears_amount", "taxable_revenue"]
        assert notice.grant_id == grant_id and not notice.values_withheld
        now = _tax_fields(node)  # a fresh query of v2 (no notice: v2 is current)
        got = {f.name: (f.value, f.mask) for f in notice.values}
        assert got == {name: now[name] for name in notice.changed_fields if name in now}
    bank_values = {f.name: f.value for f in bank_notice.values}
    assert bank_values["taxable_revenue"] != CORRECTED["taxable_revenue"]  # masked for a bank

    # a node that never received the record gets nothing, and cannot ack others' notices
    with NoticeClient(stranger) as client:
        assert client.pull_all() == []
        assert list(client.ack([bank_notice.notice_id]).unknown) == [bank_notice.notice_id]

    # ack once: one notice.acked entry each; then nothing comes again, a second ack is a
    # no-op that writes nothing
    created = _count(gateway, "notice.created")
    assert created == 2
    for node, notice in ((world.bank, bank_notice), (world.platform, platform_notice)):
        with NoticeClient(node) as client:
            first = client.ack([notice.notice_id])
            assert list(first.acked) == [notice.notice_id] and len(first.ledger_indexes) == 1
            assert client.pull_all() == []
            second = client.ack([notice.notice_id])
            assert list(second.already_acked) == [notice.notice_id] and not second.acked
    assert _count(gateway, "notice.acked") == 2
    assert _count(gateway, "notice.created") == created

    # the officer's trace of the record shows both notices and their acknowledgements
    result = CliRunner().invoke(
        cli,
        [
            "audit",
            "trace",
            "--identity",
            str(officer.files.root),
            "--gateway",
            gateway.address,
            "--record",
            RECORD,
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    traced = json.loads(result.output)["notices"]
    assert {n["node_id"] for n in traced} == {"bank-a", "fz-platform"}
    assert all(n["ack_ledger_index"] is not None for n in traced)

    # revoking the platform's grant: a later notice carries names only
    with AuthzClient(world.platform) as client:
        client.revoke_signed(sign_revocation(world.key, platform_grant, CODE, "结清"))
    _push(dept, tmp_path, 3, {**CORRECTED, "arrears_amount": "0"})
    withheld = _pull_until_one(world.platform)
    assert (withheld.old_version, withheld.new_version) == (2, 3)
    assert list(withheld.changed_fields) == ["arrears_amount"] and not withheld.values
    assert withheld.values_withheld == "GRANT_INACTIVE"


def test_notices_pull_command(gateway: Gateway, tmp_path: Path) -> None:
    world = make_world(gateway, tmp_path)
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    _push(dept, tmp_path, 1, TAX_FIELDS)
    _grant(world, "bank-a")
    _tax_fields(world.bank)
    _push(dept, tmp_path, 2, CORRECTED)
    notice = _pull_until_one(world.bank)
    args = ["notices", "pull", "--identity", str(world.bank.files.root), "--json"]
    args += ["--gateway", gateway.address]
    runner = CliRunner()
    shown = json.loads(runner.invoke(cli, [*args, "--ack"], catch_exceptions=False).output)
    assert [n["notice_id"] for n in shown["notices"]] == [notice.notice_id]
    assert shown["notices"][0]["changed_fields"] == ["arrears_amount", "taxable_revenue"]
    assert shown["acked"] == [notice.notice_id]
    again = json.loads(runner.invoke(cli, args, catch_exceptions=False).output)
    assert again == {"notices": []}


# A day inside the shipped working-day calendars: the objection's deadlines must not
# depend on which calendar year today is in.
FILED = datetime(2025, 10, 11, 9, 0, tzinfo=UTC)


def test_objection_answered_by_correction_reaches_receivers(tmp_path: Path) -> None:
    """The enterprise objects to v1 through its platform; the department pushes v2 and
    answers "corrected": the bank and the platform that received v1 are told once."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with running_gateway(tmp_path, clock=clock) as gateway:
        _objection_answered_by_correction(gateway, clock, tmp_path)


def _objection_answered_by_correction(gateway: Gateway, clock: FakeClock, tmp_path: Path) -> None:
    world = make_world(gateway, tmp_path)
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    _push(dept, tmp_path, 1, TAX_FIELDS)
    _grant(world, "bank-a")
    _grant(world, "fz-platform")
    clock.set(datetime.now(UTC))  # the grants were issued on the real clock
    _tax_fields(world.bank)
    _tax_fields(world.platform)
    statement = make_objection(
        credit_code=CODE,
        source_node_id="tax-dept",
        record_id=RECORD,
        version=1,
        fields=["taxable_revenue"],
        claim="应纳税收入有误",
        issued_at=FILED - timedelta(minutes=5),
    )
    today = clock.now()
    clock.set(FILED)  # filed on a day of a known calendar year, then back to today
    with ObjectionClient(world.platform) as platform:
        platform.file(
            statement,
            sign_objection(world.key, statement),
            FILED - timedelta(minutes=1),
        )
    clock.set(today)
    _push(dept, tmp_path, 2, CORRECTED)
    with ObjectionClient(dept) as department:
        answered = department.answer(statement.objection_id, "corrected", "已更正", 2)
    assert answered.objection.corrected_version == 2
    for node in (world.bank, world.platform):
        notice = _pull_until_one(node)
        assert (notice.record_id, notice.old_version, notice.new_version) == (RECORD, 1, 2)
        with NoticeClient(node) as client:
            assert list(client.ack([notice.notice_id]).acked) == [notice.notice_id]
            assert client.pull_all() == []
    assert _count(gateway, "notice.acked") == 2
