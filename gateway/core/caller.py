"""Who is calling, as the flows and the servicers see it: the node the edge authenticated
(``gateway.edge.gate``) for the call that is running, and the call's request id."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from audit.entry import Action, Entry, Outcome
from xinlian.errors import Unauthenticated


@dataclass(frozen=True)
class Caller:
    node_id: str
    kind: str
    region: str
    fingerprint: str
    serial: str
    # the public key of the certificate TLS verified and the gate checked (None only for a
    # Caller made without a certificate, in tests)
    public_key: CertificatePublicKeyTypes | None = field(default=None, repr=False, compare=False)

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


class Gate(Protocol):
    """The edge's gate (``gateway.edge.gate.NodeGate``) as the rest of the gateway holds
    it: the chain authenticates each call with it; a change of a node's state drops its
    cached view of the node."""

    async def authenticate(self, pem: bytes | None) -> Caller: ...

    def invalidate(self, node_id: str | None = None) -> None: ...


CURRENT_CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "xinlian_caller", default=None
)
CURRENT_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar(
    "xinlian_request_id", default=""
)


def current_caller() -> Caller:
    caller = CURRENT_CALLER.get()
    if caller is None:
        raise Unauthenticated("no authenticated caller", reason="NO_CLIENT_CERTIFICATE")
    return caller
