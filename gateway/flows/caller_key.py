"""The key of the caller's own certificate, for the statements a node signs with it.

A department signs its push batches (gateway.flows.push) and its repair statements
(gateway.flows.repairs) with the key of the certificate it presents; TLS verified that
certificate, the edge's gate checked it against the registry and put its public key in
the ``Caller``. Only keys that sign batches and statements are accepted: Ed25519 or
ECDSA P-256.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from audit.entry import Action
from gateway.core.caller import Caller
from gateway.flows.denials import Refusal, mark
from xinlian.errors import PermissionDenied, Unauthenticated
from xinlian.signing import VerifierKey


def signing_key(caller: Caller) -> VerifierKey:
    """The caller's certificate key, if it can sign: Ed25519 or P-256.

    (1) no certificate key: UNAUTHENTICATED ``NO_CLIENT_CERTIFICATE``
    (2) another key type: PERMISSION_DENIED ``BAD_KEY_TYPE``, marked as an
        ``access.denied`` refusal, so that it is a ledger entry (gateway.flows.denials)
    """
    key = caller.public_key
    if key is None:
        raise Unauthenticated("no client certificate", reason="NO_CLIENT_CERTIFICATE")
    if isinstance(key, ed25519.Ed25519PublicKey) or (
        isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    ):
        return key
    refused = PermissionDenied("certificate key type not accepted", reason="BAD_KEY_TYPE")
    mark(refused, Refusal(Action.ACCESS_DENIED))
    raise refused
