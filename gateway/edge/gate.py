"""Who is calling: the node identity from the peer certificate, checked against the registry.

Authentication steps, on every call:

1. take the peer certificate that TLS verified against the gateway CA;
2. read the node identity (id, kind, region) from its SAN URI;
3. look the node and the certificate up in the registry (cached for at most
   ``NODE_STATE_CACHE_TTL_S`` so a suspension reaches every replica within a second);
4. refuse an unknown node, an identity that does not match the registry, an unknown or
   revoked certificate, an expired certificate, and a node that is not admitted.

``CURRENT_PEER`` names the node the certificate claims from step (2) on, so that the
chain can name it in the log line and, once step (3) found it in the registry, write the
refusal to the ledger (``gateway.flows.denials``) although no ``Caller`` was set.

The ``Caller`` it returns (``gateway.core.caller``) carries the public key of the verified
certificate, so that no flow reads the certificate again.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from sqlalchemy import Connection, select

from gateway.core.caller import Caller
from gateway.core.ttl_cache import TtlCache
from gateway.store import schema
from gateway.store.db import Store
from xinlian.errors import PermissionDenied, Unauthenticated
from xinlian.limits import NODE_STATE_CACHE_TTL_S
from xinlian.pki import NodeIdentity, fingerprint, identity_from_cert, serial_hex

MAX_CERT_CACHE = 10_000


@dataclass(frozen=True)
class RegistryView:
    """What the gate needs to know of a node and one of its certificates."""

    node_found: bool
    kind: str = ""
    region: str = ""
    state: str = ""
    state_reason: str = ""
    cert_known: bool = False
    cert_revoked: bool = False


@dataclass(frozen=True)
class Peer:
    """Who the peer certificate says is calling, as far as ``authenticate`` got: set
    before the refusals, so a refused call can still name its node. ``known``: the
    registry has this node with this kind and region (a refusal of it is a ledger
    entry; an unknown peer's is only logged)."""

    node_id: str
    kind: str
    known: bool
    state: str = ""  # the registry's state of a known node (admitted, suspended, exited …)


CURRENT_PEER: contextvars.ContextVar[Peer | None] = contextvars.ContextVar(
    "xinlian_peer", default=None
)


@dataclass(frozen=True)
class _ParsedCert:
    identity: NodeIdentity | None
    fingerprint: str
    serial: str
    not_after: datetime
    public_key: CertificatePublicKeyTypes


class NodeGate:
    """Resolves and checks callers. ``lookup`` reads the registry (runs in a thread)."""

    def __init__(
        self,
        lookup: Callable[[str, str], RegistryView],
        now: Callable[[], datetime],
        ttl_s: float = NODE_STATE_CACHE_TTL_S,
    ) -> None:
        self._lookup = lookup
        self._now = now
        self._certs: dict[bytes, _ParsedCert] = {}
        self._views: TtlCache[tuple[str, str], RegistryView] = TtlCache(ttl_s, MAX_CERT_CACHE)

    def invalidate(self, node_id: str | None = None) -> None:
        if node_id is None:
            self._views.clear()
            return
        self._views.invalidate_where(lambda key: key[0] == node_id)

    def _parse(self, pem: bytes) -> _ParsedCert:
        key = hashlib.sha256(pem).digest()
        parsed = self._certs.get(key)
        if parsed is None:
            cert = x509.load_pem_x509_certificate(pem)
            parsed = _ParsedCert(
                identity_from_cert(cert),
                fingerprint(cert),
                serial_hex(cert),
                cert.not_valid_after_utc,
                cert.public_key(),
            )
            if len(self._certs) >= MAX_CERT_CACHE:
                self._certs.clear()
            self._certs[key] = parsed
        return parsed

    async def authenticate(self, pem: bytes | None) -> Caller:
        # (1) a certificate TLS verified against the gateway CA
        if not pem:
            raise Unauthenticated(
                "a client certificate issued by the gateway CA is required",
                reason="NO_CLIENT_CERTIFICATE",
            )
        parsed = self._parse(pem)
        # (2) the identity it carries
        identity = parsed.identity
        if identity is None:
            raise Unauthenticated("certificate carries no node identity", reason="NO_IDENTITY")
        CURRENT_PEER.set(Peer(identity.node_id, identity.kind, known=False))
        if parsed.not_after <= self._now():
            raise Unauthenticated("certificate expired; renew it", reason="CERT_EXPIRED")
        # (3) the registry's view, briefly cached
        view = await self._view(identity.node_id, parsed.fingerprint)
        # (4) refusals
        if not view.node_found or view.kind != identity.kind or view.region != identity.region:
            raise Unauthenticated("certificate does not match the registry", reason="UNKNOWN_NODE")
        CURRENT_PEER.set(Peer(identity.node_id, identity.kind, known=True, state=view.state))
        if not view.cert_known or view.cert_revoked:
            raise Unauthenticated("certificate revoked or unknown", reason="CERT_REVOKED")
        if view.state != "admitted":
            reason = {
                "suspended": "NODE_SUSPENDED",
                "exited": "NODE_EXITED",
            }.get(view.state, "NODE_NOT_ADMITTED")
            detail = f": {view.state_reason}" if view.state_reason else ""
            raise PermissionDenied(
                f"node {identity.node_id} is {view.state}{detail}", reason=reason
            )
        return Caller(
            identity.node_id,
            identity.kind,
            identity.region,
            parsed.fingerprint,
            parsed.serial,
            public_key=parsed.public_key,
        )

    async def _view(self, node_id: str, fp: str) -> RegistryView:
        key = (node_id, fp)
        view = self._views.get(key)
        if view is not None:
            return view
        loaded_at = time.monotonic()
        view = await asyncio.get_running_loop().run_in_executor(None, self._lookup, node_id, fp)
        self._views.put(key, view, loaded_at)
        return view


def registry_lookup(store: Store) -> Callable[[str, str], RegistryView]:
    """The gate's ``lookup``: one read of the node and the certificate's row."""

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
