"""Point 5 and 6: access review lifecycle over gRPC, enrollment tokens, renewal."""

from __future__ import annotations

import grpc
import pytest
from support.harness import Gateway

from node_agent import enroll as enrollment
from xinlian.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    common_pb2,
    registry_pb2,
    registry_pb2_grpc,
)

pytestmark = pytest.mark.integration


def _reason(err: grpc.RpcError) -> str:
    return dict(err.trailing_metadata() or ()).get("xinlian-reason", "")


def _get_self(identity) -> registry_pb2.GetSelfResponse:  # type: ignore[no-untyped-def]
    with identity.channel() as channel:
        return registry_pb2_grpc.RegistryServiceStub(channel).GetSelf(
            registry_pb2.GetSelfRequest(), timeout=10
        )


def test_suspend_readmit_exit(gateway: Gateway) -> None:
    node = gateway.enroll_node("city_platform", "fuzhou-platform")
    assert _get_self(node).node.state == common_pb2.NODE_STATE_ADMITTED
    admin = gateway.admin_stub()

    admin.SuspendNode(
        registry_pb2.SuspendNodeRequest(node_id=node.node_id, reason="安全事件调查"), timeout=10
    )
    with pytest.raises(grpc.RpcError) as err:
        _get_self(node)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _reason(err.value) == "NODE_SUSPENDED"
    assert "安全事件调查" in (err.value.details() or "")

    admin.ReadmitNode(
        registry_pb2.ReadmitNodeRequest(node_id=node.node_id, reason="整改完成"), timeout=10
    )
    assert _get_self(node).node.state == common_pb2.NODE_STATE_ADMITTED

    admin.ExitNode(registry_pb2.ExitNodeRequest(node_id=node.node_id, reason="退出"), timeout=10)
    with pytest.raises(grpc.RpcError) as err:
        _get_self(node)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(err.value) == "CERT_REVOKED"
    with pytest.raises(grpc.RpcError) as err:
        admin.ReadmitNode(
            registry_pb2.ReadmitNodeRequest(node_id=node.node_id, reason="again"), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_enrollment_token_works_once(gateway: Gateway) -> None:
    enrollment.apply(
        gateway.enroll_address,
        gateway.ca_pem,
        name="厦门银行",
        kind="institution",
        region="350200",
        requested_id="xm-bank",
    )
    token = gateway.admit("xm-bank")
    enrollment.enroll(gateway.enroll_address, token, gateway.ca_pem, gateway.tmp / "first")
    with pytest.raises(grpc.RpcError) as err:
        enrollment.enroll(gateway.enroll_address, token, gateway.ca_pem, gateway.tmp / "second")
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(err.value) == "TOKEN_USED"
    assert not (gateway.tmp / "second" / "node.pem").exists()


def test_forged_token_is_refused_without_echoing_it(gateway: Gateway) -> None:
    enrollment.apply(
        gateway.enroll_address,
        gateway.ca_pem,
        name="X",
        kind="institution",
        region="350200",
        requested_id="forger",
    )
    real = gateway.admit("forger")
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    with pytest.raises(grpc.RpcError) as err:
        enrollment.enroll(gateway.enroll_address, forged, gateway.ca_pem, gateway.tmp / "f")
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    secret = real.split(".", 1)[1]
    assert secret not in (err.value.details() or "")


def test_applied_node_cannot_enroll_before_admission_and_kinds_are_enforced(
    gateway: Gateway,
) -> None:
    bank = gateway.enroll_node("institution", "bank-b")
    with bank.channel() as channel, pytest.raises(grpc.RpcError) as err:
        registry_pb2_grpc.RegistryServiceStub(channel).ListNodes(
            registry_pb2.ListNodesRequest(), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _reason(err.value) == "KIND_NOT_ALLOWED"


def test_validation_messages_name_field_got_and_want(gateway: Gateway) -> None:
    with pytest.raises(grpc.RpcError) as err:
        enrollment.apply(
            gateway.enroll_address, gateway.ca_pem, name="坏", kind="institution", region="35"
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith("region: got '35', want")
    with pytest.raises(grpc.RpcError) as err:
        enrollment.apply(
            gateway.enroll_address,
            gateway.ca_pem,
            name="税务",
            kind="department",
            region="350100",
            categories=["no_such_category"],
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "categories: got 'no_such_category'" in (err.value.details() or "")


def test_department_carries_its_categories(gateway: Gateway) -> None:
    dept = gateway.enroll_node("department", "tax-xm", categories=("tax",))
    assert list(_get_self(dept).node.categories) == ["tax"]


def test_renewal_issues_new_certificate_for_same_identity(gateway: Gateway) -> None:
    node = gateway.enroll_node("institution", "bank-renew")
    before = _get_self(node).certificate_serial
    enrollment.renew(node)
    after = _get_self(node)
    assert after.certificate_serial != before
    assert after.node.node_id == "bank-renew"


def test_admission_is_recorded_with_review(gateway: Gateway) -> None:
    gateway.enroll_node("officer", "officer-1")
    nodes = (
        gateway.admin_stub()
        .ListNodes(registry_pb2.ListNodesRequest(kind=common_pb2.NODE_KIND_OFFICER), timeout=10)
        .nodes
    )
    (officer,) = [n for n in nodes if n.node_id == "officer-1"]
    assert officer.review.reviewer == "admin"
    assert officer.review.security_assessment == "等保二级测评通过"
    assert officer.review.reviewed_at.seconds > 0


def test_catalog_is_served_to_every_kind(gateway: Gateway) -> None:
    officer = gateway.enroll_node("officer")
    with officer.channel() as channel:
        catalog = catalog_pb2_grpc.CatalogServiceStub(channel).GetCatalog(
            catalog_pb2.GetCatalogRequest(), timeout=10
        )
    assert {"registration", "tax"} <= {c.id for c in catalog.categories}


def test_no_secret_reaches_the_logs(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    """Enrollment tokens, private keys and the pseudonym secret never appear in logs."""
    import logging

    caplog.set_level(logging.DEBUG)
    enrollment.apply(
        gateway.enroll_address,
        gateway.ca_pem,
        name="Q",
        kind="institution",
        region="350200",
        requested_id="quiet-bank",
    )
    token = gateway.admit("quiet-bank")
    enrollment.enroll(gateway.enroll_address, token, gateway.ca_pem, gateway.tmp / "q")
    with pytest.raises(grpc.RpcError):  # a failed call logs too
        enrollment.enroll(gateway.enroll_address, token, gateway.ca_pem, gateway.tmp / "q2")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "rpc method=/xinlian.v1.RegistryService/Enroll" in logged  # the calls were logged
    secrets_ = [
        token.split(".", 1)[1],
        gateway.config.pseudonym_key.read_bytes().hex(),
        *[
            line
            for key in (gateway.config.ca_key, gateway.tmp / "q" / "node.key")
            for line in key.read_text().splitlines()
            if len(line) > 20
        ],
    ]
    for secret in secrets_:
        assert secret not in logged
