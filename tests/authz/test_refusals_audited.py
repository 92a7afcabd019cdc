"""Refusals leave a trace ("fail loudly"): every refused call of a known node and every
refused signed statement is a ledger entry an officer finds with ``audit search``, naming
the node, the reason and (for a statement) the enterprise; every refused call's log line
names the node and the reason; a flood is summarized, its counts adding up."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from support.authz_helpers import CODE, World, make_world, reason_of
from support.harness import Gateway, running_gateway

from audit.entry import Entry
from authz.catalog import Purpose
from gateway.flows.denials import DENIAL_ENTRIES_PER_NODE, DENIAL_WINDOW_S
from gateway.store import schema
from gateway.store.db import Store
from node_agent.enterprise import (
    AuthzClient,
    generate_key,
    load_signing_key,
    make_grant,
    sign_grant,
    sign_revocation,
)
from node_agent.query import QueryClient, query_request, self_query_proof
from xinlian.clock import FakeClock
from xinlian.identity import Identity
from xinlian.v1 import audit_pb2, audit_pb2_grpc, registry_pb2, registry_pb2_grpc
from xinlian_cli.main import cli

pytestmark = pytest.mark.integration

SEARCH = "/xinlian.v1.AuditService/SearchEntries"


def _search(officer: Identity, **filters: Any) -> list[tuple[Any, Entry]]:
    with officer.channel() as channel:
        response = audit_pb2_grpc.AuditServiceStub(channel).SearchEntries(
            audit_pb2.SearchEntriesRequest(page_size=500, **filters), timeout=10
        )
    return [(e, Entry.decode(bytes(e.entry))) for e in response.entries]


def _refused(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def _get_self(identity: Identity) -> Any:
    with identity.channel() as channel:
        return registry_pb2_grpc.RegistryServiceStub(channel).GetSelf(
            registry_pb2.GetSelfRequest(), timeout=10
        )


def test_denied_calls_of_known_nodes_are_entries_and_log_lines(
    gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xinlian.rpc")
    officer = gateway.enroll_node("officer", "officer-1")
    bank = gateway.enroll_node("institution", "bank-a")
    suspended = gateway.enroll_node("institution", "bank-s")
    exited = gateway.enroll_node("institution", "bank-x")
    admin = gateway.admin_stub()
    # a method the caller's kind may not use
    err = _refused(lambda: _search(bank))
    assert reason_of(err) == "KIND_NOT_ALLOWED"
    # a suspended node
    admin.SuspendNode(registry_pb2.SuspendNodeRequest(node_id="bank-s", reason="调查"), timeout=10)
    assert reason_of(_refused(lambda: _get_self(suspended))) == "NODE_SUSPENDED"
    # an exited node (exit revokes its certificates)
    admin.ExitNode(registry_pb2.ExitNodeRequest(node_id="bank-x", reason="退出"), timeout=10)
    assert reason_of(_refused(lambda: _get_self(exited))) == "CERT_REVOKED"
    # no certificate at all: nobody to name, logged only
    creds = grpc.ssl_channel_credentials(root_certificates=gateway.ca_pem)
    with grpc.secure_channel(gateway.enroll_address, creds) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        anonymous = _refused(lambda: stub.GetSelf(registry_pb2.GetSelfRequest(), timeout=10))
    assert reason_of(anonymous) == "NO_CLIENT_CERTIFICATE"

    found = {e.actor: (e, entry) for e, entry in _search(officer, action="access.denied")}
    assert set(found) == {"bank-a", "bank-s", "bank-x"}
    expected = {
        "bank-a": ("KIND_NOT_ALLOWED", SEARCH, "admitted"),
        "bank-s": ("NODE_SUSPENDED", "/xinlian.v1.RegistryService/GetSelf", "suspended"),
        "bank-x": ("CERT_REVOKED", "/xinlian.v1.RegistryService/GetSelf", "exited"),
    }
    for node, (reason, method, state) in expected.items():
        wire, entry = found[node]
        assert wire.outcome == "denied" and entry.actor_kind == "institution"
        assert entry.details["reason"] == reason and entry.details["method"] == method
        assert entry.details.get("node_state") == state
    # the officer's search by node finds it too
    assert [e.action for e, _ in _search(officer, node_id="bank-s", outcome="denied")] == [
        "access.denied"
    ]

    logged = [r.getMessage() for r in caplog.records if r.name == "xinlian.rpc"]
    for line in (
        "caller=bank-a code=PERMISSION_DENIED reason=KIND_NOT_ALLOWED",
        "caller=bank-s code=PERMISSION_DENIED reason=NODE_SUSPENDED",
        "caller=bank-x code=UNAUTHENTICATED reason=CERT_REVOKED",
        "caller=- code=UNAUTHENTICATED reason=NO_CLIENT_CERTIFICATE",
    ):
        assert any(line in message for message in logged), line
    refused = [r for r in caplog.records if "code=PERMISSION_DENIED" in r.getMessage()]
    assert refused and all(r.levelno == logging.WARNING for r in refused)


def test_refused_statements_are_found_by_enterprise(gateway: Gateway, tmp_path: Path) -> None:
    world: World = make_world(gateway, tmp_path)
    officer = gateway.enroll_node("officer", "officer-1")
    other = load_signing_key(generate_key(tmp_path / "k" / "other.pem").with_name("other.pem"))
    new_pub = generate_key(tmp_path / "new.pem")
    with AuthzClient(world.platform) as platform, QueryClient(world.platform) as querier:
        # a grant signed by another key: a forgery of the enterprise's signature
        forged = make_grant(credit_code=CODE, grantee_node_id="bank-a", categories=["tax"])
        err = _refused(lambda: platform.submit(forged, sign_grant(other, forged)))
        assert reason_of(err) == "BAD_SIGNATURE"
        # a forged revocation of a real grant
        grant = make_grant(credit_code=CODE, grantee_node_id="bank-a", categories=["tax"])
        platform.submit(grant, sign_grant(world.key, grant))
        err = _refused(lambda: platform.revoke_signed(sign_revocation(other, grant.grant_id, CODE)))
        assert reason_of(err) == "BAD_SIGNATURE"
        # a forged key rotation
        err = _refused(lambda: platform.rotate(CODE, other, new_pub.read_bytes()))
        assert reason_of(err) == "BAD_SIGNATURE"
        # a forged self query, and a replayed one
        err = _refused(lambda: querier.query(CODE, categories=["tax"], self_key=other))
        assert reason_of(err) == "BAD_SIGNATURE"
        proof = self_query_proof(world.key, CODE, "fz-platform")
        request = query_request(CODE, Purpose.FINANCING, ["tax"], self_proof=proof)
        querier.stub.Query(request, timeout=10)
        err = _refused(lambda: querier.stub.Query(request, timeout=10))
        assert reason_of(err) == "SELF_QUERY_REPLAY"
    # a bank carrying a self query
    with QueryClient(world.bank) as bank:
        stolen = self_query_proof(world.key, CODE, "bank-a", now=datetime.now(UTC))
        err = _refused(
            lambda: bank.stub.Query(
                query_request(CODE, Purpose.FINANCING, ["tax"], self_proof=stolen), timeout=10
            )
        )
        assert reason_of(err) == "SELF_QUERY_NOT_PLATFORM"

    # the officer's CLI, by enterprise
    base = ["audit", "search", "--identity", str(officer.files.root), "--gateway", gateway.address]
    result = CliRunner().invoke(
        cli, [*base, "--enterprise", CODE, "--action", "statement.refused", "--json"]
    )
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)["entries"]
    got = sorted(
        (e["actor"], e["details"]["statement"], e["details"]["reason"], e["subject"])
        for e in entries
    )
    assert got == sorted(
        [
            ("fz-platform", "grant", "BAD_SIGNATURE", forged.grant_id),
            ("fz-platform", "revocation", "BAD_SIGNATURE", grant.grant_id),
            ("fz-platform", "key_rotation", "BAD_SIGNATURE", CODE),
            ("fz-platform", "self_query", "BAD_SIGNATURE", None),
            ("fz-platform", "self_query", "SELF_QUERY_REPLAY", None),
            ("bank-a", "self_query", "SELF_QUERY_NOT_PLATFORM", None),
        ]
    )
    assert all(e["credit_code"] == CODE and e["outcome"] == "denied" for e in entries)
    replay = next(e for e in entries if e["details"]["reason"] == "SELF_QUERY_REPLAY")
    assert replay["details"]["nonce"] == proof.nonce
    assert replay["details"]["method"] == "/xinlian.v1.ExchangeService/Query"


def _denied_rows(store: Store, node: str) -> list[Entry]:
    t = schema.ledger_entries.c
    bodies = store.read(
        lambda c: (
            c.execute(
                select(t.body).where(t.actor == node, t.action == "access.denied").order_by(t.idx)
            )
            .scalars()
            .all()
        )
    )
    return [Entry.decode(bytes(body)) for body in bodies]


def test_a_flood_is_summarized_and_its_counts_add_up(tmp_path: Path) -> None:
    clock = FakeClock(datetime.now(UTC))
    first_flood, second_flood = 200, 15
    with running_gateway(tmp_path, clock=clock) as gw:
        bank = gw.enroll_node("institution", "bank-a")
        with bank.channel() as channel:
            stub = audit_pb2_grpc.AuditServiceStub(channel)

            def deny() -> None:
                _refused(lambda: stub.SearchEntries(audit_pb2.SearchEntriesRequest(), timeout=10))

            for _ in range(first_flood):
                deny()
            during = _denied_rows(gw.runtime.store, "bank-a")
            assert len(during) == DENIAL_ENTRIES_PER_NODE  # the rest counted, not written
            # the window closes; the next refusal writes its summary
            clock.advance(timedelta(seconds=DENIAL_WINDOW_S + 1))
            for _ in range(second_flood):
                deny()
        config = gw.config
    # stopping the gateway wrote the summary of the open window
    store = Store(config.database_url)
    try:
        entries = _denied_rows(store, "bank-a")
    finally:
        store.close()
    singles = [e for e in entries if not e.details.get("summary")]
    summaries = [e for e in entries if e.details.get("summary")]
    assert len(singles) == 2 * DENIAL_ENTRIES_PER_NODE
    assert [s.details["count"] for s in summaries] == [
        first_flood - DENIAL_ENTRIES_PER_NODE,
        second_flood - DENIAL_ENTRIES_PER_NODE,
    ]
    assert len(singles) + sum(s.details["count"] for s in summaries) == first_flood + second_flood
    for summary in summaries:
        assert summary.details["reason"] == "KIND_NOT_ALLOWED"
        assert summary.details["methods"] == [SEARCH]
        assert summary.details["first"] <= summary.details["last"]
        assert summary.actor == "bank-a" and summary.outcome.value == "denied"
