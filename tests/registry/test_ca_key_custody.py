"""Issue 15: the CA key off serving replicas. A gateway home without the CA key serves
everything but certificate issuance: Enroll and Renew answer FAILED_PRECONDITION with
CA_KEY_NOT_HERE (the token stays unused); a second gateway process on the same store
that holds the key (the enrollment replica) enrolls. Real gRPC, two processes."""

from __future__ import annotations

import shutil
from pathlib import Path

import grpc
import pytest
from support.authz_helpers import reason_of
from support.processes import GatewayProcess

from gateway.host.home import init_home
from node_agent import enroll as enrollment
from xinlian.identity import Identity
from xinlian.v1 import registry_pb2, registry_pb2_grpc

pytestmark = pytest.mark.integration


def _get_self(identity: Identity) -> registry_pb2.GetSelfResponse:
    with identity.channel() as channel:
        return registry_pb2_grpc.RegistryServiceStub(channel).GetSelf(
            registry_pb2.GetSelfRequest(), timeout=10
        )


def test_serving_replica_without_ca_key_refuses_issuance_only(tmp_path: Path) -> None:
    config = init_home(tmp_path / "enrollment")  # the enrollment replica's home, with the key
    serving_home = tmp_path / "serving"
    shutil.copytree(config.home, serving_home)  # same store (the config names its path)
    (serving_home / "ca" / "ca.key").unlink()
    signer = GatewayProcess(config.home).start()
    serving = GatewayProcess(serving_home).start()
    try:
        ca = config.ca_cert.read_bytes()
        token = serving.admit("city_platform", "fz-platform")  # admitted on the serving one
        # Enroll on the serving replica: refused with the reason, the token not spent
        with pytest.raises(grpc.RpcError) as refused:
            enrollment.enroll(serving.enroll_address, token, ca, tmp_path / "refused")
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason_of(refused.value) == "CA_KEY_NOT_HERE"
        assert "enrollment replica" in (refused.value.details() or "")
        # the enrollment replica issues the certificate with the same token
        node = enrollment.enroll(signer.enroll_address, token, ca, tmp_path / "node")
        # the serving replica serves the node; only renewal is refused there
        at_serving = Identity.load(node.files.root, gateway=serving.address)
        assert _get_self(at_serving).node.node_id == "fz-platform"
        with pytest.raises(grpc.RpcError) as renew_refused:
            enrollment.renew(at_serving)
        assert renew_refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason_of(renew_refused.value) == "CA_KEY_NOT_HERE"
        enrollment.renew(Identity.load(node.files.root, gateway=signer.address))
        assert _get_self(at_serving).node.node_id == "fz-platform"
    finally:
        serving.stop()
        signer.stop()


def test_ca_key_path_points_at_the_key(tmp_path: Path) -> None:
    """``ca_key_path`` in config.json: the key may live outside HOME (a mounted Secret)."""
    import json

    from gateway.host.config import GatewayConfig

    config = init_home(tmp_path / "gateway")
    moved = tmp_path / "secret" / "ca.key"
    moved.parent.mkdir()
    shutil.move(config.ca_key, moved)
    data = json.loads((config.home / "config.json").read_text())
    data["ca_key_path"] = str(moved)
    (config.home / "config.json").write_text(json.dumps(data))
    assert GatewayConfig.load(config.home).ca_key == moved
    gateway = GatewayProcess(config.home).start()
    try:
        identity = gateway.enroll("city_platform", "fz-platform")
        assert _get_self(identity).node.node_id == "fz-platform"
    finally:
        gateway.stop()
