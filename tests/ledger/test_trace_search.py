"""Point 7: trace a record (source and every destination), trace an enterprise, search
with filters and pagination; officers only; the officers' own searches are entries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from click.testing import CliRunner
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select
from support.harness import Gateway
from support.ledger_helpers import CODE_A, CODE_B, seed_batch, seed_disclosure, tax_records

from gateway.store import schema
from xinlian.v1 import audit_pb2, audit_pb2_grpc
from xinlian_cli.main import cli

pytestmark = pytest.mark.integration


@pytest.fixture
def seeded(gateway: Gateway):  # type: ignore[no-untyped-def]
    dept = gateway.enroll_node("department", "tax-bureau", categories=("tax",))
    officer = gateway.enroll_node("officer", "officer-1")
    store = gateway.runtime.store
    batch = seed_batch(store, dept, "b-1", "tax", tax_records(4))
    seed_disclosure(
        store,
        batch.record_pks["r0"],
        "bank-1",
        CODE_A,
        {"tax_rating": "keep", "total_tax": "range_10k"},
        grant_id="grant-7",
    )
    seed_disclosure(
        store,
        batch.record_pks["r0"],
        "fz-platform",
        CODE_A,
        {"taxpayer_type": "keep"},
        grant_id=None,
        purpose="government_service",
    )
    seed_disclosure(store, batch.record_pks["r1"], "bank-2", CODE_B, {"tax_rating": "keep"})
    return gateway, officer, batch


def _audit_entries(gateway: Gateway) -> list[str]:
    t = schema.ledger_entries.c
    return list(
        gateway.runtime.store.read(
            lambda c: (
                c.execute(select(t.actor).where(t.action == "audit.search").order_by(t.idx))
                .scalars()
                .all()
            )
        )
    )


def test_trace_record_names_source_and_destinations(seeded) -> None:  # type: ignore[no-untyped-def]
    gateway, officer, batch = seeded
    with officer.channel() as channel:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        trace = stub.TraceRecord(audit_pb2.TraceRecordRequest(record_id="r0"), timeout=10)
    [source] = trace.sources
    assert (source.source_node_id, source.batch_id, source.category) == ("tax-bureau", "b-1", "tax")
    assert source.ledger_index == batch.ledger_index and source.credit_code == CODE_A
    stored_sig = gateway.runtime.store.read(
        lambda c: c.execute(select(schema.batches.c.signature)).scalar_one()
    )
    assert source.batch_signature == stored_sig
    got = {
        (d.consumer_node_id, d.grant_id, d.purpose): dict(zip(d.fields, d.masks, strict=False))
        for d in trace.destinations
    }
    assert got == {
        ("bank-1", "grant-7", "financing"): {"tax_rating": "keep", "total_tax": "range_10k"},
        ("fz-platform", "", "government_service"): {"taxpayer_type": "keep"},
    }
    assert all(d.trace_id and d.ledger_index > batch.ledger_index for d in trace.destinations)
    # the trace itself was recorded, before the reply
    assert _audit_entries(gateway) == ["officer-1"]


def test_trace_cli_table_and_json(seeded) -> None:  # type: ignore[no-untyped-def]
    gateway, officer, _ = seeded
    base = ["audit", "trace", "--identity", str(officer.files.root), "--gateway", gateway.address]
    table = CliRunner().invoke(cli, [*base, "--record", "r0"])
    assert table.exit_code == 0, table.output
    assert "tax-bureau" in table.output and "bank-1" in table.output and "raw" in table.output
    data = json.loads(CliRunner().invoke(cli, [*base, "--record", "r0", "--json"]).output)
    assert data["sources"][0]["batch_id"] == "b-1"
    assert {d["consumer_node_id"] for d in data["destinations"]} == {"bank-1", "fz-platform"}
    flows = json.loads(CliRunner().invoke(cli, [*base, "--enterprise", CODE_A, "--json"]).output)
    # every flow about the enterprise: the entries naming it, and the push batch that
    # brought its records (a batch spans enterprises, so it names none)
    assert {e["action"] for e in flows["entries"]} >= {"query", "push.batch"}
    assert all(e["credit_code"] == CODE_A or e["action"] == "push.batch" for e in flows["entries"])
    missing = CliRunner().invoke(cli, [*base, "--record", "nope"])
    assert missing.exit_code != 0


def test_search_filters_and_pagination(seeded) -> None:  # type: ignore[no-untyped-def]
    gateway, officer, _batch = seeded
    with officer.channel() as channel:
        stub = audit_pb2_grpc.AuditServiceStub(channel)

        def search(**kw):  # type: ignore[no-untyped-def]
            return stub.SearchEntries(audit_pb2.SearchEntriesRequest(**kw), timeout=10)

        by_node = search(node_id="tax-bureau")
        # as actor (the push) and as subject (its application, admission, enrollment)
        assert {e.action for e in by_node.entries} >= {"push.batch", "node.admitted"}
        assert all("tax-bureau" in (e.actor, e.subject) for e in by_node.entries)
        queries = search(action="query", credit_code=CODE_A)
        assert [e.actor for e in queries.entries] == ["bank-1", "fz-platform"]
        assert search(outcome="denied").entries == []
        # time range: everything is from the last minute
        now = datetime.now(UTC)
        since, until = Timestamp(), Timestamp()
        since.FromDatetime(now - timedelta(minutes=5))
        until.FromDatetime(now + timedelta(minutes=5))
        assert len(search(since=since, until=until, page_size=500).entries) > 5
        until.FromDatetime(now - timedelta(minutes=4))
        assert search(since=since, until=until).entries == []
        # pagination walks every entry once
        everything = search(page_size=500)
        walked, token = [], ""
        while True:
            page = search(page_size=2, page_token=token)
            walked.extend(e.index for e in page.entries)
            token = page.next_page_token
            if not token:
                break
        assert walked[: len(everything.entries)] == [e.index for e in everything.entries]
        # bad filters are named
        with pytest.raises(grpc.RpcError) as err:
            search(action="query.everything")
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "action" in (err.value.details() or "")
        with pytest.raises(grpc.RpcError) as err:
            search(page_token="abc")
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # every search above is itself a ledger entry (the refused ones are not)
    audit = _audit_entries(gateway)
    assert len(audit) >= 6 and set(audit) == {"officer-1"}
    # and can be searched
    with officer.channel() as channel:
        own = audit_pb2_grpc.AuditServiceStub(channel).SearchEntries(
            audit_pb2.SearchEntriesRequest(action="audit.search", node_id="officer-1"), timeout=10
        )
    assert len(own.entries) == len(audit)


def test_search_cli(seeded) -> None:  # type: ignore[no-untyped-def]
    gateway, officer, _ = seeded
    base = ["audit", "search", "--identity", str(officer.files.root), "--gateway", gateway.address]
    result = CliRunner().invoke(cli, [*base, "--action", "push.batch"])
    assert result.exit_code == 0, result.output
    assert "push.batch" in result.output
    data = json.loads(
        CliRunner()
        .invoke(cli, [*base, "--enterprise", CODE_A, "--page-size", "1", "--json"])
        .output
    )
    assert len(data["entries"]) == 1 and data["next_page_token"]
    assert data["entries"][0]["details"] is not None
