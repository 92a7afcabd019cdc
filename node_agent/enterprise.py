"""The enterprise's side of authorization, and the platform calls that carry it.

The enterprise's private key never leaves the machine it is on: grants, revocations,
self-query statements and key rotations are signed here, over the canonical bytes
documented in ``authz.grants``, and a city platform submits them to the gateway.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from authz.catalog import Purpose
from authz.enterprise_statements import (
    KeyRotation,
    public_key_sha256,
)
from authz.grants import (
    Grant,
    Revocation,
)
from node_agent.client import RPC_TIMEOUT_S, ServiceClient
from xinlian.pki import write_public, write_secret
from xinlian.signing import SignerKey, load_public_key, sign
from xinlian.v1 import authorization_pb2 as pb
from xinlian.v1 import authorization_pb2_grpc
from xinlian.wire import grant_to_wire, ts

DEFAULT_GRANT_DAYS = 365


# -- keys ------------------------------------------------------------------------------


def public_path(private_path: Path) -> Path:
    """Where keygen puts the public key: KEY.pem → KEY.pub.pem."""
    return private_path.with_name(private_path.stem + ".pub.pem")


def generate_key(out: Path) -> Path:
    """A new Ed25519 key: the private key at ``out`` (mode 0600, refused if it exists),
    the public key beside it. Returns the public key's path."""
    if out.exists():
        raise FileExistsError(f"{out} exists; refusing to overwrite a key")
    key = ed25519.Ed25519PrivateKey.generate()
    write_secret(
        out,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    pub = public_path(out)
    write_public(pub, public_pem(key))
    return pub


def load_signing_key(path: Path) -> SignerKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise ValueError(f"{path}: expected an Ed25519 or ECDSA P-256 private key")


def public_pem(key: SignerKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# -- statements ------------------------------------------------------------------------


def new_grant_id() -> str:
    return "g-" + secrets.token_hex(8)


def make_grant(
    *,
    credit_code: str,
    grantee_node_id: str,
    categories: Iterable[str] = (),
    fields: Iterable[str] = (),
    purpose: Purpose = Purpose.FINANCING,
    days: int = DEFAULT_GRANT_DAYS,
    max_uses: int | None = None,
    now: datetime | None = None,
    not_before: datetime | None = None,
    grant_id: str | None = None,
) -> Grant:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    start = not_before or now
    return Grant(
        grant_id=grant_id or new_grant_id(),
        credit_code=credit_code,
        grantee_node_id=grantee_node_id,
        categories=frozenset(categories),
        fields=frozenset(fields),
        purpose=purpose,
        not_before=start,
        not_after=start + timedelta(days=days),
        max_uses=max_uses,
        issued_at=now,
    )


def sign_grant(key: SignerKey, grant: Grant) -> bytes:
    """The enterprise signs the grant's canonical bytes."""
    return sign(key, grant.canonical_bytes())


@dataclass(frozen=True)
class SignedRevocation:
    revocation: Revocation
    signature: bytes


def sign_revocation(
    key: SignerKey, grant_id: str, credit_code: str, reason: str = "", now: datetime | None = None
) -> SignedRevocation:
    revocation = Revocation(grant_id, credit_code, now or datetime.now(UTC), reason)
    return SignedRevocation(revocation, sign(key, revocation.canonical_bytes()))


def sign_rotation(
    old_key: SignerKey, credit_code: str, new_public_pem: bytes, now: datetime | None = None
) -> tuple[KeyRotation, bytes]:
    rotation = KeyRotation(
        credit_code, public_key_sha256(load_public_key(new_public_pem)), now or datetime.now(UTC)
    )
    return rotation, sign(old_key, rotation.canonical_bytes())


# -- calls by a city platform (or an administrator, for revocation and listing) ---------


class AuthzClient(ServiceClient):
    """AuthorizationService over the node's mTLS channel."""

    STUB = authorization_pb2_grpc.AuthorizationServiceStub

    def register(
        self,
        credit_code: str,
        name: str,
        public_key_pem: str,
        method: str,
        evidence_ref: str = "",
        verified_at: datetime | None = None,
    ) -> pb.Enterprise:
        response: pb.RegisterEnterpriseResponse = self.stub.RegisterEnterprise(
            pb.RegisterEnterpriseRequest(
                credit_code=credit_code,
                name=name,
                public_key_pem=public_key_pem,
                attestation=pb.IdentityAttestation(
                    method=method,
                    evidence_ref=evidence_ref,
                    verified_at=ts(verified_at or datetime.now(UTC)),
                ),
            ),
            timeout=RPC_TIMEOUT_S,
        )
        return response.enterprise

    def rotate(self, credit_code: str, old_key: SignerKey, new_public_pem: bytes) -> pb.Enterprise:
        rotation, signature = sign_rotation(old_key, credit_code, new_public_pem)
        response: pb.RotateEnterpriseKeyResponse = self.stub.RotateEnterpriseKey(
            pb.RotateEnterpriseKeyRequest(
                credit_code=credit_code,
                new_public_key_pem=new_public_pem.decode("ascii"),
                issued_at=ts(rotation.issued_at),
                signature=signature,
            ),
            timeout=RPC_TIMEOUT_S,
        )
        return response.enterprise

    def letter(self, grant: Grant) -> pb.RenderAuthorizationLetterResponse:
        response: pb.RenderAuthorizationLetterResponse = self.stub.RenderAuthorizationLetter(
            pb.RenderAuthorizationLetterRequest(grant=grant_to_wire(grant)), timeout=RPC_TIMEOUT_S
        )
        return response

    def submit(self, grant: Grant, signature: bytes) -> pb.SubmitGrantResponse:
        response: pb.SubmitGrantResponse = self.stub.SubmitGrant(
            pb.SubmitGrantRequest(grant=grant_to_wire(grant), signature=signature),
            timeout=RPC_TIMEOUT_S,
        )
        return response

    def revoke_signed(self, signed: SignedRevocation) -> pb.GrantView:
        revocation = signed.revocation
        response: pb.RevokeGrantResponse = self.stub.RevokeGrant(
            pb.RevokeGrantRequest(
                grant_id=revocation.grant_id,
                revoked_at=ts(revocation.revoked_at),
                reason=revocation.reason,
                signature=signed.signature,
            ),
            timeout=RPC_TIMEOUT_S,
        )
        return response.grant

    def revoke_as_admin(self, grant_id: str, reason: str) -> pb.GrantView:
        response: pb.RevokeGrantResponse = self.stub.RevokeGrant(
            pb.RevokeGrantRequest(grant_id=grant_id, reason=reason), timeout=RPC_TIMEOUT_S
        )
        return response.grant

    def list(
        self, credit_code: str = "", grantee_node_id: str = "", include_inactive: bool = True
    ) -> list[pb.GrantView]:
        response: pb.ListGrantsResponse = self.stub.ListGrants(
            pb.ListGrantsRequest(
                credit_code=credit_code,
                grantee_node_id=grantee_node_id,
                include_inactive=include_inactive,
            ),
            timeout=RPC_TIMEOUT_S,
        )
        return list(response.grants)

    def find_credit_code(self, grant_id: str) -> str:
        for view in self.list(include_inactive=True):
            if view.grant.grant_id == grant_id:
                return str(view.grant.credit_code)
        raise LookupError(f"grant {grant_id} not found; pass --credit-code")
