"""The address handed to nodes at enrollment: ``public_address`` (and ``tls_server_name``)
when set, else what the gateway serves, with the server certificate's first DNS name for
a wildcard listen host (issue 15: nodes were handed ``0.0.0.0:7443``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.processes import GatewayProcess

from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from xinlian.identity import Identity
from xinlian.v1 import registry_pb2, registry_pb2_grpc


def test_wildcard_listen_is_advertised_by_certificate_name(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw", listen="0.0.0.0:7443", hosts=("gw.example", "10.0.0.5"))
    assert config.advertised() == ("gw.example:7443", "")
    assert config.advertised("[::]:0", 9999) == ("gw.example:9999", "")
    meta = json.loads((config.admin_identity / "identity.json").read_text())
    assert meta["gateway"] == "gw.example:7443"


def test_public_address_and_server_name_are_handed_over(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw", public_address="xinlian.example.cn:443")
    assert GatewayConfig.load(config.home).public_address == "xinlian.example.cn:443"
    assert config.advertised("0.0.0.0:0", 7443) == ("xinlian.example.cn:443", "")
    meta = json.loads((config.admin_identity / "identity.json").read_text())
    assert meta["gateway"] == "xinlian.example.cn:443"


def test_listen_address_is_kept_when_not_wildcard(tmp_path: Path) -> None:
    config = GatewayConfig(home=tmp_path, listen="10.1.2.3:7443", tls_server_name="gw")
    assert config.advertised() == ("10.1.2.3:7443", "gw")


@pytest.mark.integration
def test_node_enrolled_from_wildcard_gateway_works_from_identity_alone(tmp_path: Path) -> None:
    gateway = GatewayProcess.create(tmp_path)
    gateway.extra_args = ("--listen", f"0.0.0.0:{gateway.port}")
    gateway.start()
    try:
        out = tmp_path / "node"
        gateway.enroll("department", "tax-1", ("housing_fund",), out=out)
        meta = json.loads((out / "identity.json").read_text())
        assert meta["gateway"] == f"localhost:{gateway.port}"  # not 0.0.0.0
        identity = Identity.load(out)  # no --gateway
        with identity.channel() as channel:
            response = registry_pb2_grpc.RegistryServiceStub(channel).GetSelf(
                registry_pb2.GetSelfRequest(), timeout=30
            )
        assert response.node.node_id == "tax-1"
    finally:
        gateway.stop()
