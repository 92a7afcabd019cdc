"""Every RPC method of the contract has an explicit access entry, and nothing more."""

from __future__ import annotations

from grpc_health.v1 import health

from gateway.edge.access import ACCESS, ALL_KINDS, BOOTSTRAP
from gateway.host.reflection import SERVICE_NAMES as REFLECTION_SERVICE_NAMES
from gateway.host.server import SERVICE_NAMES
from xinlian.v1 import (
    audit_pb2,
    authorization_pb2,
    catalog_pb2,
    exchange_pb2,
    federation_pb2,
    notices_pb2,
    objections_pb2,
    registry_pb2,
    repairs_pb2,
    statistics_pb2,
    subscriptions_pb2,
    withdrawals_pb2,
    witness_pb2,
)

MODULES = (registry_pb2, catalog_pb2, exchange_pb2, authorization_pb2, audit_pb2, notices_pb2)
MODULES += (repairs_pb2,)
MODULES += (objections_pb2,)
MODULES += (withdrawals_pb2,)
MODULES += (statistics_pb2,)
MODULES += (witness_pb2,)
MODULES += (federation_pb2,)
MODULES += (subscriptions_pb2,)


def _contract_methods() -> set[str]:
    methods = set()
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                methods.add(f"/{service.full_name}/{method.name}")
    return methods


def test_every_proto_method_has_an_access_entry() -> None:
    missing = _contract_methods() - set(ACCESS)
    assert not missing, f"methods without an access rule: {sorted(missing)}"


def test_access_table_names_no_unknown_xinlian_method() -> None:
    stale = {m for m in ACCESS if m.startswith("/xinlian.")} - _contract_methods()
    assert not stale, f"access rules for methods not in the contract: {sorted(stale)}"


def test_rules_name_only_known_kinds_and_bootstrap_is_narrow() -> None:
    for method, rule in ACCESS.items():
        if rule == BOOTSTRAP:
            assert method in {
                "/xinlian.v1.RegistryService/Apply",
                "/xinlian.v1.RegistryService/Enroll",
            }
        else:
            assert isinstance(rule, frozenset) and rule and rule <= ALL_KINDS, method


def test_every_service_is_served() -> None:
    names = {s.full_name for m in MODULES for s in m.DESCRIPTOR.services_by_name.values()}
    assert names == set(SERVICE_NAMES)


def test_every_standard_service_in_the_table_is_served() -> None:
    """The non-contract entries name exactly the health and reflection services the
    gateway serves (reflection in both v1 and v1alpha)."""
    standard = {m.split("/")[1] for m in ACCESS if not m.startswith("/xinlian.")}
    assert standard == {health.SERVICE_NAME, *REFLECTION_SERVICE_NAMES}
