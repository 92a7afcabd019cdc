"""Statements an enterprise signs about itself: self queries and key rotations.

The canonical encodings (their common form is in ``authz.statements``)::

    self_query   {"v":1,"type":"self_query","credit_code","platform_node_id","nonce",
                  "issued_at"}
    key_rotation {"v":1,"type":"key_rotation","credit_code","new_public_key_sha256",
                  "issued_at"}
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from cryptography.hazmat.primitives import serialization

from authz.statements import (
    MAX_CLOCK_SKEW,
    NONCE_RE,
    SHA256_HEX_RE,
    SignedStatement,
    check_credit_code_form,
    check_node_id,
    check_pattern,
    format_time,
    normalize_time,
    require_aware,
)
from xinlian.errors import AccessDenied, InvalidArgument
from xinlian.signing import VerifierKey

SELF_QUERY_MAX_AGE = timedelta(minutes=5)
SELF_QUERY_MAX_CLOCK_SKEW = MAX_CLOCK_SKEW

# reason codes of the AccessDenied errors raised here (decision codes live in decision.py)
SELF_QUERY_STALE = "SELF_QUERY_STALE"
SELF_QUERY_FROM_FUTURE = "SELF_QUERY_FROM_FUTURE"
SELF_QUERY_PLATFORM_MISMATCH = "SELF_QUERY_PLATFORM_MISMATCH"
SELF_QUERY_ENTERPRISE_MISMATCH = "SELF_QUERY_ENTERPRISE_MISMATCH"


# -- self query ------------------------------------------------------------------------


@dataclass(frozen=True)
class SelfQuery(SignedStatement):
    """The enterprise's signed request to see its own data through a platform.

    The nonce must be remembered by the caller for ``SELF_QUERY_MAX_AGE`` plus
    ``SELF_QUERY_MAX_CLOCK_SKEW`` to refuse replays within the freshness window.
    """

    KIND: ClassVar[str] = "self_query"
    WHAT: ClassVar[str] = "self_query"
    KEYS: ClassVar[tuple[str, ...]] = ("credit_code", "platform_node_id", "nonce", "issued_at")

    credit_code: str
    platform_node_id: str
    nonce: str
    issued_at: datetime

    def __post_init__(self) -> None:
        check_credit_code_form(self.credit_code, field_name="self_query.credit_code")
        check_node_id(self.platform_node_id, field_name="self_query.platform_node_id")
        check_pattern(self.nonce, NONCE_RE, "self_query.nonce", "16-64 characters [A-Za-z0-9_-]")
        object.__setattr__(
            self, "issued_at", normalize_time(self.issued_at, "self_query.issued_at")
        )

    def _body(self) -> dict[str, Any]:
        return {
            "credit_code": self.credit_code,
            "platform_node_id": self.platform_node_id,
            "nonce": self.nonce,
            "issued_at": format_time(self.issued_at),
        }

    @classmethod
    def _from_body(cls, obj: Mapping[str, Any]) -> SelfQuery:
        return cls(
            credit_code=cls._str(obj, "credit_code"),
            platform_node_id=cls._str(obj, "platform_node_id"),
            nonce=cls._str(obj, "nonce"),
            issued_at=cls._time(obj, "issued_at"),
        )


def check_self_query_fresh(statement: SelfQuery, now: datetime) -> None:
    """Refuse a statement older than SELF_QUERY_MAX_AGE or from beyond the clock skew."""
    require_aware(now, "now")
    if statement.issued_at > now + SELF_QUERY_MAX_CLOCK_SKEW:
        raise AccessDenied(
            f"self query issued at {format_time(statement.issued_at)}, after the gateway clock",
            reason=SELF_QUERY_FROM_FUTURE,
        )
    if now - statement.issued_at > SELF_QUERY_MAX_AGE:
        raise AccessDenied(
            f"self query issued at {format_time(statement.issued_at)} is older than "
            f"{int(SELF_QUERY_MAX_AGE.total_seconds())} s",
            reason=SELF_QUERY_STALE,
        )


def verify_self_query(
    statement: SelfQuery,
    signature: bytes,
    enterprise_public_key: VerifierKey,
    *,
    now: datetime,
    caller_node_id: str,
    credit_code: str,
) -> None:
    """Check a self query before ``decide(..., self_query=True)`` may be called."""
    # (1) it is about the enterprise asked for
    if statement.credit_code != credit_code:
        raise AccessDenied(
            "self query statement names another enterprise", reason=SELF_QUERY_ENTERPRISE_MISMATCH
        )
    # (2) it was given to the calling platform
    if statement.platform_node_id != caller_node_id:
        raise AccessDenied(
            "self query statement was given to another platform",
            reason=SELF_QUERY_PLATFORM_MISMATCH,
        )
    # (3) it is fresh
    check_self_query_fresh(statement, now)
    # (4) the enterprise signed it
    statement.verify_signature(signature, enterprise_public_key, what="self query")


# -- key rotation ----------------------------------------------------------------------


def public_key_sha256(key: VerifierKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class KeyRotation(SignedStatement):
    """The enterprise's statement, signed with its current key, naming its next key."""

    KIND: ClassVar[str] = "key_rotation"
    WHAT: ClassVar[str] = "key_rotation"
    KEYS: ClassVar[tuple[str, ...]] = ("credit_code", "new_public_key_sha256", "issued_at")

    credit_code: str
    new_public_key_sha256: str
    issued_at: datetime

    def __post_init__(self) -> None:
        check_credit_code_form(self.credit_code, field_name="key_rotation.credit_code")
        check_pattern(
            self.new_public_key_sha256,
            SHA256_HEX_RE,
            "key_rotation.new_public_key_sha256",
            "64 lowercase hex digits",
        )
        object.__setattr__(
            self, "issued_at", normalize_time(self.issued_at, "key_rotation.issued_at")
        )

    def _body(self) -> dict[str, Any]:
        return {
            "credit_code": self.credit_code,
            "new_public_key_sha256": self.new_public_key_sha256,
            "issued_at": format_time(self.issued_at),
        }

    @classmethod
    def _from_body(cls, obj: Mapping[str, Any]) -> KeyRotation:
        return cls(
            credit_code=cls._str(obj, "credit_code"),
            new_public_key_sha256=cls._str(obj, "new_public_key_sha256"),
            issued_at=cls._time(obj, "issued_at"),
        )


def verify_key_rotation(
    rotation: KeyRotation,
    signature: bytes,
    old_public_key: VerifierKey,
    new_public_key: VerifierKey,
) -> None:
    """The old key signed the rotation, and the new key is the one it names."""
    # (1) the new key is the one named
    if public_key_sha256(new_public_key) != rotation.new_public_key_sha256:
        raise InvalidArgument.field(
            "key_rotation.new_public_key_sha256",
            rotation.new_public_key_sha256,
            "the SHA-256 of the new key's DER SubjectPublicKeyInfo",
        )
    # (2) the current key signed it
    rotation.verify_signature(signature, old_public_key, what="key rotation")
