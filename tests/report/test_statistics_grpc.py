"""The monthly statistics over real mTLS, on the gateway's FakeClock in March 2025, on
both stores: every count matches a count made here by walking the ledger entries
independently; a department pushing after its deadline shows as late, a category with
no data as missing; a bank is refused; a year without a calendar is a clear error."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from support.authz_helpers import CODE, NAME, World, make_world, reason_of
from support.harness import Gateway, running_gateway

from audit.entry import Entry
from authz.catalog import Catalog
from gateway.store import schema
from node_agent.enterprise import AuthzClient, make_grant, sign_grant
from node_agent.objections import ObjectionClient, make_objection, sign_objection
from node_agent.push import Pusher
from node_agent.query import QueryClient
from node_agent.statistics import StatisticsClient, rows_as_dicts, table, to_document
from xinlian.batch import BatchRecord
from xinlian.clock import FakeClock
from xinlian.identity import Identity
from xinlian.v1 import exchange_pb2_grpc
from xinlian.workdays import SHANGHAI
from xinlian_samples.generator import generate_enterprises, generate_records

pytestmark = pytest.mark.integration

CATALOG = Catalog.default()
NOW = datetime(2025, 3, 20, 10, 0, tzinfo=SHANGHAI)  # a Thursday
MARCH = (datetime(2025, 3, 1, tzinfo=SHANGHAI), datetime(2025, 4, 1, tzinfo=SHANGHAI))


@dataclass
class Scene:
    gw: Gateway
    clock: FakeClock
    world: World
    amr: Identity
    tax: Identity
    officer: Identity
    tmp: Path


def records(category: str, n: int, event: datetime, prefix: str) -> list[BatchRecord]:
    """``n`` valid records of ``category`` about CODE's neighbours, with ``event``."""
    out = []
    for i, enterprise in enumerate(generate_enterprises(n, seed=11)):
        sample = generate_records(enterprise, CATALOG.categories[category], 1, seed=11)[0]
        out.append(BatchRecord(sample.credit_code, f"{prefix}-{i}", 1, event, dict(sample.fields)))
    return out


def push(identity: Identity, batch_id: str, category: str, batch: list[BatchRecord]) -> None:
    pusher = Pusher(identity)
    with identity.channel() as channel:
        stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
        list(stub.Push(iter([pusher.make_request(batch_id, category, batch)]), timeout=60))


@pytest.fixture
def scene(tmp_path: Path, db_url: str) -> Iterator[Scene]:
    """Nodes enrolled on the real clock (TLS checks certificates against it), then the
    month's activity on 2025-03-20."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with running_gateway(tmp_path, db_url, clock=clock) as gw:
        world = make_world(gw, tmp_path, register=False)
        amr = gw.enroll_node("department", "amr-fj", categories=("admin_penalty", "admin_license"))
        tax = gw.enroll_node("department", "tax-fj", categories=("tax",))
        gw.enroll_node("department", "court-fj", categories=("judicial",))
        officer = gw.enroll_node("officer", "officer-1")
        clock.set(NOW)
        yield Scene(gw, clock, world, amr, tax, officer, tmp_path)


def month_of_activity(s: Scene) -> None:
    # a penalty decided two days ago (in time) and one decided 03-03 (7 working days:
    # due by the end of 03-12, pushed 03-20: late); one record with a bad credit code
    fresh = records("admin_penalty", 2, NOW - timedelta(days=2), "pen-fresh")
    old = records("admin_penalty", 1, datetime(2025, 3, 3, 15, 0, tzinfo=SHANGHAI), "pen-old")
    bad = replace(fresh[0], record_id="pen-bad", credit_code=fresh[0].credit_code[:17] + "!")
    push(s.amr, "amr-1", "admin_penalty", [*fresh, *old, bad])
    push(s.amr, "amr-1-again", "admin_penalty", fresh)  # stored already: duplicates
    # three tax records of February's close (15 working days: in time) and one of an
    # event in 2024, a year with no calendar: not assessed, and a note says why
    taxes = records("tax", 3, datetime(2025, 2, 28, tzinfo=SHANGHAI), "tax")
    taxes += records("tax", 1, datetime(2024, 12, 20, tzinfo=SHANGHAI), "tax-2024")
    push(s.tax, "tax-1", "tax", taxes)
    with pytest.raises(grpc.RpcError):  # not its category: the whole batch is refused
        push(s.tax, "tax-2", "admin_penalty", fresh)
    # the platform registers the enterprise; it grants the bank tax; the bank queries
    with AuthzClient(s.world.platform) as platform:
        pem = (s.tmp / "enterprise.pub.pem").read_text()
        platform.register(
            CODE, NAME, pem, "legal_rep_face_match", "case-1", verified_at=s.clock.now()
        )
        grant = make_grant(
            credit_code=CODE, grantee_node_id="bank-a", categories=["tax"], now=s.clock.now()
        )
        platform.submit(grant, sign_grant(s.world.key, grant))
    with pytest.raises(grpc.RpcError):  # a bank may not: an access.denied entry
        statistics(s.world.bank, "2025-03")
    with QueryClient(s.world.bank) as bank:
        bank.query(CODE, categories=["tax", "admin_penalty"])
        bank.query(CODE, categories=["social_insurance"])  # no grant: denied
        bank.query(CODE, categories=["social_insurance", "housing_fund"])
    # an objection to the late penalty's record… of CODE: push one for CODE first
    mine = BatchRecord(CODE, "pen-code", 1, NOW - timedelta(days=1), dict(fresh[0].fields))
    push(s.amr, "amr-2", "admin_penalty", [mine])
    statement = make_objection(
        credit_code=CODE,
        source_node_id="amr-fj",
        record_id="pen-code",
        version=1,
        fields=["penalty_content"],
        claim="处罚内容有误",
        issued_at=s.clock.now() - timedelta(hours=2),
    )
    with ObjectionClient(s.world.platform) as client:
        client.file(statement, sign_objection(s.world.key, statement), s.clock.now())


def ledger_entries(gw: Gateway) -> list[Entry]:
    t = schema.ledger_entries
    bodies = gw.runtime.store.read(
        lambda conn: [row.body for row in conn.execute(select(t.c.body).order_by(t.c.idx))]
    )
    return [Entry.decode(bytes(body)) for body in bodies]


def independent_counts(entries: list[Entry], start: datetime, end: datetime) -> dict[str, Any]:
    """The figures, counted here from the decoded entries of [start, end)."""
    pushed: Counter[tuple[str, str]] = Counter()
    rejected: Counter[tuple[str, str]] = Counter()
    refused: Counter[tuple[str, str, str]] = Counter()
    queries: Counter[str] = Counter()
    denied: Counter[str] = Counter()
    reasons: Counter[tuple[str, str, str]] = Counter()
    grants: Counter[str] = Counter()
    registered: Counter[str] = Counter()
    received: Counter[str] = Counter()
    calls: Counter[tuple[str, str, str]] = Counter()
    for e in entries:
        if not start <= e.time < end:
            continue
        d = e.details
        if e.action == "push.batch" and e.outcome == "ok":
            pushed[(e.actor, d["category"])] += d["accepted"]
            rejected[(e.actor, d["category"])] += d["rejected"]
        elif e.action == "push.batch":
            refused[(e.actor, d["category"], d["reason"])] += 1
        elif e.action in ("query", "query.denied"):
            queries[e.actor] += 1
            denied[e.actor] += e.action == "query.denied"
            for decision in d["categories"].values():
                if not decision["allowed"]:
                    reasons[(e.actor, "query", decision["reason_code"])] += 1
        elif e.action == "grant.created":
            grants[d["grantee_node_id"]] += 1
        elif e.action == "enterprise.registered":
            registered[e.actor] += 1
        elif e.action == "objection.filed":
            received[d["record"][0]] += 1
        elif e.action in ("access.denied", "statement.refused"):
            calls[(e.actor, e.action, d["reason"])] += d["count"] if d.get("summary") else 1
    return {
        "pushed": pushed,
        "rejected": rejected,
        "refused": refused,
        "queries": queries,
        "denied": denied,
        "reasons": reasons,
        "grants": grants,
        "registered": registered,
        "received": received,
        "calls": calls,
    }


def statistics(identity: Identity, month: str) -> dict[str, Any]:
    with StatisticsClient(identity) as client:
        return to_document(client.monthly(month))


def nonzero(counter: Counter[Any]) -> dict[Any, int]:
    return {k: v for k, v in counter.items() if v}


def test_report_matches_the_ledger_late_and_missing(scene: Scene) -> None:
    month_of_activity(scene)
    doc = statistics(scene.officer, "2025-03")
    want = independent_counts(ledger_entries(scene.gw), *MARCH)
    assert doc["month"] == "2025-03" and doc["period_start"] == "2025-02-28T16:00:00Z"

    # (1) per department and category: records, rejects, refused batches
    pushes = rows_as_dicts(table(doc, "department_categories"))
    got = {(r["department"], r["category"]): int(r["records"]) for r in pushes}
    assert (
        nonzero(Counter(got))
        == nonzero(want["pushed"])
        == {
            ("amr-fj", "admin_penalty"): 4,
            ("tax-fj", "tax"): 4,
        }
    )
    got_rejected = {(r["department"], r["category"]): int(r["rejected"]) for r in pushes}
    assert nonzero(Counter(got_rejected)) == nonzero(want["rejected"])
    rejects = rows_as_dicts(table(doc, "department_rejects"))
    assert (
        {
            (r["department"], r["category"], r["reason"]): int(r["batches_refused"])
            for r in rejects
            if r["batches_refused"] != "0"
        }
        == dict(want["refused"])
        == {("tax-fj", "admin_penalty", "CATEGORY_NOT_RESPONSIBLE"): 1}
    )
    assert sum(int(r["records"]) for r in rejects) == sum(want["rejected"].values()) == 1

    # (2) timeliness: the penalty of 03-03 pushed on 03-20 is late, the others in time
    penalty = next(r for r in pushes if r["category"] == "admin_penalty")
    assert (penalty["on_time"], penalty["late"], penalty["not_assessed"]) == ("3", "1", "0")
    assert penalty["on_time_share"] == "0.7500"
    assert (penalty["batches"], penalty["duplicates"]) == ("3", "2")
    tax = next(r for r in pushes if r["category"] == "tax")
    assert (tax["on_time"], tax["late"]) == ("3", "0")  # 02-28 + 15 working days
    assert (tax["not_assessed"], tax["on_time_share"]) == ("1", "1.0000")
    assert any("2024" in note and "not assessed" in note for note in doc["notes"])

    # (3) categories with no data: the court's judicial and amr's admin_license (both
    # expected monthly), and catalog categories nobody answers for
    missing = {
        (r["department"], r["category"]): r["gap"]
        for r in rows_as_dicts(table(doc, "missing_categories"))
    }
    assert missing[("court-fj", "judicial")] == "是"
    assert missing[("amr-fj", "admin_license")] == "是"
    assert ("amr-fj", "admin_penalty") not in missing
    assert missing[("—", "rnd")] == "否"  # yearly: listed, not a gap

    # (4) consumers: queries, denials by reason, grants, enterprises registered
    consumers = {r["node"]: r for r in rows_as_dicts(table(doc, "consumers"))}
    for node in ("bank-a", "fz-platform"):
        row = consumers[node]
        assert int(row["queries"]) == want["queries"][node]
        assert int(row["denied_queries"]) == want["denied"][node]
        assert int(row["grants_new"]) == want["grants"][node]
        assert int(row["enterprises_registered"]) == want["registered"][node]
        assert row["subscriptions"] == "n/a"
    assert consumers["bank-a"]["queries"] == "3" and consumers["bank-a"]["denied_queries"] == "2"
    assert consumers["bank-a"]["grants_active"] == "1"
    denials = {
        (r["node"], r["source"], r["reason"]): int(r["denials"])
        for r in rows_as_dicts(table(doc, "consumer_denials"))
    }
    assert denials == dict(want["reasons"]) | dict(want["calls"])
    assert sum(want["reasons"].values()) == 3
    assert dict(want["calls"]) == {("bank-a", "access.denied", "KIND_NOT_ALLOWED"): 1}
    assert consumers["bank-a"]["refused_calls"] == "1"

    # (5) objections: one received by amr, none answered, none overdue yet
    objections = {r["department"]: r for r in rows_as_dicts(table(doc, "objections"))}
    assert int(objections["amr-fj"]["received"]) == want["received"]["amr-fj"] == 1
    assert objections["amr-fj"]["overdue_open"] == "0"

    # (6) the request itself is an audit.search entry of the officer
    entry = ledger_entries(scene.gw)[doc["ledger_index"]]
    assert (entry.action, entry.actor, entry.details["kind"]) == (
        "audit.search",
        "officer-1",
        "statistics",
    )
    assert entry.details["month"] == "2025-03"

    # (7) May: the objection (20 days to answer) is overdue, nothing was pushed
    scene.clock.set(datetime(2025, 5, 6, 9, 0, tzinfo=SHANGHAI))
    may = statistics(scene.officer, "2025-05")
    objections = {r["department"]: r for r in rows_as_dicts(table(may, "objections"))}
    assert objections["amr-fj"]["overdue_open"] == "1"
    assert objections["amr-fj"]["received"] == "0"
    summary = {r["metric"]: r["value"] for r in rows_as_dicts(table(may, "summary"))}
    assert summary["records"] == "0" and summary["on_time_share"] == "n/a"
    assert summary["objections_overdue"] == "1"


def test_a_bank_is_refused_and_a_month_without_calendar_is_clear(scene: Scene) -> None:
    with pytest.raises(grpc.RpcError) as err:
        statistics(scene.world.bank, "2025-03")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        statistics(scene.officer, "2027-01")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(err.value) == "CALENDAR_YEAR_UNKNOWN"
    assert "no working-day calendar for 2027" in (err.value.details() or "")
    for bad in ("2025-13", "25-03", "2025-3"):
        with pytest.raises(grpc.RpcError) as err:
            statistics(scene.officer, bad)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        statistics(scene.officer, "2025-04")  # not begun on 2025-03-20
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    admin = scene.gw.admin()
    assert statistics(admin, "2025-03")["month"] == "2025-03"
    assert json.dumps(statistics(admin, "2025-03"), ensure_ascii=False)
