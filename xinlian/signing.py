"""Canonical bytes and signatures shared by batches, grants, revocations and checkpoints.

Canonical encoding (documented in docs/canonical-encoding.md): JSON, UTF-8, object keys
sorted, no insignificant whitespace, non-ASCII characters written as themselves, integers
as integers, no floats (decimals travel as strings).

Accepted public-key types are listed, nothing else is: Ed25519 and ECDSA P-256 with SHA-256.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from xinlian.errors import InvalidArgument, PermissionDenied

MAX_SIGNATURE_BYTES = 256
MAX_PUBLIC_KEY_PEM_BYTES = 4096

SignerKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
VerifierKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def canonical_json(obj: Any) -> bytes:
    """Encode ``obj`` as canonical JSON bytes (see module docstring)."""
    _reject_floats(obj)
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _reject_floats(obj: Any) -> None:
    if isinstance(obj, float):
        raise TypeError("canonical JSON carries no floats; send decimals as strings")
    if isinstance(obj, dict):
        for value in obj.values():
            _reject_floats(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _reject_floats(value)


def sign(key: SignerKey, data: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    raise TypeError("signing keys must be Ed25519 or ECDSA P-256")


def load_public_key(pem: bytes | str, *, field_name: str = "public_key_pem") -> VerifierKey:
    """Parse a PEM public key, accepting only the listed key types."""
    raw = pem.encode("ascii") if isinstance(pem, str) else pem
    if len(raw) > MAX_PUBLIC_KEY_PEM_BYTES:
        raise InvalidArgument.field(field_name, f"{len(raw)} bytes", "a PEM key ≤ 4096 bytes")
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError):
        raise InvalidArgument.field(field_name, "unparseable PEM", "a PEM public key") from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise InvalidArgument.field(field_name, type(key).__name__, "Ed25519 or ECDSA P-256")


def public_key_pem(key: VerifierKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verify(key: VerifierKey, data: bytes, signature: bytes, *, what: str) -> None:
    """Verify ``signature`` over ``data``; raise PermissionDenied naming ``what`` if bad."""
    if not signature or len(signature) > MAX_SIGNATURE_BYTES:
        raise PermissionDenied(f"{what}: signature missing or oversized", reason="BAD_SIGNATURE")
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise PermissionDenied(
            f"{what}: signature does not verify", reason="BAD_SIGNATURE"
        ) from None
