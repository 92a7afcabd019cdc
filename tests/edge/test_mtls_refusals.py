"""Point 4 of the foundation issue: TLS only, client certificates from the gateway CA."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from support.harness import Gateway

from xinlian.pki import (
    NodeIdentity,
    cert_to_pem,
    create_ca,
    issue_node_cert,
    key_to_pem,
    load_cert,
    load_private_key,
    make_csr,
    new_private_key,
    parse_csr,
)
from xinlian.v1 import catalog_pb2, catalog_pb2_grpc, registry_pb2, registry_pb2_grpc

pytestmark = pytest.mark.integration


def _call_catalog(channel: grpc.Channel) -> catalog_pb2.GetCatalogResponse:
    with channel:
        return catalog_pb2_grpc.CatalogServiceStub(channel).GetCatalog(
            catalog_pb2.GetCatalogRequest(), timeout=10
        )


def _credentials(
    gateway: Gateway, ca_key: Any, ca_cert: Any, identity: NodeIdentity
) -> grpc.ChannelCredentials:
    """A fresh key with a certificate for ``identity`` signed by ``ca_key``, as client
    credentials that trust the gateway."""
    key = new_private_key()
    csr = parse_csr(make_csr(key, identity.node_id).decode())
    cert = issue_node_cert(ca_key, ca_cert, csr, identity, datetime.now(UTC))
    return grpc.ssl_channel_credentials(
        root_certificates=gateway.ca_pem,
        private_key=key_to_pem(key),
        certificate_chain=cert_to_pem(cert),
    )


def _gateway_ca(gateway: Gateway) -> tuple[Any, Any]:
    return load_private_key(gateway.config.ca_key), load_cert(gateway.config.ca_cert)


def test_admitted_node_with_gateway_certificate_is_served(gateway: Gateway) -> None:
    node = gateway.enroll_node("institution")
    response = _call_catalog(node.channel())
    assert response.version
    assert any(c.id == "tax" for c in response.categories)


def test_plaintext_client_is_refused(gateway: Gateway) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _call_catalog(grpc.insecure_channel(gateway.address))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_client_without_certificate_is_refused(gateway: Gateway) -> None:
    creds = grpc.ssl_channel_credentials(root_certificates=gateway.ca_pem)
    with pytest.raises(grpc.RpcError) as err:
        _call_catalog(grpc.secure_channel(gateway.address, creds))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_client_certificate_from_another_ca_is_refused(gateway: Gateway) -> None:
    other_key, other_ca = create_ca("Some Other CA", datetime.now(UTC))
    creds = _credentials(gateway, other_key, other_ca, NodeIdentity("intruder", "admin", "350100"))
    with pytest.raises(grpc.RpcError) as err:
        _call_catalog(grpc.secure_channel(gateway.address, creds))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_gateway_ca_certificate_for_unregistered_identity_is_unauthenticated(
    gateway: Gateway,
) -> None:
    """Signed by the right CA but naming a node the registry does not know."""
    creds = _credentials(gateway, *_gateway_ca(gateway), NodeIdentity("ghost", "admin", "350100"))
    with pytest.raises(grpc.RpcError) as err:
        _call_catalog(grpc.secure_channel(gateway.address, creds))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_certificate_claiming_another_kind_is_unauthenticated(gateway: Gateway) -> None:
    """A certificate whose identity disagrees with the registry (kind) is refused."""
    node = gateway.enroll_node("institution", "bank-a")
    creds = _credentials(
        gateway, *_gateway_ca(gateway), NodeIdentity(node.node_id, "admin", node.region)
    )
    with pytest.raises(grpc.RpcError) as err:
        _call_catalog(grpc.secure_channel(gateway.address, creds))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_enrollment_listener_serves_only_bootstrap_calls(gateway: Gateway) -> None:
    creds = grpc.ssl_channel_credentials(root_certificates=gateway.ca_pem)
    with pytest.raises(grpc.RpcError) as err:
        _call_catalog(grpc.secure_channel(gateway.enroll_address, creds))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with grpc.secure_channel(gateway.enroll_address, creds) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.ListNodes(registry_pb2.ListNodesRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
