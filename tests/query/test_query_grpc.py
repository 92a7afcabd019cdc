"""The query path end to end over real mTLS: grants, masks, revocation, ledger first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from support.authz_helpers import (
    CODE,
    OTHER_CODE,
    REGISTRATION_FIELDS,
    SOCIAL_FIELDS,
    TAX_FIELDS,
    World,
    disclosures_at,
    insert_record,
    ledger_row,
    make_world,
    reason_of,
    seed_records,
)
from support.harness import Gateway, running_gateway

from audit.entry import Entry
from authz.catalog import Catalog, Purpose
from authz.grants import Grant
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
from xinlian.v1 import exchange_pb2 as pb

pytestmark = pytest.mark.integration

CATALOG = Catalog.default()
NON_PUBLIC = {c.id for c in CATALOG.categories.values() if not c.public}


def _by_category(response: pb.QueryResponse) -> dict[str, pb.CategoryResult]:
    return {result.category: result for result in response.categories}


def _grant(
    world: World,
    grantee: str,
    categories: tuple[str, ...] = ("tax",),
    max_uses: int | None = None,
) -> Grant:
    grant = make_grant(
        credit_code=CODE, grantee_node_id=grantee, categories=categories, max_uses=max_uses
    )
    with AuthzClient(world.platform) as client:
        client.submit(grant, sign_grant(world.key, grant))
    return grant


DERIVED = {  # ratings and indicators: as is under a grant (docs/subscriptions.md)
    f.name for c in Catalog.default().categories.values() for f in c.fields if f.derived
}


def _assert_no_raw_non_public(response: pb.QueryResponse) -> None:
    """An institution never sees a raw value of a non-public category, and every
    field it receives names its mask."""
    raw = set(TAX_FIELDS.values()) | set(SOCIAL_FIELDS.values())
    for result in response.categories:
        for record in result.records:
            for f in record.fields:
                assert f.mask, f
                if result.category in NON_PUBLIC and f.name not in DERIVED:
                    assert f.mask != "keep", (result.category, f.name)
                    assert f.value not in raw, (result.category, f.name, f.value)


@pytest.fixture
def world(gateway: Gateway, tmp_path: Path) -> World:
    seed_records(gateway.runtime.store)
    return make_world(gateway, tmp_path)


def test_grant_masked_revoke_denied(gateway: Gateway, world: World) -> None:
    store = gateway.runtime.store
    with QueryClient(world.bank) as bank:
        # before any grant: public categories open, non-public denied with a reason
        before = _by_category(bank.query(CODE, categories=["registration", "tax"]))
        assert before["registration"].allowed
        assert not before["tax"].allowed and before["tax"].reason_code == "NO_GRANT"
        reg_fields = {f.name: f for f in before["registration"].records[0].fields}
        assert reg_fields["enterprise_name"].value == REGISTRATION_FIELDS["enterprise_name"]
        assert reg_fields["enterprise_name"].mask == "keep"
        assert reg_fields["legal_rep_id_number"].mask == "id_card"
        assert reg_fields["legal_rep_id_number"].value == "3****************4"

        grant = _grant(world, "bank-a")
        response = bank.query(CODE, categories=["registration", "tax", "social_insurance"])
        results = _by_category(response)
        tax = results["tax"]
        assert tax.allowed and tax.grant_id == grant.grant_id
        assert not results["social_insurance"].allowed
        assert results["social_insurance"].reason_code == "CATEGORY_NOT_GRANTED"
        fields = {f.name: f for f in tax.records[0].fields}
        assert fields["taxable_revenue"].value == "1200000-1300000"
        assert fields["taxable_revenue"].mask == "range:100000"
        assert fields["basic_account_no"].value == "************0123"
        assert fields["tax_period"].value == "2025-09"
        _assert_no_raw_non_public(response)

        # the ledger entry was committed before the reply, and holds no values
        row = ledger_row(store, response.ledger_index)
        assert row.action == "query" and row.actor == "bank-a" and row.credit_code == CODE
        body = bytes(row.body).decode("utf-8")
        for value in (*TAX_FIELDS.values(), *REGISTRATION_FIELDS.values()):
            if len(value) > 2:
                assert value not in body, value
        details = Entry.decode(bytes(row.body)).details
        assert details["purpose"] == "financing"
        assert details["categories"]["tax"]["grant_id"] == grant.grant_id
        assert details["categories"]["tax"]["masks"]["taxable_revenue"] == "range:100000"
        assert details["categories"]["tax"]["records"] == [["tax-dept", "tax-1", 1]]
        assert details["categories"]["social_insurance"]["reason_code"] == "CATEGORY_NOT_GRANTED"
        disclosed = disclosures_at(store, response.ledger_index)
        assert {(d.consumer_node_id, d.grant_id) for d in disclosed} == {
            ("bank-a", grant.grant_id),
            ("bank-a", None),
        }
        tax_row = next(d for d in disclosed if d.grant_id == grant.grant_id)
        assert json.loads(tax_row.masks)["basic_account_no"] == "bank_account"
        assert response.trace_id and tax_row.trace_id == response.trace_id

        # the enterprise revokes; the bank's next query is denied, with the reason
        with AuthzClient(world.platform) as client:
            view = client.revoke_signed(
                sign_revocation(world.key, grant.grant_id, CODE, "贷款已结清")
            )
        assert view.revoke_reason == "贷款已结清"
        after = bank.query(CODE, categories=["tax"])
        assert not after.categories[0].allowed
        assert after.categories[0].reason_code == "GRANT_REVOKED"
        assert after.categories[0].records == []
        row = ledger_row(store, after.ledger_index)
        assert row.action == "query.denied" and row.outcome == "denied"


def test_views_platform_bank_and_self(gateway: Gateway, world: World) -> None:
    _grant(world, "bank-a", ("tax", "social_insurance"))
    _grant(world, "fz-platform", ("tax", "social_insurance"))
    with QueryClient(world.bank) as bank, QueryClient(world.platform) as platform:
        bank_view = _by_category(bank.query(CODE, categories=["tax", "social_insurance"]))
        platform_view = _by_category(platform.query(CODE, categories=["tax", "social_insurance"]))
        own = platform.query(CODE, categories=["tax", "social_insurance"], self_key=world.key)
    bank_tax = {f.name: f for f in bank_view["tax"].records[0].fields}
    platform_tax = {f.name: f for f in platform_view["tax"].records[0].fields}
    # a platform with a grant gets C1 values as they are, C2 still masked
    assert platform_tax["taxable_revenue"].value == TAX_FIELDS["taxable_revenue"]
    assert platform_tax["taxable_revenue"].mask == "keep"
    assert platform_tax["basic_account_no"].mask == "bank_account"
    assert bank_tax["taxable_revenue"].mask == "range:100000"
    platform_si = {f.name: f for f in platform_view["social_insurance"].records[0].fields}
    assert platform_si["contact_mobile"].value == "138****5678"
    # the enterprise's own query: everything, unmasked, free (no grant named)
    for result in own.categories:
        assert result.allowed and not result.grant_id
        for f in result.records[0].fields:
            assert f.mask == "keep"
    own_tax = {f.name: f.value for f in _by_category(own)["tax"].records[0].fields}
    assert own_tax == TAX_FIELDS
    row = ledger_row(gateway.runtime.store, own.ledger_index)
    assert Entry.decode(bytes(row.body)).details["self_query"] is True


def test_self_query_refusals(gateway: Gateway, world: World) -> None:
    proof = self_query_proof(world.key, CODE, "fz-platform")
    request = query_request(CODE, Purpose.FINANCING, ["tax"], self_proof=proof)
    with QueryClient(world.platform) as platform, QueryClient(world.bank) as bank:
        assert platform.stub.Query(request, timeout=10).categories[0].allowed
        # the same statement again: a replay
        with pytest.raises(grpc.RpcError) as info:
            platform.stub.Query(request, timeout=10)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert reason_of(info.value) == "SELF_QUERY_REPLAY"
        # a bank cannot carry a self query
        with pytest.raises(grpc.RpcError) as info:
            bank.stub.Query(
                query_request(
                    CODE,
                    Purpose.FINANCING,
                    ["tax"],
                    self_proof=self_query_proof(world.key, CODE, "bank-a"),
                ),
                timeout=10,
            )
        assert reason_of(info.value) == "SELF_QUERY_NOT_PLATFORM"
        # a statement signed by another key
        generate_key(gateway.tmp / "other.pem")
        other = load_signing_key(gateway.tmp / "other.pem")
        with pytest.raises(grpc.RpcError) as info:
            platform.query(CODE, categories=["tax"], self_key=other)
        assert reason_of(info.value) == "BAD_SIGNATURE"
        # a stale statement
        stale = self_query_proof(
            world.key, CODE, "fz-platform", now=datetime.now(UTC) - timedelta(hours=1)
        )
        with pytest.raises(grpc.RpcError) as info:
            platform.stub.Query(
                query_request(CODE, Purpose.FINANCING, ["tax"], self_proof=stale), timeout=10
            )
        assert reason_of(info.value) == "SELF_QUERY_STALE"


def test_purpose_uses_batch_stream_and_validation(gateway: Gateway, world: World) -> None:
    seed_records(gateway.runtime.store, OTHER_CODE)
    _grant(world, "bank-a", ("tax",), max_uses=2)
    with QueryClient(world.bank) as bank:
        # purpose mismatch: the grant is for financing
        wrong = bank.query(CODE, Purpose.GUARANTEE, ["tax"])
        assert wrong.categories[0].reason_code == "PURPOSE_MISMATCH"
        # max_uses: two uses, then used up (the purpose mismatch used none)
        assert bank.query(CODE, categories=["tax"]).categories[0].allowed
        assert bank.query(CODE, categories=["tax"]).categories[0].allowed
        third = bank.query(CODE, categories=["tax"]).categories[0]
        assert not third.allowed and third.reason_code == "GRANT_USED_UP"
        # a batch: one ledger entry per enterprise
        results = bank.batch([CODE, OTHER_CODE], categories=["registration", "tax"])
        assert [r.credit_code for r in results] == [CODE, OTHER_CODE]
        assert len({r.ledger_index for r in results}) == 2
        for r in results:
            by = _by_category(r)
            assert by["registration"].allowed and not by["tax"].allowed
        # a stream: one response per request, in order
        codes = [CODE, OTHER_CODE] * 10
        streamed = list(bank.stream(codes, categories=["registration"]))
        assert [r.credit_code for r in streamed] == codes
        assert all(r.categories[0].allowed and r.categories[0].records for r in streamed)
        # invalid requests as a whole
        for request in (
            query_request(CODE[:-1] + ("0" if CODE[-1] != "0" else "1"), Purpose.FINANCING),
            query_request(CODE, Purpose.FINANCING, ["no_such_category"]),
            pb.QueryRequest(credit_code=CODE),
        ):
            with pytest.raises(grpc.RpcError) as info:
                bank.stub.Query(request, timeout=10)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as info:
            bank.batch([CODE] * 101)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_expiry_on_the_gateway_clock(tmp_path: Path) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with running_gateway(tmp_path, clock=clock) as gw:
        seed_records(gw.runtime.store)
        world = make_world(gw, tmp_path)
        start = clock.now()
        grant = make_grant(
            credit_code=CODE,
            grantee_node_id="bank-a",
            categories=["tax"],
            now=start,
            not_before=start + timedelta(days=1),
            days=2,
        )
        with AuthzClient(world.platform) as client:
            client.submit(grant, sign_grant(world.key, grant))
        with QueryClient(world.bank) as bank:
            assert bank.query(CODE, categories=["tax"]).categories[0].reason_code == (
                "GRANT_NOT_YET_VALID"
            )
            clock.advance(timedelta(days=1, seconds=1))
            assert bank.query(CODE, categories=["tax"]).categories[0].allowed
            clock.advance(timedelta(days=2))
            expired = bank.query(CODE, categories=["tax"]).categories[0]
            assert not expired.allowed and expired.reason_code == "GRANT_EXPIRED"


def test_latest_version_only(gateway: Gateway, world: World) -> None:
    store = gateway.runtime.store
    insert_record(
        store,
        code=CODE,
        category="registration",
        record_id="reg-1",
        version=2,
        fields={**REGISTRATION_FIELDS, "status": "注销"},
    )
    with QueryClient(world.bank) as bank:
        result = bank.query(CODE, categories=["registration"]).categories[0]
    assert [(r.record_id, r.version) for r in result.records] == [("reg-1", 2)]
    assert {f.name: f.value for f in result.records[0].fields}["status"] == "注销"


def test_frozen_denies_all_but_the_enterprise(gateway: Gateway, world: World) -> None:
    """A freeze (an administrator's action with a reason, docs/objections.md) holds every
    category from every consumer but the enterprise's own query; an unfreeze lifts it."""
    from node_agent.objections import ObjectionClient

    _grant(world, "bank-a", ("tax",))
    with (
        QueryClient(world.bank) as bank,
        QueryClient(world.platform) as platform,
        ObjectionClient(gateway.admin()) as admin,
    ):
        admin.freeze(CODE, True, "司法协助冻结")
        response = bank.query(CODE, categories=["registration", "tax"])
        assert {(r.allowed, r.reason_code) for r in response.categories} == {
            (False, "ENTERPRISE_FROZEN")
        }
        own = platform.query(CODE, categories=["tax"], self_key=world.key)
        assert own.categories[0].allowed
        admin.freeze(CODE, False, "冻结解除")
        assert all(
            r.allowed for r in bank.query(CODE, categories=["registration", "tax"]).categories
        )
