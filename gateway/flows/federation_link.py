"""The upstream link (级联): a gateway is a node of kind ``gateway`` at its upstream, and its
upstream is a node of kind ``gateway`` here, both admitted with a recorded review.

Linking a member to its upstream, in order (``xinlian gateway link``):

    (1) the member applies at the upstream's enrollment port as kind ``gateway`` with its
        region and its gateway id as the requested node id (``link apply``);
    (2) the upstream's administrator admits it with a review, which hands out a token;
    (3) with that token the member enrolls at the upstream (its key made here, only a
        CSR sent); the identity is kept in ``HOME/federation/upstream``;
    (4) the member applies for and admits the upstream as a ``gateway`` node of its own
        registry (review by the operator who links), which makes a token for it;
    (5) the member calls ``Join`` at the upstream over mTLS with its endpoints, CA
        certificate, ledger verifier key, checkpoint origin and that token; the upstream
        enrolls at the member with the token (its downlink, kept in
        ``HOME/federation/members/<gateway id>``), records the member and answers with
        the directory's verifier key, which the member pins.

Suspending or exiting the member at the upstream is the registry's ordinary suspension:
the upstream's gate refuses its calls within ``NODE_STATE_CACHE_TTL_S``; the directory
then lists it as suspended, and no forwarded query or down relay goes to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from audit.checkpoint import NoteSigner
from audit.entry import Action
from gateway.core.caller import Caller
from gateway.flows.federation_directory import Directory, Member, region_prefix
from gateway.flows.registry import Application, Registry, get_node
from gateway.store import federation_store
from gateway.store.committer import LedgerTx
from gateway.store.timeutil import to_us
from xinlian.clock import Clock
from xinlian.errors import FailedPrecondition
from xinlian.identity import Identity

FEDERATION_DIR = "federation"
GATEWAY_KIND = "gateway"
HOP_OUT = "out"
HOP_IN = "in"


def hop(peer: str, peer_index: int | None, direction: str) -> dict[str, Any]:
    """The ``hop`` detail every cross-gateway entry carries (docs/federation.md)."""
    return {"peer": peer, "peer_index": peer_index, "direction": direction}


@dataclass(frozen=True)
class FederationPaths:
    root: Path

    @property
    def upstream(self) -> Path:
        return self.root / "upstream"

    def downlink(self, gateway_id: str) -> Path:
        return self.root / "members" / gateway_id

    @property
    def directory_note(self) -> Path:
        return self.root / "directory.note"

    @property
    def directory_key(self) -> Path:
        """The top gateway's directory signing key (its presence makes a gateway the top)."""
        return self.root / "directory.key"

    @property
    def directory_next_key(self) -> Path:
        """A second signing key during a rotation: both sign, both are listed."""
        return self.root / "directory.next.key"

    @property
    def pinned_keys(self) -> Path:
        return self.root / "directory.pins"


@dataclass
class Federation:
    """This gateway's place in the federation, assembled once per process."""

    gateway_id: str
    region: str
    paths: FederationPaths
    forward_deadline_s: float
    directory_interval_s: float
    relay_interval_s: float
    relay_batch_limit: int = 64
    directory: Directory | None = None
    _downlinks: dict[str, Identity] = field(default_factory=dict, repr=False)
    _upstream: Identity | None = field(default=None, repr=False)
    _upstream_id: str = ""

    @property
    def is_top(self) -> bool:
        return self.paths.directory_key.exists()

    def upstream(self) -> Identity | None:
        """The identity at the upstream (read once it exists: a link is not undone)."""
        if self._upstream is None and (self.paths.upstream / "identity.json").exists():
            self._upstream = Identity.load(self.paths.upstream)
        return self._upstream

    def upstream_id(self) -> str:
        """The upstream's gateway id, once the link completed (``upstream.json``)."""
        if not self._upstream_id:
            self._upstream_id = read_link_record(self.paths).get("gateway_id", "")
        return self._upstream_id

    def downlink(self, gateway_id: str) -> Identity | None:
        identity = self._downlinks.get(gateway_id)
        if identity is None and (self.paths.downlink(gateway_id) / "identity.json").exists():
            identity = Identity.load(self.paths.downlink(gateway_id))
            self._downlinks[gateway_id] = identity
        return identity

    def forget_downlink(self, gateway_id: str) -> None:
        """A member joined again: its downlink identity is read afresh."""
        self._downlinks.pop(gateway_id, None)

    def directory_signers(self) -> list[NoteSigner]:
        out = []
        for path in (self.paths.directory_key, self.paths.directory_next_key):
            if path.exists():
                out.append(NoteSigner.from_key_string(path.read_text().strip()))
        return out

    def pinned(self) -> list[str]:
        if not self.paths.pinned_keys.exists():
            return []
        return [k for k in self.paths.pinned_keys.read_text().split() if k]

    def pin(self, keys: list[str]) -> None:
        tmp = self.paths.pinned_keys.with_suffix(".tmp")
        tmp.write_text("\n".join(keys) + "\n")
        tmp.replace(self.paths.pinned_keys)

    def home_of(self, credit_code: str) -> Member | None:
        return self.directory.home_of(credit_code) if self.directory else None


def local_gateway_id(gateway_id: str, region: str) -> str:
    return gateway_id or f"gw-{region}"


# -- (4) the upstream, admitted here ------------------------------------------------------


def admit_upstream(
    registry: Registry,
    admin: Caller,
    upstream_id: str,
    upstream_region: str,
    reviewer_notes: str,
    trace_id: str,
) -> tuple[Any, Any]:
    """The two units of work of step (4): the application and the admission (with its
    review); the second returns the ``Admission`` carrying the upstream's token."""
    application = registry.apply(
        Application(
            name=f"上级网关 {upstream_id}",
            kind=GATEWAY_KIND,
            region=upstream_region,
            requested_id=upstream_id,
        ),
        trace_id,
    )
    admission = registry.admit(
        admin,
        upstream_id,
        "上级网关：通过 mTLS 与目录验证",
        "级联互联协议",
        reviewer_notes,
        trace_id,
    )
    return application, admission


def upstream_node_state(conn: Connection, upstream_id: str) -> str | None:
    node = get_node(conn, upstream_id)
    return node.state if node is not None else None


# -- (5) Join, at the upstream ------------------------------------------------------------


@dataclass(frozen=True)
class JoinFacts:
    endpoint: str
    tls_server_name: str
    ca_pem: str
    verifier_key: str
    origin: str
    catalog_version: str


def join(caller: Caller, facts: JoinFacts, upstream_id: str, clock: Clock, trace_id: str) -> Any:
    """The upstream records the member (the directory lists it from now on)."""
    if caller.kind != GATEWAY_KIND:
        raise FailedPrecondition("only a gateway node joins", reason="NOT_A_GATEWAY")

    def work(conn: Connection, ledger: LedgerTx) -> int:
        now = clock.now()
        federation_store.upsert_member(
            conn,
            {
                "gateway_id": caller.node_id,
                "region": caller.region,
                "endpoint": facts.endpoint,
                "tls_server_name": facts.tls_server_name,
                "ca_pem": facts.ca_pem,
                "verifier_key": facts.verifier_key,
                "origin": facts.origin,
                "catalog_version": facts.catalog_version,
                "upstream": upstream_id,
                "state": "admitted",
            },
            to_us(now),
        )
        details = {
            "region": caller.region,
            "region_prefix": region_prefix(caller.region),
            "endpoint": facts.endpoint,
            "origin": facts.origin,
            "catalog_version": facts.catalog_version,
            "hop": hop(caller.node_id, None, HOP_IN),
        }
        entry = caller.entry(
            Action.FEDERATION_JOINED, now, trace_id, details, subject=caller.node_id
        )
        return ledger.append(entry)

    return work


def write_link_record(paths: FederationPaths, upstream_id: str, upstream_region: str) -> None:
    """What the member knows of its upstream besides the identity (for ``show``)."""
    paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    (paths.root / "upstream.json").write_text(
        json.dumps({"gateway_id": upstream_id, "region": upstream_region}, indent=2) + "\n"
    )


def read_link_record(paths: FederationPaths) -> dict[str, str]:
    path = paths.root / "upstream.json"
    if not path.exists():
        return {}
    data: dict[str, str] = json.loads(path.read_text())
    return data
