"""The authentication steps of gateway.edge.gate.NodeGate, with a fake clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from gateway.edge.gate import NodeGate, RegistryView
from xinlian.clock import FakeClock
from xinlian.errors import PermissionDenied, Unauthenticated
from xinlian.pki import (
    NodeIdentity,
    cert_to_pem,
    create_ca,
    fingerprint,
    issue_node_cert,
    make_csr,
    new_private_key,
    parse_csr,
)

IDENTITY = NodeIdentity("bank-1", "institution", "350100")


def _cert(clock: FakeClock, lifetime: timedelta = timedelta(days=90)) -> tuple[bytes, str]:
    ca_key, ca_cert = create_ca("CA", clock.now())
    csr = parse_csr(make_csr(new_private_key(), "bank-1").decode())
    cert = issue_node_cert(ca_key, ca_cert, csr, IDENTITY, clock.now(), lifetime)
    return cert_to_pem(cert), fingerprint(cert)


def _view(state: str = "admitted", **kw: object) -> RegistryView:
    base: dict[str, object] = {
        "node_found": True,
        "kind": "institution",
        "region": "350100",
        "state": state,
        "cert_known": True,
    }
    base.update(kw)
    return RegistryView(**base)  # type: ignore[arg-type]


def test_admitted_node_passes_and_identity_comes_from_the_certificate() -> None:
    clock = FakeClock()
    pem, fp = _cert(clock)
    gate = NodeGate(lambda node_id, f: _view(), clock.now)
    caller = asyncio.run(gate.authenticate(pem))
    assert (caller.node_id, caller.kind, caller.region, caller.fingerprint) == (
        "bank-1",
        "institution",
        "350100",
        fp,
    )


@pytest.mark.parametrize(
    ("view", "error", "reason"),
    [
        (RegistryView(node_found=False), Unauthenticated, "UNKNOWN_NODE"),
        (_view(kind="admin"), Unauthenticated, "UNKNOWN_NODE"),
        (_view(region="110000"), Unauthenticated, "UNKNOWN_NODE"),
        (_view(cert_known=False), Unauthenticated, "CERT_REVOKED"),
        (_view(cert_revoked=True), Unauthenticated, "CERT_REVOKED"),
        (_view("suspended", state_reason="复查"), PermissionDenied, "NODE_SUSPENDED"),
        (_view("exited"), PermissionDenied, "NODE_EXITED"),
        (_view("applied"), PermissionDenied, "NODE_NOT_ADMITTED"),
    ],
)
def test_refusals(view: RegistryView, error: type[Exception], reason: str) -> None:
    clock = FakeClock()
    pem, _ = _cert(clock)
    gate = NodeGate(lambda node_id, f: view, clock.now)
    with pytest.raises(error) as info:
        asyncio.run(gate.authenticate(pem))
    assert info.value.reason == reason  # type: ignore[attr-defined]


def test_missing_and_expired_certificates_are_refused() -> None:
    clock = FakeClock()
    pem, _ = _cert(clock, lifetime=timedelta(days=1))
    gate = NodeGate(lambda node_id, f: _view(), clock.now)
    with pytest.raises(Unauthenticated) as info:
        asyncio.run(gate.authenticate(None))
    assert info.value.reason == "NO_CLIENT_CERTIFICATE"
    clock.advance(timedelta(days=2))
    with pytest.raises(Unauthenticated) as info:
        asyncio.run(gate.authenticate(pem))
    assert info.value.reason == "CERT_EXPIRED"


def test_registry_view_is_cached_only_briefly_and_invalidation_is_immediate() -> None:
    clock = FakeClock()
    pem, _ = _cert(clock)
    state = {"value": "admitted", "lookups": 0}

    def lookup(node_id: str, fp: str) -> RegistryView:
        state["lookups"] += 1
        return _view(str(state["value"]))

    gate = NodeGate(lookup, clock.now, ttl_s=60)

    async def scenario() -> None:
        await gate.authenticate(pem)
        await gate.authenticate(pem)
        assert state["lookups"] == 1  # cached within the TTL
        state["value"] = "suspended"
        gate.invalidate("bank-1")
        with pytest.raises(PermissionDenied):
            await gate.authenticate(pem)
        assert state["lookups"] == 2

    asyncio.run(scenario())


def test_zero_ttl_reads_the_registry_on_every_call() -> None:
    clock = FakeClock()
    pem, _ = _cert(clock)
    lookups: list[str] = []

    def lookup(node_id: str, fp: str) -> RegistryView:
        lookups.append(node_id)
        return _view()

    gate = NodeGate(lookup, clock.now, ttl_s=0.0)

    async def twice() -> None:
        await gate.authenticate(pem)
        await gate.authenticate(pem)

    asyncio.run(twice())
    assert lookups == ["bank-1", "bank-1"]
