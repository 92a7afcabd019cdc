"""Who this gateway witnesses and trusts cosignatures from: the peer descriptors, and the
port the witnessing and trace flows use to talk to a peer.

``configured_peers`` is the ONE function that says who the peers are. Today it reads the
``witness_peers`` config list; once the signed federation directory is in, it should
build the same ``WitnessPeer`` values from the directory's members (gateway id, endpoint,
CA certificate PEM, ledger verifier key, checkpoint origin), with ``identity`` the
directory of this gateway's own node identity at that peer. Nothing else reads the list.

``PeerLog`` is what a flow needs of a peer's gateway; ``gateway.services.peer_client``
implements it over mTLS gRPC (flows know no protobuf).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from audit.checkpoint import NoteVerifier
from audit.cosignature import CosignatureVerifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WitnessPeer:
    """One linked gateway: its id, its log (origin and verifier key), and how to reach it."""

    gateway_id: str
    origin: str
    verifier_key: str
    endpoint: str = ""
    ca_pem: bytes = b""
    identity: Path | None = None
    server_name: str = ""

    @property
    def log_verifier(self) -> NoteVerifier:
        """The key that signs the peer's checkpoints."""
        return NoteVerifier.from_key_string(self.verifier_key)

    @property
    def cosignature_verifier(self) -> CosignatureVerifier:
        """The same key as a witness: how the peer's cosignatures are checked."""
        return CosignatureVerifier.from_key_string(self.verifier_key)

    @property
    def reachable(self) -> bool:
        """Whether this gateway can call the peer (endpoint, CA and an identity there)."""
        return bool(self.endpoint and self.ca_pem and self.identity is not None)


def configured_peers(settings: Any) -> tuple[WitnessPeer, ...]:
    """The peers named by ``settings.witness_peers`` (``gateway.host.config``); relative
    paths are under ``settings.home``. A CA file that cannot be read leaves that peer
    unreachable (logged), never the others."""
    home = Path(getattr(settings, "home", "."))
    peers = []
    for entry in getattr(settings, "witness_peers", ()) or ():
        ca_pem = b""
        if entry.ca_cert:
            try:
                ca_pem = (home / entry.ca_cert).read_bytes()
            except OSError as exc:
                log.warning(
                    "witness peer %s: CA file unreadable (%s)", entry.gateway_id, exc.strerror
                )
        peers.append(
            WitnessPeer(
                gateway_id=entry.gateway_id,
                origin=entry.origin,
                verifier_key=entry.verifier_key,
                endpoint=entry.endpoint,
                ca_pem=ca_pem,
                identity=(home / entry.identity) if entry.identity else None,
                server_name=entry.server_name,
            )
        )
    return tuple(peers)


def peer_by_id(peers: tuple[WitnessPeer, ...], gateway_id: str) -> WitnessPeer | None:
    return next((p for p in peers if p.gateway_id == gateway_id), None)


@dataclass(frozen=True)
class PeerInclusion:
    """A peer's inclusion proof of one of its entries, in the tree of ``tree_size``."""

    index: int
    tree_size: int
    leaf_hash: bytes
    proof: list[bytes]


class PeerLog(Protocol):
    """What the flows ask of a peer gateway. Every call raises ``xinlian.errors`` errors
    (``Unavailable`` when the peer cannot be reached)."""

    async def checkpoint(self) -> str:
        """The peer's latest signed checkpoint note."""

    async def consistency(self, first: int, second: int) -> list[bytes]:
        """The peer's consistency proof between two of its tree sizes."""

    async def inclusion(self, index: int, tree_size: int) -> PeerInclusion:
        """The peer's inclusion proof of ``index`` (``tree_size`` 0: its latest)."""

    async def cosigned_checkpoint(self) -> str:
        """The peer's latest checkpoint that gathered cosignatures, with them."""

    async def submit_cosignature(self, tree_size: int, line: str) -> None:
        """Hand the peer this gateway's cosignature of its checkpoint of ``tree_size``."""

    async def witnessed(self, origin: str) -> str:
        """The latest checkpoint of ``origin`` the peer cosigned, with its cosignature
        ("" if none)."""

    async def hop_entry(self, index: int, trace_id: str) -> bytes:
        """The peer's ledger entry at ``index``, if it carries ``trace_id`` and names this
        gateway as its hop peer."""

    async def close(self) -> None: ...


PeerConnector = Callable[[WitnessPeer], PeerLog]
"""Opens a ``PeerLog`` to a reachable peer."""
