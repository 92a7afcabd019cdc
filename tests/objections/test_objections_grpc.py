"""Objections end to end over real mTLS, on the gateway's FakeClock: filing (both
signatures, the forwarding deadline across a holiday), routing to the department that
pushed the record, each answer, what a bank sees while an objection is open, overdue
listing, freezes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select
from support.authz_helpers import (
    CODE,
    World,
    insert_record,
    ledger_row,
    make_world,
    reason_of,
    seed_records,
)
from support.harness import Gateway, running_gateway

from audit.entry import Entry
from authz.catalog import Purpose
from authz.objections import Objection
from gateway.store import schema
from node_agent.enterprise import generate_key, load_signing_key
from node_agent.objections import (
    ObjectionClient,
    countersign,
    make_objection,
    sign_objection,
)
from node_agent.query import QueryClient, query_request, self_query_proof
from xinlian.clock import FakeClock
from xinlian.identity import Identity
from xinlian.v1 import exchange_pb2
from xinlian.v1 import objections_pb2 as opb
from xinlian.workdays import SHANGHAI

pytestmark = pytest.mark.integration

FILED = datetime(2025, 10, 11, 9, 0, tzinfo=SHANGHAI)  # Saturday, an adjusted working day
JUDICIAL = {"case_no": "(2025)闽0102民初123号", "court_name": "福州市鼓楼区人民法院"}


@dataclass
class Scene:
    gw: Gateway
    clock: FakeClock
    world: World
    tax: Identity
    court: Identity
    officer: Identity
    tmp: Path

    def objection(self, record_id: str, source: str = "tax-dept", **kw: object) -> Objection:
        values: dict[str, object] = {
            "credit_code": CODE,
            "source_node_id": source,
            "record_id": record_id,
            "version": 1,
            "fields": ["status"],
            "claim": "该记录与事实不符",
            "issued_at": self.clock.now() - timedelta(days=2),
        }
        values.update(kw)
        return make_objection(**values)  # type: ignore[arg-type]

    def file(
        self, statement: Objection, received_at: datetime | None = None
    ) -> opb.FileObjectionResponse:
        received = received_at or self.clock.now() - timedelta(days=1)
        with ObjectionClient(self.world.platform) as client:
            return client.file(statement, sign_objection(self.world.key, statement), received)

    def bank_query(self, *categories: str) -> dict[str, exchange_pb2.CategoryResult]:
        with QueryClient(self.world.bank) as bank:
            response = bank.query(CODE, categories=list(categories))
        return {r.category: r for r in response.categories}

    def own_query(self, *categories: str) -> dict[str, exchange_pb2.CategoryResult]:
        proof = self_query_proof(
            self.world.key, CODE, self.world.platform.node_id, now=self.clock.now()
        )
        request = query_request(CODE, Purpose.FINANCING, list(categories), self_proof=proof)
        with QueryClient(self.world.platform) as platform:
            response = platform.stub.Query(request, timeout=30)
        return {r.category: r for r in response.categories}


@pytest.fixture
def scene(tmp_path: Path, db_url: str) -> Iterator[Scene]:
    """Every test on SQLite and on PostgreSQL. Real time while enrolling (TLS checks
    certificates against the real clock), then the gateway's clock moves to the Saturday
    after the 2025 National Day holiday."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with running_gateway(tmp_path, db_url, clock=clock) as gw:
        seed_records(gw.runtime.store)
        insert_record(
            gw.runtime.store,
            code=CODE,
            category="judicial",
            record_id="jud-1",
            fields=JUDICIAL,
            source="court-dept",
        )
        world = make_world(gw, tmp_path)
        tax = gw.enroll_node("department", "tax-dept", categories=("tax", "registration"))
        court = gw.enroll_node("department", "court-dept", categories=("judicial",))
        officer = gw.enroll_node("officer", "officer-1")
        clock.set(FILED)
        yield Scene(gw, clock, world, tax, court, officer, tmp_path)


def _code(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()  # type: ignore[operator]
    return info.value.code(), reason_of(info.value)


def test_forged_or_altered_filings_are_refused(scene: Scene) -> None:
    statement = scene.objection("reg-1")
    received = scene.clock.now() - timedelta(days=1)
    forged_key = load_signing_key_at(scene.tmp / "forged.pem")
    with ObjectionClient(scene.world.platform) as client:
        # (1) a key that is not the enterprise's
        forged = sign_objection(forged_key, statement)
        assert _code(lambda: client.file(statement, forged, received)) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "BAD_SIGNATURE",
        )
        # (2) the enterprise signed another claim
        signature = sign_objection(scene.world.key, statement)
        altered = dataclasses.replace(statement, claim="已全部更正")
        assert _code(lambda: client.file(altered, signature, received))[1] == "BAD_SIGNATURE"
        # (3) the countersignature of another node's key (the bank's)
        bank_signed = countersign(scene.world.bank, statement, received)
        assert _code(lambda: client.file(statement, signature, received, bank_signed)) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "BAD_SIGNATURE",
        )
        # (4) the platform countersigned another receipt time than the one claimed
        earlier = countersign(scene.world.platform, statement, received - timedelta(days=5))
        assert _code(lambda: client.file(statement, signature, received, earlier))[1] == (
            "BAD_SIGNATURE"
        )
        # (5) a record of another enterprise, or none
        other = scene.objection("nope-1")
        assert _code(
            lambda: client.file(other, sign_objection(scene.world.key, other), received)
        ) == (grpc.StatusCode.NOT_FOUND, "RECORD_NOT_FOUND")
        assert client.list() == []
        # the genuine filing is accepted, once
        filed = client.file(statement, signature, received)
        assert filed.objection.state == opb.OBJECTION_STATE_OPEN
        assert _code(lambda: client.file(statement, signature, received))[0] == (
            grpc.StatusCode.ALREADY_EXISTS
        )
    refused = ledger_row(scene.gw.runtime.store, filed.ledger_index - 1)
    assert refused.action == "statement.refused" and refused.credit_code == CODE


def load_signing_key_at(path: Path):  # type: ignore[no-untyped-def]
    generate_key(path)
    return load_signing_key(path)


def test_forwarding_on_the_third_working_day_is_flagged_late(scene: Scene) -> None:
    # received Tuesday 2025-09-30; 10-01..10-08 holiday; 10-09 and 10-10 are the two
    # working days; filed Saturday 10-11 (an adjusted working day): the third
    received = datetime(2025, 9, 30, 10, 0, tzinfo=SHANGHAI)
    late = scene.file(
        scene.objection("reg-1", issued_at=received - timedelta(hours=1)), received
    ).objection
    assert late.forwarded_late
    assert late.forward_due.ToDatetime(UTC) == datetime(
        2025, 10, 10, 15, 59, 59, 999999, tzinfo=UTC
    )
    # received Thursday 10-09: due by the end of Saturday 10-11, on time
    received = datetime(2025, 10, 9, 17, 0, tzinfo=SHANGHAI)
    on_time = scene.file(
        scene.objection("tax-1", fields=["tax_credit_rating"], issued_at=received),
        received,
    ).objection
    assert not on_time.forwarded_late
    # the answer is due 20 calendar days after the gateway's receipt: Friday 10-31
    assert on_time.answer_due.ToDatetime(UTC) == datetime(
        2025, 10, 31, 15, 59, 59, 999999, tzinfo=UTC
    )
    # the entries: the enterprise, the trace id, the deadlines
    entries = entries_of(scene, "objection.filed")
    assert [e.details["forwarded_late"] for e in entries] == [True, False]
    assert {e.credit_code for e in entries} == {CODE}
    assert all(e.trace_id and e.actor == "fz-platform" for e in entries)


def test_while_open_a_bank_sees_the_annotation_or_nothing(scene: Scene) -> None:
    reg = scene.file(scene.objection("reg-1")).objection
    scene.file(scene.objection("jud-1", source="court-dept", fields=["case_no"]))
    results = scene.bank_query("registration", "judicial")
    # registration: annotate (the default rule)
    (record,) = results["registration"].records
    (note,) = record.objections
    assert (note.objection_id, note.state, note.label) == (
        reg.statement.objection_id,
        "open",
        "异议处理中",
    )
    assert note.filed_at.ToDatetime(UTC) == FILED
    # judicial: the catalog's rule withholds the disputed record while it is open
    assert results["judicial"].allowed and not results["judicial"].records
    assert results["judicial"].withheld == 1
    # the enterprise itself sees its record, with its objection's state
    own = scene.own_query("judicial")["judicial"]
    assert [n.state for n in own.records[0].objections] == ["open"]


def test_answers_by_the_department_that_pushed_the_record(scene: Scene) -> None:
    upheld = scene.file(scene.objection("reg-1")).objection.statement.objection_id
    corrected = scene.file(
        scene.objection("tax-1", fields=["tax_credit_rating"])
    ).objection.statement.objection_id
    withdrawn = scene.file(
        scene.objection("si-1", fields=["insured_headcount"])
    ).objection.statement.objection_id
    unconfirmable = scene.file(
        scene.objection("jud-1", source="court-dept", fields=["case_no"])
    ).objection.statement.objection_id
    with ObjectionClient(scene.tax) as tax, ObjectionClient(scene.court) as court:
        # routing: each department's inbox holds the objections to its records
        assert {o.statement.objection_id for o in tax.list()} == {upheld, corrected, withdrawn}
        assert [o.statement.objection_id for o in court.list()] == [unconfirmable]
        # another department may neither read nor answer
        assert _code(lambda: court.get(upheld))[0] == grpc.StatusCode.NOT_FOUND
        assert _code(lambda: court.answer(upheld, "upheld", "核实无误")) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "NOT_RECORD_SOURCE",
        )
        # upheld: the record stands, the annotation goes
        done = tax.answer(upheld, "upheld", "经核实登记信息无误")
        assert done.objection.state == opb.OBJECTION_STATE_UPHELD
        assert not scene.bank_query("registration")["registration"].records[0].objections
        assert _code(lambda: tax.answer(upheld, "withdrawn"))[1] == "OBJECTION_STATE_CONFLICT"
        # corrected: the new version must be pushed first, by this department
        assert _code(lambda: tax.answer(corrected, "corrected", "", 2))[1] == (
            "CORRECTION_NOT_FOUND"
        )
        insert_record(
            scene.gw.runtime.store,
            code=CODE,
            category="tax",
            record_id="tax-1",
            version=2,
            fields={"tax_period": "2025-09-01", "tax_credit_rating": "A"},
        )
        assert _code(lambda: tax.answer(corrected, "corrected", "", 1))[0] == (
            grpc.StatusCode.INVALID_ARGUMENT
        )
        done = tax.answer(corrected, "corrected", "已更正纳税信用等级", 2)
        assert done.objection.corrected_version == 2
        # withdrawn: the record is no longer disclosed, to anybody; who received it (here
        # the platform, for the enterprise's own query) gets a correction notice
        assert scene.own_query("social_insurance")["social_insurance"].records
        tax.answer(withdrawn, "withdrawn", "记录有误，撤回")
        assert not scene.own_query("social_insurance")["social_insurance"].records
        # unconfirmable: the objection and the finding stay with the record
        court.answer(unconfirmable, "unconfirmable", "原判决书未载明争议事项，无法核实")
    (record,) = scene.bank_query("judicial")["judicial"].records
    (note,) = record.objections
    assert (note.state, note.label) == ("unconfirmable", "异议无法核实")
    assert note.finding == "原判决书未载明争议事项，无法核实"
    # the platform learns each outcome
    with ObjectionClient(scene.world.platform) as platform:
        states = {o.statement.objection_id: o.state for o in platform.list(credit_code=CODE)}
    assert states == {
        upheld: opb.OBJECTION_STATE_UPHELD,
        corrected: opb.OBJECTION_STATE_CORRECTED,
        withdrawn: opb.OBJECTION_STATE_WITHDRAWN,
        unconfirmable: opb.OBJECTION_STATE_UNCONFIRMABLE,
    }
    # each answer is a ledger entry of the department that gave it, naming the enterprise
    answers = entries_of(scene, "objection.answered")
    assert [(e.actor, e.details["answer"]) for e in answers] == [
        ("tax-dept", "upheld"),
        ("tax-dept", "corrected"),
        ("tax-dept", "withdrawn"),
        ("court-dept", "unconfirmable"),
    ]
    assert {e.credit_code for e in answers} == {CODE}
    assert answers[1].details["corrected_version"] == 2
    assert answers[2].details["notices"] == 1
    open_count = scene.gw.runtime.store.read(
        lambda conn: conn.execute(
            select(schema.enterprises.c.open_objections).where(
                schema.enterprises.c.credit_code == CODE
            )
        ).scalar_one()
    )
    assert open_count == 0


def entries_of(scene: Scene, action: str) -> list[Entry]:
    rows = scene.gw.runtime.store.read(
        lambda conn: conn.execute(
            select(schema.ledger_entries.c.body)
            .where(schema.ledger_entries.c.action == action)
            .order_by(schema.ledger_entries.c.idx)
        ).all()
    )
    return [Entry.decode(bytes(row.body)) for row in rows]


def test_overdue_objections_are_listed_for_administrators_and_officers(scene: Scene) -> None:
    first = scene.file(scene.objection("reg-1")).objection
    scene.clock.advance(timedelta(days=3))
    scene.file(scene.objection("tax-1", fields=["tax_credit_rating"]))
    due = first.answer_due.ToDatetime(UTC)
    scene.clock.set(due + timedelta(seconds=1))
    for identity in (scene.gw.admin(), scene.officer):
        with ObjectionClient(identity) as client:
            overdue = client.list(overdue_only=True)
            assert [o.statement.objection_id for o in overdue] == [first.statement.objection_id]
            assert overdue[0].overdue
            assert len(client.list()) == 2
    with ObjectionClient(scene.world.bank) as bank:
        assert _code(lambda: bank.list())[0] == grpc.StatusCode.PERMISSION_DENIED


def test_freeze_is_an_administrator_action_with_a_reason(scene: Scene) -> None:
    with ObjectionClient(scene.gw.admin()) as admin:
        assert _code(lambda: admin.freeze(CODE, True, " "))[0] == grpc.StatusCode.INVALID_ARGUMENT
        index = admin.freeze(CODE, True, "司法协助冻结 (2025)闽01执123号")
        assert not scene.bank_query("registration")["registration"].allowed
        assert scene.bank_query("registration")["registration"].reason_code == ("ENTERPRISE_FROZEN")
        assert _code(lambda: admin.freeze(CODE, True, "again"))[1] == "FREEZE_UNCHANGED"
        admin.freeze(CODE, False, "冻结解除")
    assert scene.bank_query("registration")["registration"].allowed
    entry = Entry.decode(bytes(ledger_row(scene.gw.runtime.store, index).body))
    assert entry.action.value == "enterprise.frozen" and entry.credit_code == CODE
    assert entry.details["reason"].startswith("司法协助冻结")
    with ObjectionClient(scene.tax) as tax:
        assert _code(lambda: tax.freeze(CODE, True, "x"))[0] == grpc.StatusCode.PERMISSION_DENIED
