"""Scraping /metrics after a push and a query over real mTLS finds their series: RPCs
by method and code, pushed records by category, department and outcome, query decisions
by reason, and the committer, ledger and certificate figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from ops.conftest import grown, http_get, series
from support.authz_helpers import CODE, make_world, seed_records
from support.harness import Gateway

from authz.catalog import Catalog
from node_agent.push import Pusher
from node_agent.query import QueryClient
from xinlian_samples.generator import generate_enterprises, generate_records, write_jsonl

pytestmark = pytest.mark.integration

SPEC = Catalog.default().categories["housing_fund"]
PUSH = "/xinlian.v1.ExchangeService/Push"
QUERY = "/xinlian.v1.ExchangeService/Query"


def _push(gw: Gateway, tmp_path: Path) -> None:
    dept = gw.enroll_node("department", "hf-dept", categories=("housing_fund",))
    path = tmp_path / "records.jsonl"
    records = [r for e in generate_enterprises(3, 7) for r in generate_records(e, SPEC, 4, 7)]
    write_jsonl(records, path)
    assert Pusher(dept).push_file(path, "housing_fund", batch_size=6).accepted == 12


def test_push_and_query_series_appear(ops_gw: Gateway, tmp_path: Path) -> None:
    before = http_get(ops_gw.running.ops_port, "/metrics")[1]
    _push(ops_gw, tmp_path)
    seed_records(ops_gw.runtime.store)
    world = make_world(ops_gw, tmp_path)
    with QueryClient(world.bank) as bank:
        bank.query(CODE, categories=["registration", "tax"])

    status, text = http_get(ops_gw.running.ops_port, "/metrics")
    assert status == 200
    assert grown(before, text, "xinlian_rpc_calls_total", method=PUSH, code="OK") == 1
    assert grown(before, text, "xinlian_rpc_calls_total", method=QUERY, code="OK") == 1
    assert grown(before, text, "xinlian_rpc_duration_milliseconds_count", method=QUERY) == 1
    accepted = grown(
        before,
        text,
        "xinlian_push_records_total",
        category="housing_fund",
        department="hf-dept",
        outcome="accepted",
    )
    assert accepted == 12
    allowed = {"category": "registration", "outcome": "allowed", "reason": "ALLOWED"}
    assert grown(before, text, "xinlian_query_decisions_total", **allowed) == 1
    denied = {"category": "tax", "outcome": "denied", "reason": "NO_GRANT"}
    assert grown(before, text, "xinlian_query_decisions_total", **denied) == 1
    assert grown(before, text, "xinlian_committer_group_size_count") >= 1
    assert grown(before, text, "xinlian_committer_duration_milliseconds_count") >= 1
    expiry = series(text, "xinlian_node_certificate_expiry_seconds", node="admin")
    assert series(text, "xinlian_committer_queue_depth") == [0.0]
    assert series(text, "xinlian_ledger_size")[0] >= 3
    assert series(text, "xinlian_ready") == [1.0]
    # per node, read at start and then at most every minute (the first administrator
    # was enrolled by init)
    assert len(expiry) == 1 and 0 < expiry[0] <= 91 * 86400


def test_health_and_unknown_paths(ops_gw: Gateway) -> None:
    port = ops_gw.running.ops_port
    assert http_get(port, "/healthz") == (200, "ok\n")
    assert http_get(port, "/readyz") == (200, "ready\n")
    assert http_get(port, "/ledger")[0] == 404
