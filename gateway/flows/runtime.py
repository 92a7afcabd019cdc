"""The gateway's dependencies, assembled once and passed to every service."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Connection, select

from audit.checkpoint import NoteSigner
from audit.entry import Entry
from authz.catalog import Catalog
from gateway.core.caller import CURRENT_REQUEST_ID, NodeGate, RegistryView
from gateway.flows.denials import DenialRecorder
from gateway.flows.grants import AuthzCaches
from gateway.flows.registry import Registry
from gateway.host.config import GatewayConfig
from gateway.store import schema
from gateway.store.committer import GroupCommitter, Work
from gateway.store.db import Store
from xinlian.clock import Clock, SystemClock
from xinlian.pki import load_cert, load_private_key

T = TypeVar("T")


@dataclass
class Runtime:
    config: GatewayConfig
    store: Store
    clock: Clock
    catalog: Catalog
    registry: Registry
    committer: GroupCommitter
    gate: NodeGate
    signer: NoteSigner = field(repr=False)
    pseudonym_secret: bytes = field(repr=False)
    # Per-process caches of grants and enterprise state (≤ 0.5 s, see grants_store).
    authz_caches: AuthzCaches = field(default_factory=AuthzCaches)
    # Refusals of known nodes as ledger entries, with flood control (gateway.flows.denials);
    # the gate hands it to the chain. Closed (pending summaries written) at shutdown.
    denials: DenialRecorder | None = None

    async def commit(self, work: Work[T]) -> T:
        return await self.committer.submit(work)

    async def commit_entry(self, entry: Entry) -> int:
        """Commit one ledger entry on its own; returns its index (raises if not durable)."""
        return await self.committer.submit(lambda conn, ledger: ledger.append(entry))

    async def read(self, fn: Callable[[Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, self.store.read, fn)


def new_trace_id() -> str:
    request_id = CURRENT_REQUEST_ID.get()
    return request_id + secrets.token_hex(4) if request_id else secrets.token_hex(12)


def registry_lookup(store: Store) -> Callable[[str, str], RegistryView]:
    def lookup(node_id: str, fp: str) -> RegistryView:
        def read(conn: Connection) -> RegistryView:
            node = conn.execute(
                select(
                    schema.nodes.c.kind,
                    schema.nodes.c.region,
                    schema.nodes.c.state,
                    schema.nodes.c.state_reason,
                ).where(schema.nodes.c.node_id == node_id)
            ).first()
            if node is None:
                return RegistryView(node_found=False)
            cert = conn.execute(
                select(schema.certificates.c.revoked_at_us, schema.certificates.c.node_id).where(
                    schema.certificates.c.fingerprint == fp
                )
            ).first()
            return RegistryView(
                node_found=True,
                kind=node.kind,
                region=node.region,
                state=node.state,
                state_reason=node.state_reason,
                cert_known=cert is not None and cert.node_id == node_id,
                cert_revoked=cert is not None and cert.revoked_at_us is not None,
            )

        return store.read(read)

    return lookup


def build_runtime(config: GatewayConfig, clock: Clock | None = None) -> Runtime:
    clock = clock or SystemClock()
    store = Store(config.db_url)
    store.check_schema()
    catalog = Catalog.default()
    registry = Registry(
        catalog=catalog,
        clock=clock,
        ca_key=load_private_key(config.ca_key),
        ca_cert=load_cert(config.ca_cert),
        token_ttl=timedelta(hours=config.enrollment_token_ttl_h),
        cert_lifetime=config.node_cert_lifetime,
    )
    committer = GroupCommitter(store, clock)
    denials = DenialRecorder(committer, clock)
    return Runtime(
        config=config,
        store=store,
        clock=clock,
        catalog=catalog,
        registry=registry,
        committer=committer,
        gate=NodeGate(registry_lookup(store), clock.now, denials=denials),
        denials=denials,
        signer=NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip()),
        pseudonym_secret=config.pseudonym_key.read_bytes(),
    )
