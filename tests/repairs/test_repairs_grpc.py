"""Publicity periods and credit repair over real mTLS, with the gateway on a FakeClock: a
penalty past its period and a repaired one are not disclosed to a bank and still shown
to the enterprise's own query; who may repair, the minimum period, applications."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select
from support.authz_helpers import CODE, World, insert_record, make_world, reason_of
from support.harness import Gateway, running_gateway

from audit.entry import Entry
from authz.catalog import Purpose
from authz.publicity import RepairKind, end_of_months, local_day
from gateway.flows.notices import REASON_REPAIRED
from gateway.store import schema
from node_agent.enterprise import generate_key
from node_agent.enterprise import load_signing_key as load_enterprise_key
from node_agent.push_batches import load_signing_key
from node_agent.query import query_request, self_query_proof
from node_agent.repairs import RepairClient, make_application, make_repair, sign_statement
from xinlian.clock import FakeClock
from xinlian.identity import Identity
from xinlian.v1 import exchange_pb2_grpc
from xinlian.workdays import SHANGHAI

pytestmark = pytest.mark.integration

DEPT = "market-dept"


@dataclass
class Setup:
    gw: Gateway
    clock: FakeClock
    world: World
    dept: Identity
    other_dept: Identity
    days: Days


@pytest.fixture
def setup(tmp_path: Path, db_url: str) -> Iterator[Setup]:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    days = Days.of(local_day(clock.now()))
    with running_gateway(tmp_path, db_url, clock) as gw:
        world = make_world(gw, tmp_path)
        dept = gw.enroll_node("department", DEPT, categories=("admin_penalty",))
        other = gw.enroll_node("department", "other-dept", categories=("admin_penalty",))
        for record_id, fields in days.penalties.items():
            insert_record(
                gw.runtime.store,
                code=CODE,
                category="admin_penalty",
                record_id=record_id,
                fields=fields,
                source=DEPT,
                event_time=datetime.fromisoformat(fields["decision_date"]).replace(tzinfo=UTC),
            )
        yield Setup(gw, clock, world, dept, other, days)


def penalty(decided: str, **more: str) -> dict[str, str]:
    return {
        "penalty_document_no": f"榕市监处罚〔{decided[:4]}〕1号",
        "violation_type": "虚假宣传",
        "penalty_basis": "《中华人民共和国反不正当竞争法》第二十条",
        "penalty_type": "罚款",
        "decision_date": decided,
        "penalty_authority": "福州市市场监督管理局",
        **more,
    }


def months_before(day: date, months: int) -> date:
    """``day`` ``months`` calendar months earlier, clamped to the month's last day."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def cst(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """``hour``:``minute`` of ``day`` in China (node certificates live 90 days: every
    move of the clock stays within them)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Days:
    """The records and the days the tests move the clock to, from the day the test runs
    (in China)."""

    edge_last: date  # pen-edge's last public day: 3 years after its decision
    new_earliest: date  # pen-new: 3 months, then a day
    fire_earliest: date  # pen-fire (消防): 12 months, then a day
    penalties: dict[str, dict[str, str]]

    @classmethod
    def of(cls, today: date) -> Days:
        next_month = end_of_months(today.replace(day=1), 1)
        new_decided = today - timedelta(days=40)
        fire_decided = months_before(today, 10)
        penalties = {
            "pen-old": penalty(months_before(today, 40).isoformat()),  # past 3 years
            "pen-until": penalty(  # the source's own end of publicity passed
                months_before(today, 2).isoformat(),
                publicity_until=(today - timedelta(days=1)).isoformat(),
            ),
            "pen-live": penalty(months_before(today, 4).isoformat()),  # repaired below
            "pen-edge": penalty(months_before(next_month, 36).isoformat()),
            "pen-new": penalty(new_decided.isoformat()),  # a repair is too early for now
            "pen-fire": penalty(fire_decided.isoformat(), penalty_domain="消防"),
        }
        return cls(
            edge_last=next_month,
            new_earliest=end_of_months(new_decided, 3) + timedelta(days=1),
            fire_earliest=end_of_months(fire_decided, 12) + timedelta(days=1),
            penalties=penalties,
        )


def shown(
    identity: Identity, clock: FakeClock, key: object = None, category: str = "admin_penalty"
) -> set[str]:
    """The record ids of ``category`` a query by ``identity`` returns (own query if key)."""
    proof = self_query_proof(key, CODE, identity.node_id, clock.now()) if key else None  # type: ignore[arg-type]
    with identity.channel() as channel:
        response = exchange_pb2_grpc.ExchangeServiceStub(channel).Query(
            query_request(CODE, Purpose.FINANCING, [category], self_proof=proof),
            timeout=30,
        )
    (result,) = response.categories
    assert result.allowed, result.reason_code
    return {r.record_id for r in result.records}


def repair(s: Setup, who: Identity, record_id: str, **kw: object) -> object:
    statement = make_repair(
        who,
        credit_code=CODE,
        record_id=record_id,
        **{"source_node_id": DEPT, "category": "admin_penalty", **kw},  # type: ignore[arg-type]
        basis="已履行行政处罚决定并完成信用承诺 (榕信修〔2026〕1号)",
        issued_at=s.clock.now(),
    )
    with RepairClient(who) as client:
        return client.record(statement)


def refused(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call()  # type: ignore[operator]
    return err.value.code(), reason_of(err.value)


def test_expired_and_repaired_penalties_are_not_disclosed_to_a_bank(setup: Setup) -> None:
    s = setup
    everything = set(s.days.penalties)
    public = {"pen-live", "pen-edge", "pen-new", "pen-fire"}
    # past its period (3 years, or the source's own publicity_until): not to the bank
    assert shown(s.world.bank, s.clock) == public
    assert shown(s.world.platform, s.clock, s.world.key) == everything  # its own query
    # the clock moves past pen-edge's last public day (China time)
    s.clock.set(cst(s.days.edge_last, 23, 59))
    assert "pen-edge" in shown(s.world.bank, s.clock)
    s.clock.set(cst(s.days.edge_last + timedelta(days=1), 0, 0))
    public.discard("pen-edge")
    assert shown(s.world.bank, s.clock) == public
    # the department that pushed it repairs pen-live: gone for the bank, a notice queued
    response = repair(s, s.dept, "pen-live")
    assert response.repair.signer_node_id == DEPT and response.repair.version == 1  # type: ignore[attr-defined]
    assert response.notices == 2  # type: ignore[attr-defined]  # the bank, the platform
    public.discard("pen-live")
    assert shown(s.world.bank, s.clock) == public
    assert shown(s.world.platform, s.clock, s.world.key) == everything
    # the ledger entry names the record and the signature; the notice reached the bank
    entry = Entry.decode(
        _ledger_body(s.gw, response.repair.ledger_index)  # type: ignore[attr-defined]
    )
    assert entry.action == "repair.recorded" and entry.actor == DEPT
    assert entry.details["record_id"] == "pen-live" and entry.details["signature"]
    notices = s.gw.runtime.store.read(
        lambda c: c.execute(
            select(schema.notices.c.node_id, schema.notices.c.reason).where(
                schema.notices.c.record_id == "pen-live"
            )
        ).all()
    )
    assert sorted(tuple(n) for n in notices) == [
        ("bank-a", REASON_REPAIRED),
        ("fz-platform", REASON_REPAIRED),
    ]
    # a second repair of the same record is refused
    assert refused(lambda: repair(s, s.dept, "pen-live"))[1] == "REPAIR_EXISTS"


def _ledger_body(gw: Gateway, index: int) -> bytes:
    return bytes(
        gw.runtime.store.read(
            lambda c: c.execute(
                select(schema.ledger_entries.c.body).where(schema.ledger_entries.c.idx == index)
            ).scalar_one()
        )
    )


def test_who_may_repair_and_when(setup: Setup) -> None:
    s = setup
    # another department may not repair a record it did not push
    code, reason = refused(lambda: repair(s, s.other_dept, "pen-live"))
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "REPAIR_NOT_SOURCE")
    # a bank may not call RecordRepair at all
    assert refused(lambda: repair(s, s.world.bank, "pen-live"))[0] in {
        grpc.StatusCode.PERMISSION_DENIED,
    }
    # before the minimum period: 3 months, 12 for fire
    code, reason = refused(lambda: repair(s, s.dept, "pen-new"))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "REPAIR_BEFORE_MINIMUM")
    assert refused(lambda: repair(s, s.dept, "pen-fire"))[1] == "REPAIR_BEFORE_MINIMUM"
    s.clock.set(cst(s.days.new_earliest - timedelta(days=1), 23, 59))
    assert refused(lambda: repair(s, s.dept, "pen-new"))[1] == "REPAIR_BEFORE_MINIMUM"
    s.clock.set(cst(s.days.new_earliest, 0, 0))
    repair(s, s.dept, "pen-new")
    assert refused(lambda: repair(s, s.dept, "pen-fire"))[1] == "REPAIR_BEFORE_MINIMUM"
    # the credit center (an admin node) may repair any department's record
    s.clock.set(cst(s.days.fire_earliest))
    assert repair(s, s.gw.admin(), "pen-fire").repair.signer_kind == "admin"  # type: ignore[attr-defined]
    # a penalty is not a list: no removal
    assert refused(lambda: repair(s, s.dept, "pen-live", kind=RepairKind.REMOVAL))[1] == (
        "REMOVAL_NOT_APPLICABLE"
    )
    # a statement naming another signer, or signed by another key, is refused
    statement, own = (
        make_repair(
            signer,
            credit_code=CODE,
            source_node_id=DEPT,
            record_id="pen-live",
            category="admin_penalty",
            basis="伪造",
            issued_at=s.clock.now(),
        )
        for signer in (s.other_dept, s.dept)
    )
    other_key = load_signing_key(s.other_dept)
    with RepairClient(s.dept) as client:
        assert refused(lambda: client.record(statement))[1] == "REPAIR_SIGNER_MISMATCH"
        assert refused(lambda: client.record(own, sign_statement(other_key, own)))[1] == (
            "BAD_SIGNATURE"
        )
    assert "pen-live" in shown(s.world.bank, s.clock)


def test_an_application_is_routed_to_the_department_and_a_forgery_refused(
    setup: Setup, tmp_path: Path
) -> None:
    s = setup
    platform = s.world.platform

    def application(record_id: str) -> object:
        return make_application(
            platform.node_id,
            credit_code=CODE,
            source_node_id=DEPT,
            record_id=record_id,
            category="admin_penalty",
            reason="已足额缴纳罚款，完成整改",
            issued_at=s.clock.now(),
        )

    # forged: signed by a key that is not the enterprise's registered key
    generate_key(tmp_path / "forger.pem")
    forger = load_enterprise_key(tmp_path / "forger.pem")
    forged = application("pen-live")
    with RepairClient(platform) as client:
        code, reason = refused(
            lambda: client.apply(forged, sign_statement(forger, forged))  # type: ignore[arg-type]
        )
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "BAD_SIGNATURE")
    # too early for pen-new
    early = application("pen-new")
    with RepairClient(platform) as client:
        assert (
            refused(
                lambda: client.apply(early, sign_statement(s.world.key, early))  # type: ignore[arg-type]
            )[1]
            == "REPAIR_BEFORE_MINIMUM"
        )
        # the real one lands in the department's inbox, not another's
        real = application("pen-live")
        filed = client.apply(real, sign_statement(s.world.key, real))  # type: ignore[arg-type]
    app_id = filed.application.application_id
    assert filed.application.state == "open"
    with RepairClient(s.dept) as client:
        assert [a.application_id for a in client.applications("open")] == [app_id]
    with RepairClient(s.other_dept) as client:
        assert list(client.applications()) == []
        assert refused(lambda: client.refuse(app_id, "不是本部门"))[1] == "REPAIR_NOT_SOURCE"
    # the department grants it by recording the repair that names it
    done = repair(s, s.dept, "pen-live", application_id=app_id)
    assert done.repair.application_id == app_id  # type: ignore[attr-defined]
    with RepairClient(s.dept) as client:
        (answered,) = client.applications()
        assert (answered.state, answered.repair_id) == ("granted", done.repair.repair_id)  # type: ignore[attr-defined]
        assert [r.record_id for r in client.repairs(CODE)] == ["pen-live"]
    assert "pen-live" not in shown(s.world.bank, s.clock)
    # refused refusals of a statement leave statement.refused entries
    actions = s.gw.runtime.store.read(
        lambda c: (
            c.execute(
                select(schema.ledger_entries.c.action).where(
                    schema.ledger_entries.c.credit_code == CODE
                )
            )
            .scalars()
            .all()
        )
    )
    assert actions.count("statement.refused") == 2
    assert actions.count("repair.applied") == 1 and actions.count("repair.recorded") == 1


def test_the_credit_center_removes_a_listing_from_the_serious_dishonesty_list(
    setup: Setup,
) -> None:
    s = setup
    today = local_day(s.clock.now())
    for record_id, listed in (("list-1", 13), ("list-2", 6)):
        insert_record(
            s.gw.runtime.store,
            code=CODE,
            category="serious_dishonesty",
            record_id=record_id,
            fields={
                "list_type": "严重违法失信企业名单",
                "listing_reason": "提交虚假材料取得登记",
                "listing_authority": "福州市市场监督管理局",
                "listing_date": months_before(today, listed).isoformat(),
                "status": "在列",
            },
            source="credit-office",
        )
    listing = {"source_node_id": "credit-office", "category": "serious_dishonesty"}
    assert shown(s.world.bank, s.clock, category="serious_dishonesty") == {"list-1", "list-2"}
    # a list keeps a listing at least 12 months
    early = refused(lambda: repair(s, s.gw.admin(), "list-2", kind=RepairKind.REMOVAL, **listing))
    assert early[1] == "REPAIR_BEFORE_MINIMUM"
    removed = repair(s, s.gw.admin(), "list-1", kind=RepairKind.REMOVAL, **listing)
    assert removed.repair.kind == "removal"  # type: ignore[attr-defined]
    assert shown(s.world.bank, s.clock, category="serious_dishonesty") == {"list-2"}
    own = shown(s.world.platform, s.clock, s.world.key, category="serious_dishonesty")
    assert own == {"list-1", "list-2"}
