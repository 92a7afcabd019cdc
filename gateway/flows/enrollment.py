"""Enrollment tokens and node certificates: what lets an admitted node in.

An admission stores a one-time token (``xlt_<id>.<secret>``; the gateway keeps only the
secret's SHA-256). Enrolling redeems it — it exists, its secret matches, it has not
expired, it was not used — and the gateway CA issues the node's certificate; a renewal
issues another. A node's exit revokes its certificates and burns its unused tokens.

These functions run inside the registry's units of work (``gateway.flows.registry``),
which own the node records, the state checks and the ledger entries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, insert, select, update

from gateway.store import schema
from gateway.store.timeutil import to_us
from xinlian.errors import InvalidArgument, Unauthenticated
from xinlian.pki import NodeIdentity, cert_to_pem, fingerprint, issue_node_cert, serial_hex

TOKEN_PREFIX = "xlt_"
TOKEN_ID_BYTES = 8
TOKEN_SECRET_BYTES = 32
MAX_TOKEN_LEN = 128


@dataclass(frozen=True)
class Token:
    token: str  # shown once, to the administrator who admitted the node
    token_id: str
    expires_at: datetime


@dataclass(frozen=True)
class Certificate:
    pem: bytes
    not_after: datetime
    serial: str


# -- tokens -----------------------------------------------------------------------------
def _new_token() -> tuple[str, str, bytes]:
    token_id = secrets.token_hex(TOKEN_ID_BYTES)
    secret = secrets.token_urlsafe(TOKEN_SECRET_BYTES)
    token = f"{TOKEN_PREFIX}{token_id}.{secret}"
    return token, token_id, hashlib.sha256(secret.encode()).digest()


def parse_token(token: str) -> tuple[str, bytes]:
    """Split a token into its id and secret. Errors never echo the secret."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LEN or "." not in token:
        raise InvalidArgument("token: malformed, want the token printed by `xinlian admin admit`")
    token_id, _, secret = token[len(TOKEN_PREFIX) :].partition(".")
    if len(token_id) != 2 * TOKEN_ID_BYTES or not secret:
        raise InvalidArgument("token: malformed, want the token printed by `xinlian admin admit`")
    return token_id, secret.encode()


def store_token(conn: Connection, node_id: str, now: datetime, ttl: timedelta) -> Token:
    """A new enrollment token for ``node_id``, good until ``now + ttl``."""
    token, token_id, secret_hash = _new_token()
    expires = now + ttl
    conn.execute(
        insert(schema.enrollment_tokens).values(
            token_id=token_id,
            node_id=node_id,
            secret_hash=secret_hash,
            created_at_us=to_us(now),
            expires_at_us=to_us(expires),
            used_at_us=None,
        )
    )
    return Token(token, token_id, expires)


def redeem_token(conn: Connection, token_id: str, secret: bytes, now: datetime) -> str:
    """Use the token up; the id of the node it was issued for. Raises Unauthenticated
    (BAD_TOKEN, TOKEN_EXPIRED, TOKEN_USED) when it cannot be used."""
    # (1) the token exists and its secret matches (constant-time)
    row = conn.execute(
        select(schema.enrollment_tokens).where(schema.enrollment_tokens.c.token_id == token_id)
    ).first()
    digest = hashlib.sha256(secret).digest()
    if row is None or not hmac.compare_digest(row.secret_hash, digest):
        raise Unauthenticated("enrollment token not valid", reason="BAD_TOKEN")
    # (2) not expired
    if row.expires_at_us <= to_us(now):
        raise Unauthenticated("enrollment token expired", reason="TOKEN_EXPIRED")
    # (3) used at most once: the conditional update wins for exactly one caller
    used = conn.execute(
        update(schema.enrollment_tokens)
        .where(schema.enrollment_tokens.c.token_id == token_id)
        .where(schema.enrollment_tokens.c.used_at_us.is_(None))
        .values(used_at_us=to_us(now))
    ).rowcount
    if used != 1:
        raise Unauthenticated("enrollment token already used", reason="TOKEN_USED")
    return str(row.node_id)


# -- certificates -----------------------------------------------------------------------
def issue_certificate(
    conn: Connection,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    identity: NodeIdentity,
    csr: x509.CertificateSigningRequest,
    now: datetime,
    lifetime: timedelta,
) -> Certificate:
    """Sign ``csr`` for ``identity`` with the gateway CA and store the certificate."""
    cert = issue_node_cert(ca_key, ca_cert, csr, identity, now, lifetime)
    pem = cert_to_pem(cert)
    conn.execute(
        insert(schema.certificates).values(
            serial=serial_hex(cert),
            node_id=identity.node_id,
            fingerprint=fingerprint(cert),
            not_before_us=to_us(cert.not_valid_before_utc),
            not_after_us=to_us(cert.not_valid_after_utc),
            issued_at_us=to_us(now),
            revoked_at_us=None,
            pem=pem.decode(),
        )
    )
    return Certificate(pem, cert.not_valid_after_utc, serial_hex(cert))


def revoke_credentials(conn: Connection, node_id: str, now: datetime) -> None:
    """A node exits: its certificates are revoked and its unused tokens spent."""
    conn.execute(
        update(schema.certificates)
        .where(schema.certificates.c.node_id == node_id)
        .where(schema.certificates.c.revoked_at_us.is_(None))
        .values(revoked_at_us=to_us(now))
    )
    conn.execute(
        update(schema.enrollment_tokens)
        .where(schema.enrollment_tokens.c.node_id == node_id)
        .where(schema.enrollment_tokens.c.used_at_us.is_(None))
        .values(used_at_us=to_us(now))
    )
