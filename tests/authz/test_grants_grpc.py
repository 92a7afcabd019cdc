"""Enterprise registration, grants, revocation and listing over real mTLS, on both stores."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select
from support.authz_helpers import CODE, NAME, OTHER_CODE, make_world, reason_of
from support.harness import Gateway

from gateway.flows.grants import get_grant, verify_stored_signature
from gateway.store import schema
from node_agent.enterprise import (
    AuthzClient,
    generate_key,
    load_signing_key,
    make_grant,
    public_pem,
    sign_grant,
    sign_revocation,
)
from xinlian.v1 import authorization_pb2 as pb

pytestmark = pytest.mark.integration


def _actions(gw: Gateway) -> list[tuple[str, str | None]]:
    rows = gw.runtime.store.read(
        lambda conn: conn.execute(
            select(schema.ledger_entries.c.action, schema.ledger_entries.c.subject).order_by(
                schema.ledger_entries.c.idx
            )
        ).all()
    )
    refusals = ("access.denied", "statement.refused")  # tests/authz/test_refusals_audited.py
    return [
        (r.action, r.subject)
        for r in rows
        if not r.action.startswith("node.") and r.action not in refusals
    ]


def _code(err: pytest.ExceptionInfo[grpc.RpcError]) -> tuple[grpc.StatusCode, str]:
    return err.value.code(), reason_of(err.value)


def test_register_submit_revoke_list(gateway_any: Gateway, tmp_path: Path) -> None:
    gw = gateway_any
    world = make_world(gw, tmp_path)
    gw.enroll_node("institution", "bank-b")
    gw.enroll_node("department", "tax-dept", categories=("tax",))
    pub = (tmp_path / "enterprise.pub.pem").read_text()
    with AuthzClient(world.platform) as platform:
        # registration: once, a valid code, a platform only
        with pytest.raises(grpc.RpcError) as err:
            platform.register(CODE, NAME, pub, "legal_rep_face_match")
        assert _code(err)[0] == grpc.StatusCode.ALREADY_EXISTS
        with pytest.raises(grpc.RpcError) as err:
            platform.register(CODE[:-1] + "Z", NAME, pub, "legal_rep_face_match")
        assert _code(err)[0] == grpc.StatusCode.INVALID_ARGUMENT
        with AuthzClient(world.bank) as bank_client, pytest.raises(grpc.RpcError) as err:
            bank_client.register(OTHER_CODE, "x", pub, "legal_rep_face_match")
        assert _code(err) == (grpc.StatusCode.PERMISSION_DENIED, "KIND_NOT_ALLOWED")

        # the letter names the grant; the signed grant is accepted
        grant = make_grant(credit_code=CODE, grantee_node_id="bank-a", categories=["tax"])
        letter = platform.letter(grant)
        assert "企业信用信息查询授权书" in letter.text and grant.grant_id in letter.text
        assert NAME in letter.text and "纳税" in letter.text
        assert letter.fingerprint == grant.fingerprint() and letter.fingerprint in letter.text
        submitted = platform.submit(grant, sign_grant(world.key, grant))
        assert submitted.grant.status == pb.GRANT_STATUS_ACTIVE
        assert submitted.ledger_index >= 0

        # forged: signed by another key
        other_key = load_signing_key(
            generate_key(tmp_path / "k" / "other.pem").with_name("other.pem")
        )
        forged = make_grant(credit_code=CODE, grantee_node_id="bank-a", categories=["tax"])
        with pytest.raises(grpc.RpcError) as err:
            platform.submit(forged, sign_grant(other_key, forged))
        assert _code(err) == (grpc.StatusCode.PERMISSION_DENIED, "BAD_SIGNATURE")
        # altered after signing: wider scope, longer validity, another grantee
        honest = make_grant(credit_code=CODE, grantee_node_id="bank-a", categories=["tax"])
        signature = sign_grant(world.key, honest)
        for altered in (
            dataclasses.replace(honest, categories=frozenset({"tax", "social_insurance"})),
            dataclasses.replace(honest, not_after=honest.not_after + timedelta(days=30)),
            dataclasses.replace(honest, grantee_node_id="bank-b"),
            dataclasses.replace(honest, max_uses=5),
        ):
            with pytest.raises(grpc.RpcError) as err:
                platform.submit(altered, signature)
            assert _code(err) == (grpc.StatusCode.PERMISSION_DENIED, "BAD_SIGNATURE")
        # refused before any signature check: unknown grantee, a department, a bad category
        for bad, status in (
            (dataclasses.replace(honest, grantee_node_id="nobody"), "INVALID_ARGUMENT"),
            (dataclasses.replace(honest, grantee_node_id="tax-dept"), "FAILED_PRECONDITION"),
            (dataclasses.replace(honest, categories=frozenset({"nope"})), "INVALID_ARGUMENT"),
        ):
            with pytest.raises(grpc.RpcError) as err:
                platform.submit(bad, sign_grant(world.key, bad))
            assert err.value.code().name == status, bad
        # the same grant twice
        with pytest.raises(grpc.RpcError) as err:
            platform.submit(grant, sign_grant(world.key, grant))
        assert _code(err)[0] == grpc.StatusCode.ALREADY_EXISTS

        # a second grant, to bank-b, revoked by an administrator with a reason
        second = make_grant(credit_code=CODE, grantee_node_id="bank-b", categories=["rnd"])
        platform.submit(second, sign_grant(world.key, second))

        # revocation signed by another key is refused; by the enterprise, accepted
        with pytest.raises(grpc.RpcError) as err:
            platform.revoke_signed(sign_revocation(other_key, grant.grant_id, CODE))
        assert _code(err) == (grpc.StatusCode.PERMISSION_DENIED, "BAD_SIGNATURE")
        revoked = platform.revoke_signed(sign_revocation(world.key, grant.grant_id, CODE, "结清"))
        assert revoked.status == pb.GRANT_STATUS_REVOKED and revoked.revoke_reason == "结清"
        with pytest.raises(grpc.RpcError) as err:
            platform.revoke_as_admin(second.grant_id, "platforms cannot")
        assert _code(err)[0] == grpc.StatusCode.INVALID_ARGUMENT

    admin = gw.admin()
    with AuthzClient(admin) as admin_client:
        with pytest.raises(grpc.RpcError) as err:
            admin_client.revoke_as_admin(second.grant_id, "  ")
        assert _code(err)[0] == grpc.StatusCode.INVALID_ARGUMENT
        view = admin_client.revoke_as_admin(second.grant_id, "机构违规使用信息")
        assert view.status == pb.GRANT_STATUS_REVOKED
        assert "机构违规使用信息" in view.revoke_reason
        listed = admin_client.list(CODE)
        assert {g.grant.grant_id for g in listed} == {grant.grant_id, second.grant_id}
        assert admin_client.list(CODE, include_inactive=False) == []

    # an institution lists only the grants made to it
    with AuthzClient(world.bank) as bank_client:
        mine = bank_client.list()
        assert [g.grant.grant_id for g in mine] == [grant.grant_id]
        with pytest.raises(grpc.RpcError) as err:
            bank_client.list(grantee_node_id="bank-b")
        assert _code(err)[0] == grpc.StatusCode.INVALID_ARGUMENT

    assert _actions(gw) == [
        ("enterprise.registered", CODE),
        ("grant.created", grant.grant_id),
        ("grant.created", second.grant_id),
        ("grant.revoked", grant.grant_id),
        ("grant.revoked", second.grant_id),
    ]


def test_key_rotation(gateway: Gateway, tmp_path: Path) -> None:
    world = make_world(gateway, tmp_path)
    new_pub = generate_key(tmp_path / "new.pem")
    new_key = load_signing_key(tmp_path / "new.pem")
    with AuthzClient(world.platform) as platform:
        old_grant = make_grant(credit_code=CODE, grantee_node_id="bank-a", categories=["tax"])
        platform.submit(old_grant, sign_grant(world.key, old_grant))
        # a rotation signed by the new key itself is refused
        with pytest.raises(grpc.RpcError) as err:
            platform.rotate(CODE, new_key, new_pub.read_bytes())
        assert _code(err) == (grpc.StatusCode.PERMISSION_DENIED, "BAD_SIGNATURE")
        enterprise = platform.rotate(CODE, world.key, new_pub.read_bytes())
        assert enterprise.key_version == 2
        assert enterprise.public_key_pem.encode() == public_pem(new_key)
        # grants now need the new key; the old grant stays valid and verifiable
        fresh = make_grant(credit_code=CODE, grantee_node_id="bank-a", categories=["rnd"])
        with pytest.raises(grpc.RpcError) as err:
            platform.submit(fresh, sign_grant(world.key, fresh))
        assert _code(err) == (grpc.StatusCode.PERMISSION_DENIED, "BAD_SIGNATURE")
        platform.submit(fresh, sign_grant(new_key, fresh))
        statuses = {g.grant.grant_id: g.status for g in platform.list(CODE)}
        assert statuses == {
            old_grant.grant_id: pb.GRANT_STATUS_ACTIVE,
            fresh.grant_id: pb.GRANT_STATUS_ACTIVE,
        }

    def check(conn):  # type: ignore[no-untyped-def]
        for grant_id, version in ((old_grant.grant_id, 1), (fresh.grant_id, 2)):
            stored = get_grant(conn, grant_id)
            assert stored is not None and stored.key_version == version
            verify_stored_signature(conn, stored)

    gateway.runtime.store.read(check)
