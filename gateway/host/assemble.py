"""One gateway process's parts, assembled from its configuration: the store, the registry,
the committer, the gate and the refusal recorder, bundled as the ``Runtime``."""

from __future__ import annotations

from datetime import timedelta

from audit.checkpoint import NoteSigner
from authz.catalog import Catalog
from gateway.edge.gate import NodeGate, registry_lookup
from gateway.flows.denials import DenialRecorder
from gateway.flows.federation_link import (
    FEDERATION_DIR,
    Federation,
    FederationPaths,
    local_gateway_id,
)
from gateway.flows.federation_sync import load_held
from gateway.flows.registry import Registry
from gateway.flows.runtime import Runtime
from gateway.host.config import GatewayConfig
from gateway.store.committer import GroupCommitter
from gateway.store.db import Store
from xinlian.clock import Clock, SystemClock
from xinlian.identity import Identity
from xinlian.pki import load_cert, load_private_key
from xinlian.workdays import load_calendar


def registry_for(config: GatewayConfig, clock: Clock, catalog: Catalog | None = None) -> Registry:
    return Registry(
        catalog=catalog or Catalog.default(),
        clock=clock,
        # a serving replica may run without the CA key (docs/deploy.md: key custody)
        ca_key=load_private_key(config.ca_key) if config.ca_key.exists() else None,
        ca_cert=load_cert(config.ca_cert),
        token_ttl=timedelta(hours=config.enrollment_token_ttl_h),
        cert_lifetime=config.node_cert_lifetime,
    )


def build_runtime(config: GatewayConfig, clock: Clock | None = None) -> Runtime:
    clock = clock or SystemClock()
    store = Store(config.database_url)
    store.check_schema()
    catalog = Catalog.default()
    registry = registry_for(config, clock, catalog)
    committer = GroupCommitter(store, clock)
    runtime = Runtime(
        config=config,
        store=store,
        clock=clock,
        catalog=catalog,
        registry=registry,
        committer=committer,
        gate=NodeGate(registry_lookup(store), clock.now),
        denials=DenialRecorder(committer, clock),
        signer=NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip()),
        pseudonym_secret=config.pseudonym_key.read_bytes(),
        calendar=load_calendar(config.calendar_dirs),
    )
    runtime.federation = build_federation(config)
    return runtime


def build_federation(config: GatewayConfig) -> Federation | None:
    """This gateway's place in a federation, if ``federation_region`` is set; the
    directory held on disk is loaded (and verified) here."""
    region, gateway_id = config.federation_region, config.federation_gateway_id
    paths = FederationPaths(config.home / FEDERATION_DIR)
    if not region and (paths.upstream / "identity.json").exists():
        linked = Identity.load(paths.upstream)  # linked while serving: the upstream's names
        region, gateway_id = linked.region, linked.node_id
    if not region:
        return None
    fed = Federation(
        gateway_id=local_gateway_id(gateway_id, region),
        region=region,
        paths=paths,
        forward_deadline_s=config.federation_forward_deadline_s,
        directory_interval_s=config.federation_directory_interval_s,
        relay_interval_s=config.federation_relay_interval_s,
    )
    load_held(fed)
    return fed
