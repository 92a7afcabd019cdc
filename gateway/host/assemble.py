"""One gateway process's parts, assembled from its configuration: the store, the registry,
the committer, the gate and the refusal recorder, bundled as the ``Runtime``."""

from __future__ import annotations

from datetime import timedelta

from audit.checkpoint import NoteSigner
from authz.catalog import Catalog
from gateway.edge.gate import NodeGate, registry_lookup
from gateway.flows.denials import DenialRecorder
from gateway.flows.registry import Registry
from gateway.flows.runtime import Runtime
from gateway.host.config import GatewayConfig
from gateway.store.committer import GroupCommitter
from gateway.store.db import Store
from xinlian.clock import Clock, SystemClock
from xinlian.pki import load_cert, load_private_key
from xinlian.workdays import load_calendar


def build_runtime(config: GatewayConfig, clock: Clock | None = None) -> Runtime:
    clock = clock or SystemClock()
    store = Store(config.database_url)
    store.check_schema()
    catalog = Catalog.default()
    registry = Registry(
        catalog=catalog,
        clock=clock,
        # a serving replica may run without the CA key (docs/deploy.md: key custody)
        ca_key=load_private_key(config.ca_key) if config.ca_key.exists() else None,
        ca_cert=load_cert(config.ca_cert),
        token_ttl=timedelta(hours=config.enrollment_token_ttl_h),
        cert_lifetime=config.node_cert_lifetime,
    )
    committer = GroupCommitter(store, clock)
    return Runtime(
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
