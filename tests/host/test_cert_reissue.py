"""Issue 15: ``xinlian gateway cert reissue`` gives the gateway a new server certificate
from its CA (a new name, or before expiry) and serve warns ahead of expiry. Real mTLS:
a node connecting with the new server name succeeds after the restart, the old names
still work; the CA (and so every node identity) stays."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.installed_cli import assert_exit, xinlian
from support.processes import GatewayProcess

from gateway.host.home import init_home
from xinlian.identity import Identity

pytestmark = pytest.mark.integration

NEW_NAME = "gateway.fj-credit.example"


def handshake_ok(identity: Identity, server_name: str) -> bool:
    """One health call over mTLS, checking the server certificate for ``server_name``."""
    named = replace(identity, server_name=server_name)
    try:
        with named.channel() as channel:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.UNAVAILABLE, err
        return False
    return True


def test_reissue_adds_a_name_and_keeps_the_old_ones(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gateway")
    ca_before = config.ca_cert.read_bytes()
    gateway = GatewayProcess(config.home).start()
    try:
        assert handshake_ok(gateway.admin(), "localhost")
        assert not handshake_ok(gateway.admin(), NEW_NAME)
    finally:
        gateway.stop()
    result = xinlian(
        "gateway", "cert", "reissue", "--home", str(config.home), "--host", NEW_NAME, "--json"
    )
    assert_exit(result, 0)
    shown = json.loads(result.stdout)
    assert shown["hosts"] == ["localhost", "127.0.0.1", NEW_NAME]
    assert config.ca_cert.read_bytes() == ca_before
    saved = json.loads((config.home / "config.json").read_text())
    assert saved["server_hosts"] == ["localhost", "127.0.0.1", NEW_NAME]
    gateway = GatewayProcess(config.home).start()  # restarted: serves the new certificate
    try:
        admin = gateway.admin()  # an identity issued before the reissue
        assert handshake_ok(admin, NEW_NAME)
        assert handshake_ok(admin, "localhost")
        assert not handshake_ok(admin, "other.example")
    finally:
        gateway.stop()


def test_reissue_replace_drops_the_other_names(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gateway", hosts=("localhost", "old.example"))
    result = xinlian(
        "gateway", "cert", "reissue", "--home", str(config.home),
        "--host", "localhost", "--host", NEW_NAME, "--replace",
    )  # fmt: skip
    assert_exit(result, 0)
    gateway = GatewayProcess(config.home).start()
    try:
        assert handshake_ok(gateway.admin(), NEW_NAME)
        assert not handshake_ok(gateway.admin(), "old.example")
    finally:
        gateway.stop()


def test_serve_warns_ahead_of_expiry_and_config_shows_it(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gateway")
    assert_exit(xinlian("gateway", "cert", "reissue", "--home", str(config.home), "--days", "2"), 0)
    shown = json.loads(xinlian("gateway", "config", "--home", str(config.home)).stdout)
    assert 1.9 < shown["server_certificate"]["days_left"] <= 2.0
    assert shown["server_cert_warn_days"] == 30
    stats = xinlian("gateway", "stats", "--home", str(config.home), "--json")
    assert_exit(stats, 0)
    assert json.loads(stats.stdout)["server_certificate"]["hosts"] == ["localhost", "127.0.0.1"]
    gateway = GatewayProcess(config.home).start()
    try:
        deadline = time.monotonic() + 10
        while "expires in" not in gateway.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = gateway.log.read_text()
        assert "server certificate" in log and "expires in 2.0 days" in log, log
        assert "xinlian gateway cert reissue" in log
    finally:
        gateway.stop()


def test_no_warning_for_a_fresh_certificate(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gateway")
    gateway = GatewayProcess(config.home).start()
    try:
        time.sleep(0.5)
        assert "server certificate" not in gateway.log.read_text()
    finally:
        gateway.stop()
