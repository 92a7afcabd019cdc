"""An objection answered ``withdrawn`` over real mTLS, on both engines: a bank and the
city platform received the record; after the department withdraws it the record is no
longer disclosed to the bank, and each of the two nodes gets exactly one correction
notice (reason withdrawn, field names only) and acknowledges it once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.authz_helpers import CODE, World, make_world, seed_records
from support.harness import Gateway, running_gateway

from node_agent.notices import NoticeClient
from node_agent.objections import ObjectionClient, make_objection, sign_objection
from node_agent.query import QueryClient
from xinlian.clock import FakeClock
from xinlian.identity import Identity
from xinlian.v1 import objections_pb2 as opb
from xinlian.workdays import SHANGHAI

pytestmark = pytest.mark.integration

FILED = datetime(2025, 10, 11, 9, 0, tzinfo=SHANGHAI)  # inside the shipped calendars
RECORD = "reg-1"  # registration: public data, received without a grant


@pytest.fixture
def scene(tmp_path: Path, db_url: str) -> Iterator[tuple[Gateway, World, Identity]]:
    """Real time while enrolling (TLS checks certificates against it), then a fixed day
    so the objection's deadlines never depend on today's calendar year."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with running_gateway(tmp_path, db_url, clock=clock) as gw:
        seed_records(gw.runtime.store)
        world = make_world(gw, tmp_path)
        dept = gw.enroll_node("department", "tax-dept", categories=("tax", "registration"))
        clock.set(FILED)
        yield gw, world, dept


def _received(node: Identity) -> set[str] | None:
    """The field names ``node`` receives of RECORD now (None: not disclosed)."""
    with QueryClient(node) as client:
        [result] = client.query(CODE, categories=["registration"]).categories
    assert result.allowed
    found = [r for r in result.records if r.record_id == RECORD]
    return {f.name for f in found[0].fields} if found else None


def test_withdrawal_notifies_each_recipient_once(
    scene: tuple[Gateway, World, Identity],
) -> None:
    _, world, dept = scene
    received = {"bank": _received(world.bank), "platform": _received(world.platform)}
    assert all(received.values())

    # the enterprise objects through its platform; the department withdraws the record
    statement = make_objection(
        credit_code=CODE,
        source_node_id="tax-dept",
        record_id=RECORD,
        version=1,
        fields=["status"],
        claim="该企业已迁出，登记记录有误",
        issued_at=FILED - timedelta(days=2),
    )
    with ObjectionClient(world.platform) as platform:
        filed = platform.file(
            statement, sign_objection(world.key, statement), FILED - timedelta(days=1)
        )
    objection_id = filed.objection.statement.objection_id
    with ObjectionClient(dept) as tax:
        answered = tax.answer(objection_id, "withdrawn", "记录有误，撤回")
    assert answered.objection.state == opb.OBJECTION_STATE_WITHDRAWN

    # no longer disclosed to the bank
    assert _received(world.bank) is None

    for name, node in (("bank", world.bank), ("platform", world.platform)):
        with NoticeClient(node) as client:
            [notice] = client.pull_all()
            assert (notice.record_id, notice.source_node_id, notice.credit_code) == (
                RECORD,
                "tax-dept",
                CODE,
            )
            assert (notice.old_version, notice.new_version) == (1, 0)
            assert (notice.reason, notice.values_withheld) == ("withdrawn", "WITHDRAWN")
            # names only: the fields this node received, no values
            assert set(notice.changed_fields) == received[name]
            assert not notice.values
            first = client.ack([notice.notice_id])
            again = client.ack([notice.notice_id])
            assert list(first.acked) == [notice.notice_id] and not first.already_acked
            assert list(again.already_acked) == [notice.notice_id] and not again.acked
            assert client.pull_all() == []
