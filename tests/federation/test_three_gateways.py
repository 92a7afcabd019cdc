"""Three gateways on loopback, each with its own CA and store: the national node (100000),
Shaanxi (610000, on PostgreSQL) and Fujian (350000). Link, signed directory, relay up and
down, a Fujian bank querying a Shaanxi enterprise under its grant (masked), the same
after revocation (denied, reason), and one trace id with the peers' ledger indexes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from support.authz_helpers import reason_of
from support.federation import (
    directory_size,
    enterprise_of,
    entries,
    gateway_at,
    link_to,
    push_signed,
    records_for,
    relayed,
    wait_for,
)
from support.harness import Gateway

from gateway.host.federation_cli import show, verify
from node_agent.enterprise import (
    AuthzClient,
    generate_key,
    load_signing_key,
    make_grant,
    sign_grant,
    sign_revocation,
)
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.postgres]

SHAANXI = enterprise_of("610102")
NATIONAL_ENTERPRISE = enterprise_of("100000", seed=9)


def details(row: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(row.body)
    return dict(body["details"])


def query(bank: Any, code: str, categories: list[str], trace_id: str = "") -> pb.QueryResponse:
    with bank.channel() as channel:
        stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
        response: pb.QueryResponse = stub.Query(
            pb.QueryRequest(
                credit_code=code,
                purpose=1,  # financing
                categories=categories,
                trace_id=trace_id,
            ),
            timeout=30,
        )
        return response


def test_three_gateways(tmp_path: Path, pg_url: str) -> None:
    with (
        gateway_at(tmp_path, "national", "100000", top=True) as national,
        gateway_at(tmp_path, "shaanxi", "610000", pg_url) as shaanxi,
        gateway_at(tmp_path, "fujian", "350000") as fujian,
    ):
        # -- (1) link: applied, admitted with a review at the top, enrolled, joined ------
        joined = link_to(shaanxi, national)
        assert joined["upstream"] == "gw-100000"
        link_to(fujian, national)
        # -- (2) the directory reaches both members, signed, kept on disk ---------------
        for member in (shaanxi, fujian):
            wait_for(lambda m=member: directory_size(m) == 3, what="the directory")
        shown = show(fujian.config)
        members = {m["gateway_id"]: m for m in shown["directory"]["members"]}
        assert set(members) == {"gw-100000", "gw-610000", "gw-350000"}
        assert members["gw-610000"]["region_prefix"] == "61"
        assert members["gw-610000"]["verifier_key"] == shaanxi.runtime.signer.verifier_key()
        assert members["gw-610000"]["ca_pem"] == shaanxi.ca_pem.decode()
        assert members["gw-610000"]["origin"] == "xinlian.test/shaanxi"
        assert (fujian.home / "federation" / "directory.note").exists()

        # -- (3) relay up: a Shaanxi department's signed batch reaches the national node -
        tax_office = shaanxi.enroll_node("department", "sx-registry", ("registration",))
        pushed = push_signed(
            tax_office, "b-up-1", "registration", records_for(SHAANXI, "registration", 2)
        )
        assert pushed.accepted == 2
        wait_for(lambda: relayed(national), what="the relayed batch")
        (copy,) = relayed(national)
        assert (copy.source_gateway_id, copy.source_node_id, copy.batch_id) == (
            "gw-610000",
            "sx-registry",
            "b-up-1",
        )
        assert copy.outcomes == "AA" and copy.direction == "up"
        (sent,) = wait_for(lambda: entries(shaanxi, "relay.sent"), what="relay.sent")
        (received,) = entries(national, "relay.received")
        assert sent.trace_id == received.trace_id
        assert details(sent)["hop"] == {
            "peer": "gw-100000",
            "peer_index": received.idx,
            "direction": "out",
        }
        assert details(received)["hop"]["peer"] == "gw-610000"

        # -- (4) down: a national department's record about a Shaanxi enterprise --------
        national_dept = national.enroll_node("department", "nat-registry", ("registration",))
        push_signed(
            national_dept,
            "b-down-1",
            "registration",
            records_for(SHAANXI, "registration", 1, seed=11)
            + records_for(NATIONAL_ENTERPRISE, "registration", 1),
        )
        down = wait_for(lambda: [r for r in relayed(shaanxi) if r.direction == "down"], what="down")
        assert down[0].source_gateway_id == "gw-100000" and down[0].batch_id == "b-down-1"
        assert not [r for r in relayed(fujian) if r.batch_id == "b-down-1"]

        _relayed_copies_verify(national, shaanxi)

        # -- (5) a Fujian bank asks about a Shaanxi enterprise, under its grant ----------
        platform = shaanxi.enroll_node("city_platform", "sx-platform")
        sx_tax = shaanxi.enroll_node("department", "sx-tax", ("tax",))
        push_signed(sx_tax, "b-tax-1", "tax", records_for(SHAANXI, "tax", 1))
        key_path = tmp_path / "enterprise.pem"
        public = generate_key(key_path).read_text()
        key = load_signing_key(key_path)
        bank = fujian.enroll_node("institution", "bank-cib")
        with AuthzClient(platform) as client:
            client.register(SHAANXI.credit_code, SHAANXI.name, public, "legal_rep_face_match")
            grant = make_grant(
                credit_code=SHAANXI.credit_code,
                grantee_node_id="bank-cib@gw-350000",
                categories=["tax"],
            )
            client.submit(grant, sign_grant(key, grant))

            # a qualified grantee must name a member gateway of the directory
            stray = make_grant(
                credit_code=SHAANXI.credit_code,
                grantee_node_id="bank-x@gw-999999",
                categories=["tax"],
            )
            with pytest.raises(grpc.RpcError) as err:
                client.submit(stray, sign_grant(key, stray))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        _a_member_speaks_only_for_its_own_nodes(shaanxi, national)

        answer = query(bank, SHAANXI.credit_code, ["tax"], trace_id="trace-fed-1")
        (tax,) = answer.categories
        assert tax.allowed, tax.message
        (record,) = tax.records
        masks = {f.name: f.mask for f in record.fields}
        assert any(mask != "none" for mask in masks.values())  # masked for an institution
        # one trace across the three ledgers, each hop naming its peer's index
        (at_fujian,) = [
            r for r in entries(fujian, "query.forwarded") if r.trace_id == "trace-fed-1"
        ]
        assert answer.ledger_index == at_fujian.idx
        (in_national,) = entries(national, "query.forward_received")
        (out_national,) = entries(national, "query.forwarded")
        at_home = [r for r in entries(shaanxi, "query") if r.trace_id == "trace-fed-1"]
        assert len(at_home) == 1
        assert details(at_fujian)["hop"] == {
            "peer": "gw-100000",
            "peer_index": in_national.idx,
            "direction": "out",
        }
        assert details(out_national)["hop"] == {
            "peer": "gw-610000",
            "peer_index": at_home[0].idx,
            "direction": "out",
        }
        assert details(in_national)["hop"]["peer"] == "gw-350000"
        assert details(at_home[0])["hop"] == {
            "peer": "gw-100000",
            "peer_index": None,
            "direction": "in",
        }
        assert at_home[0].actor == "bank-cib@gw-350000"
        assert {in_national.trace_id, out_national.trace_id} == {"trace-fed-1"}

        # a batch mixing a forwarded and a local enterprise: each answered where it lives
        fujian_code = enterprise_of("350102").credit_code
        with bank.channel() as channel:
            batch = exchange_pb2_grpc.ExchangeServiceStub(channel).QueryBatch(
                pb.QueryBatchRequest(
                    credit_codes=[SHAANXI.credit_code, fujian_code],
                    purpose=1,
                    categories=["tax"],
                ),
                timeout=30,
            )
        forwarded, local_one = batch.results
        assert forwarded.credit_code == SHAANXI.credit_code and forwarded.categories[0].allowed
        assert local_one.credit_code == fujian_code and not local_one.categories[0].allowed

        # -- (6) revoked at the home gateway: the next forwarded query is denied ---------
        with AuthzClient(platform) as client:
            client.revoke_signed(
                sign_revocation(key, grant.grant_id, SHAANXI.credit_code, "企业撤回授权")
            )
        denied = query(bank, SHAANXI.credit_code, ["tax"])
        (tax,) = denied.categories
        assert not tax.allowed and tax.reason_code == "GRANT_REVOKED"

        # -- (7) the national node's own enterprises stay there; a local query still works
        local = query(bank, enterprise_of("350102").credit_code, ["tax"])
        assert local.categories[0].reason_code  # decided at Fujian (no grant here)
        _suspend_and_partition(national, fujian, bank)


def _relayed_copies_verify(national: Gateway, shaanxi: Gateway) -> None:
    """The copies still prove their departments' signatures; an altered copy is named."""
    from sqlalchemy import update
    from support.installed_cli import assert_exit, xinlian

    from gateway.store import schema

    assert verify(national.config) == {"ok": True, "checked": 1, "erased": 0, "problems": []}
    assert verify(shaanxi.config)["checked"] == 1  # the copy relayed down
    f = schema.federation_relayed.c

    def forge(conn: Any) -> None:
        content = conn.execute(select(f.canonical)).scalar_one()
        forged = bytes(content).replace(b'"version":1', b'"version":2', 1)
        conn.execute(
            update(schema.federation_relayed).values(
                canonical=forged, canonical_sha256=hashlib.sha256(forged).hexdigest()
            )
        )

    national.runtime.store.write(forge)
    (problem,) = verify(national.config)["problems"]
    assert problem["reason"] == "BAD_SIGNATURE"
    result = xinlian("federation", "verify", "--home", str(national.home))
    assert_exit(result, 1)
    assert "BAD_SIGNATURE" in result.stdout


def _a_member_speaks_only_for_its_own_nodes(member: Gateway, national: Gateway) -> None:
    """Shaanxi's gateway identity at the national node cannot pass a query off as a
    Fujian bank's."""
    from xinlian.identity import Identity
    from xinlian.v1 import common_pb2, federation_pb2, federation_pb2_grpc

    upstream = Identity.load(member.home / "federation" / "upstream")
    with upstream.channel() as channel, pytest.raises(grpc.RpcError) as err:
        federation_pb2_grpc.FederationServiceStub(channel).ForwardQuery(
            federation_pb2.ForwardQueryRequest(
                credit_code=SHAANXI.credit_code,
                purpose=common_pb2.PURPOSE_FINANCING,
                categories=["tax"],
                consumer_node_id="bank-cib@gw-350000",
                consumer_kind=common_pb2.NODE_KIND_INSTITUTION,
                origin_gateway_id="gw-350000",
                hops=1,
            ),
            timeout=30,
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert reason_of(err.value) == "ORIGIN_NOT_CALLER"


def _suspend_and_partition(national: Gateway, fujian: Gateway, bank: Any) -> None:
    """A suspended home is refused by the directory's word; a suspended member's own
    calls are refused at once by the national node's gate."""
    from xinlian.v1 import registry_pb2

    admin = national.admin_stub()
    admin.SuspendNode(
        registry_pb2.SuspendNodeRequest(node_id="gw-610000", reason="演练"), timeout=30
    )

    def shaanxi_state() -> str:
        directory = fujian.runtime.federation.directory
        return str(directory.member("gw-610000").state)

    wait_for(lambda: shaanxi_state() == "suspended", what="the suspension in the directory")
    with pytest.raises(grpc.RpcError) as err:
        query(bank, SHAANXI.credit_code, ["tax"])
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(err.value) == "HOME_GATEWAY_SUSPENDED"
    admin.SuspendNode(
        registry_pb2.SuspendNodeRequest(node_id="gw-350000", reason="演练"), timeout=30
    )
    with pytest.raises(grpc.RpcError) as err:
        query(bank, NATIONAL_ENTERPRISE.credit_code, ["tax"])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert reason_of(err.value) == "NODE_SUSPENDED"
