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
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509

from audit.entry import Action, Entry, Outcome
from xinlian.errors import PermissionDenied, Unauthenticated
from xinlian.limits import NODE_STATE_CACHE_TTL_S
from xinlian.pki import NodeIdentity, fingerprint, identity_from_cert, serial_hex

if TYPE_CHECKING:
    from gateway.flows.denials import DenialRecorder

MAX_CERT_CACHE = 10_000


@dataclass(frozen=True)
class Caller:
    node_id: str
    kind: str
    region: str
    fingerprint: str
    serial: str

    def entry(
        self,
        action: Action,
        time: datetime,
        trace_id: str,
        details: Mapping[str, Any],
        *,
        credit_code: str | None = None,
        subject: str | None = None,
        outcome: Outcome = Outcome.OK,
    ) -> Entry:
        """A ledger entry of something this node did (its id and kind as the actor)."""
        return Entry(
            action=action,
            time=time,
            actor=self.node_id,
            actor_kind=self.kind,
            outcome=outcome,
            trace_id=trace_id,
            credit_code=credit_code,
            subject=subject,
            details=details,
        )


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


CURRENT_CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "xinlian_caller", default=None
)
CURRENT_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar(
    "xinlian_request_id", default=""
)


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


def current_caller() -> Caller:
    caller = CURRENT_CALLER.get()
    if caller is None:
        raise Unauthenticated("no authenticated caller", reason="NO_CLIENT_CERTIFICATE")
    return caller


@dataclass(frozen=True)
class _ParsedCert:
    identity: NodeIdentity | None
    fingerprint: str
    serial: str
    not_after: datetime


class NodeGate:
    """Resolves and checks callers. ``lookup`` reads the registry (runs in a thread)."""

    def __init__(
        self,
        lookup: Callable[[str, str], RegistryView],
        now: Callable[[], datetime],
        ttl_s: float = NODE_STATE_CACHE_TTL_S,
        denials: DenialRecorder | None = None,
    ) -> None:
        self._lookup = lookup
        # where the chain records refusals of known nodes (gateway.flows.denials)
        self.denials = denials
        self._now = now
        self._ttl = ttl_s
        self._certs: dict[bytes, _ParsedCert] = {}
        self._views: dict[tuple[str, str], tuple[float, RegistryView]] = {}

    def invalidate(self, node_id: str | None = None) -> None:
        if node_id is None:
            self._views.clear()
            return
        for key in [k for k in self._views if k[0] == node_id]:
            del self._views[key]

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
            identity.node_id, identity.kind, identity.region, parsed.fingerprint, parsed.serial
        )

    async def _view(self, node_id: str, fp: str) -> RegistryView:
        key = (node_id, fp)
        cached = self._views.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        view = await asyncio.get_running_loop().run_in_executor(None, self._lookup, node_id, fp)
        if len(self._views) >= MAX_CERT_CACHE:
            self._views.clear()
        self._views[key] = (now, view)
        return view
