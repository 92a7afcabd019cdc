"""Enterprise grants (授权), revocations, self-query statements and key rotations.

Every statement an enterprise signs has one documented canonical encoding, produced by
``xinlian.signing.canonical_json`` over a JSON object with a format version ``"v": 1`` and a
``"type"``; lists are sorted, times are RFC 3339 in UTC with a ``Z`` suffix and whole
seconds (``2026-01-05T09:00:00Z``), absent optional values are ``null``::

    grant       {"v":1,"type":"grant","grant_id","credit_code","grantee_node_id",
                 "categories":[...],"fields":["category.field",...],"purpose",
                 "not_before","not_after","max_uses":int|null,"issued_at"}
    revoke      {"v":1,"type":"revoke","grant_id","credit_code","revoked_at","reason"}
    self_query  {"v":1,"type":"self_query","credit_code","platform_node_id","nonce",
                 "issued_at"}
    key_rotation {"v":1,"type":"key_rotation","credit_code","new_public_key_sha256",
                 "issued_at"}

``from_canonical`` parses strictly and accepts only bytes that re-encode to themselves,
so one statement has exactly one byte form and a signature binds to exactly one meaning.
Times given with sub-second precision are truncated to whole seconds on construction, so
the object always equals what its canonical bytes say.

The credit code is checked for form here (18 characters of the GB 32100 alphabet); the
check character is verified at the edge by ``authz.credit_code``.

Validity is the half-open interval ``not_before <= now < not_after``. A revocation takes
effect on the next decision, whatever its ``revoked_at`` says.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives import serialization

from authz.catalog import Catalog, Purpose
from xinlian.errors import AccessDenied, InvalidArgument
from xinlian.signing import VerifierKey, canonical_json, verify

# -- limits (named so that reviews and error messages can point at them) ---------------

FORMAT_VERSION = 1
MAX_CANONICAL_BYTES = 32 * 1024
MAX_GRANT_VALIDITY = timedelta(days=1096)  # three years, one leap day included
MAX_GRANT_CATEGORIES = 32
MAX_GRANT_FIELDS = 128
MAX_GRANT_USES = 100_000
MAX_REASON_CHARS = 500
SELF_QUERY_MAX_AGE = timedelta(minutes=5)
MAX_CLOCK_SKEW = timedelta(seconds=30)  # how far in the future an issued_at may be
SELF_QUERY_MAX_CLOCK_SKEW = MAX_CLOCK_SKEW

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_RE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_GRANT_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_NODE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_CATEGORY_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_FIELD_REF_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]{0,63})\.([A-Za-z0-9][A-Za-z0-9_-]{0,63})")
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SHA256_HEX_RE = re.compile(r"[0-9a-f]{64}")
_TIME_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")

# reason codes of the AccessDenied errors raised here (decision codes live in decision.py)
SELF_QUERY_STALE = "SELF_QUERY_STALE"
SELF_QUERY_FROM_FUTURE = "SELF_QUERY_FROM_FUTURE"
SELF_QUERY_PLATFORM_MISMATCH = "SELF_QUERY_PLATFORM_MISMATCH"
SELF_QUERY_ENTERPRISE_MISMATCH = "SELF_QUERY_ENTERPRISE_MISMATCH"


# -- small validators ------------------------------------------------------------------


def format_time(when: datetime) -> str:
    """RFC 3339, UTC, ``Z`` suffix, whole seconds."""
    u = when.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def parse_time(text: str, *, field_name: str) -> datetime:
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise InvalidArgument.field(field_name, text, "RFC 3339 UTC time like 2026-01-05T09:00:00Z")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise InvalidArgument.field(field_name, text, "a valid calendar time") from None


def _normalize_time(when: object, field_name: str) -> datetime:
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise InvalidArgument.field(field_name, when, "a timezone-aware datetime")
    return when.astimezone(UTC).replace(microsecond=0)


def _require_aware(when: datetime, field_name: str) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidArgument.field(field_name, when, "a timezone-aware datetime")


def _check_pattern(value: object, pattern: re.Pattern[str], field_name: str, want: str) -> None:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise InvalidArgument.field(field_name, value, want)


def check_credit_code_form(value: object, *, field_name: str = "credit_code") -> None:
    _check_pattern(value, _CREDIT_CODE_RE, field_name, "18 characters of " + CREDIT_CODE_ALPHABET)


def check_node_id(value: object, *, field_name: str = "node_id") -> None:
    _check_pattern(value, _NODE_ID_RE, field_name, "1-128 characters [A-Za-z0-9._:@-]")


def _check_text(value: object, field_name: str, *, max_chars: int) -> None:
    if not isinstance(value, str) or len(value) > max_chars or _CONTROL_RE.search(value):
        raise InvalidArgument.field(
            field_name, value, f"text of at most {max_chars} characters, no control characters"
        )


def split_field_ref(ref: str) -> tuple[str, str]:
    """Split ``"category.field"`` into its two parts (the form is checked on grants)."""
    category, _, name = ref.partition(".")
    return category, name


# -- strict parsing of canonical bytes --------------------------------------------------


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_number(text: str) -> Any:
    raise ValueError(f"non-integer number {text!r}")


def _parse_canonical(data: bytes, *, what: str, kind: str, keys: Iterable[str]) -> dict[str, Any]:
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_CANONICAL_BYTES:
        size = len(data) if isinstance(data, bytes | bytearray) else type(data).__name__
        raise InvalidArgument.field(what, size, f"canonical JSON bytes ≤ {MAX_CANONICAL_BYTES}")
    try:
        obj = json.loads(
            bytes(data).decode("utf-8"),
            object_pairs_hook=_reject_duplicates,
            parse_float=_reject_number,
            parse_constant=_reject_number,
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidArgument.field(what, "unparseable bytes", "canonical JSON") from None
    if not isinstance(obj, dict):
        raise InvalidArgument.field(what, type(obj).__name__, "a JSON object")
    want_keys = {"v", "type", *keys}
    if set(obj) != want_keys:
        raise InvalidArgument.field(what, sorted(obj), "keys " + ", ".join(sorted(want_keys)))
    if obj["v"] != FORMAT_VERSION or isinstance(obj["v"], bool):
        raise InvalidArgument.field(f"{what}.v", obj["v"], str(FORMAT_VERSION))
    if obj["type"] != kind:
        raise InvalidArgument.field(f"{what}.type", obj["type"], repr(kind))
    return obj


def _require_canonical(data: bytes, encoded: bytes, what: str) -> None:
    if bytes(data) != encoded:
        raise InvalidArgument.field(
            what, "non-canonical encoding", "canonical JSON (see grants.py)"
        )


def _str(obj: Mapping[str, Any], key: str, what: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise InvalidArgument.field(f"{what}.{key}", value, "a string")
    return value


def _str_list(obj: Mapping[str, Any], key: str, what: str) -> list[str]:
    value = obj[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument.field(f"{what}.{key}", value, "a list of strings")
    return value


# -- grant -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """What an enterprise authorized: who, which data, for what, and for how long."""

    grant_id: str
    credit_code: str
    grantee_node_id: str
    categories: frozenset[str]
    fields: frozenset[str]  # each "category.field"
    purpose: Purpose
    not_before: datetime
    not_after: datetime
    max_uses: int | None
    issued_at: datetime

    def __post_init__(self) -> None:
        # (1) identifiers
        _check_pattern(
            self.grant_id, _GRANT_ID_RE, "grant.grant_id", "1-64 characters [A-Za-z0-9_-]"
        )
        check_credit_code_form(self.credit_code, field_name="grant.credit_code")
        check_node_id(self.grantee_node_id, field_name="grant.grantee_node_id")
        # (2) scope: categories and single fields, bounded counts, at least one
        categories = frozenset(self.categories)
        fields = frozenset(self.fields)
        object.__setattr__(self, "categories", categories)
        object.__setattr__(self, "fields", fields)
        if len(categories) > MAX_GRANT_CATEGORIES:
            raise InvalidArgument.field(
                "grant.categories", len(categories), f"at most {MAX_GRANT_CATEGORIES}"
            )
        if len(fields) > MAX_GRANT_FIELDS:
            raise InvalidArgument.field("grant.fields", len(fields), f"at most {MAX_GRANT_FIELDS}")
        if not categories and not fields:
            raise InvalidArgument.field("grant.categories", [], "at least one category or field")
        for category in sorted(categories, key=str):
            _check_pattern(
                category, _CATEGORY_ID_RE, "grant.categories", "category ids [A-Za-z0-9_-]"
            )
        for ref in sorted(fields, key=str):
            _check_pattern(ref, _FIELD_REF_RE, "grant.fields", '"category.field" references')
        # (3) purpose from the closed list
        if not isinstance(self.purpose, Purpose):
            raise InvalidArgument.field("grant.purpose", self.purpose, "a Purpose")
        # (4) times: aware, whole seconds, ordered, bounded validity
        for name in ("not_before", "not_after", "issued_at"):
            object.__setattr__(self, name, _normalize_time(getattr(self, name), f"grant.{name}"))
        if self.not_after <= self.not_before:
            raise InvalidArgument.field(
                "grant.not_after", format_time(self.not_after), "later than not_before"
            )
        if self.not_after - self.not_before > MAX_GRANT_VALIDITY:
            raise InvalidArgument.field(
                "grant.not_after",
                format_time(self.not_after),
                f"at most {MAX_GRANT_VALIDITY.days} days after not_before",
            )
        if self.issued_at >= self.not_after:
            raise InvalidArgument.field(
                "grant.issued_at", format_time(self.issued_at), "earlier than not_after"
            )
        # (5) optional use limit
        if self.max_uses is not None and (
            not isinstance(self.max_uses, int)
            or isinstance(self.max_uses, bool)
            or not 1 <= self.max_uses <= MAX_GRANT_USES
        ):
            raise InvalidArgument.field(
                "grant.max_uses", self.max_uses, f"null or an integer 1..{MAX_GRANT_USES}"
            )

    # The keys of the canonical object, besides "v" and "type".
    _KEYS = (
        "grant_id",
        "credit_code",
        "grantee_node_id",
        "categories",
        "fields",
        "purpose",
        "not_before",
        "not_after",
        "max_uses",
        "issued_at",
    )

    def to_canonical_dict(self) -> dict[str, Any]:
        return {
            "v": FORMAT_VERSION,
            "type": "grant",
            "grant_id": self.grant_id,
            "credit_code": self.credit_code,
            "grantee_node_id": self.grantee_node_id,
            "categories": sorted(self.categories),
            "fields": sorted(self.fields),
            "purpose": self.purpose.value,
            "not_before": format_time(self.not_before),
            "not_after": format_time(self.not_after),
            "max_uses": self.max_uses,
            "issued_at": format_time(self.issued_at),
        }

    def canonical_bytes(self) -> bytes:
        """The exact bytes the enterprise signs."""
        return canonical_json(self.to_canonical_dict())

    def fingerprint(self) -> str:
        """SHA-256 of the canonical bytes, lowercase hex (printed on the 授权书)."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @classmethod
    def from_canonical(cls, data: bytes) -> Grant:
        obj = _parse_canonical(data, what="grant", kind="grant", keys=cls._KEYS)
        max_uses = obj["max_uses"]
        if max_uses is not None and (not isinstance(max_uses, int) or isinstance(max_uses, bool)):
            raise InvalidArgument.field("grant.max_uses", max_uses, "null or an integer")
        grant = cls(
            grant_id=_str(obj, "grant_id", "grant"),
            credit_code=_str(obj, "credit_code", "grant"),
            grantee_node_id=_str(obj, "grantee_node_id", "grant"),
            categories=frozenset(_str_list(obj, "categories", "grant")),
            fields=frozenset(_str_list(obj, "fields", "grant")),
            purpose=Purpose.parse(_str(obj, "purpose", "grant"), field_name="grant.purpose"),
            not_before=parse_time(_str(obj, "not_before", "grant"), field_name="grant.not_before"),
            not_after=parse_time(_str(obj, "not_after", "grant"), field_name="grant.not_after"),
            max_uses=max_uses,
            issued_at=parse_time(_str(obj, "issued_at", "grant"), field_name="grant.issued_at"),
        )
        _require_canonical(data, grant.canonical_bytes(), "grant")
        return grant

    def covers_category(self, category_id: str) -> bool:
        """True if the grant names the category or at least one of its fields."""
        return category_id in self.categories or any(
            split_field_ref(ref)[0] == category_id for ref in self.fields
        )

    def covered_fields(self, category_id: str, field_names: Iterable[str]) -> frozenset[str]:
        """Which of ``field_names`` (of ``category_id``) the grant covers."""
        names = frozenset(field_names)
        if category_id in self.categories:
            return names
        return frozenset(
            name
            for cat, name in (split_field_ref(ref) for ref in self.fields)
            if cat == category_id and name in names
        )


def verify_grant_signature(
    grant: Grant, signature: bytes, enterprise_public_key: VerifierKey
) -> None:
    """Raise PermissionDenied(reason=BAD_SIGNATURE) unless the enterprise signed this grant."""
    verify(
        enterprise_public_key, grant.canonical_bytes(), signature, what=f"grant {grant.grant_id}"
    )


def verify_signed_grant(data: bytes, signature: bytes, enterprise_public_key: VerifierKey) -> Grant:
    """The submission path: verify the signature over the bytes as received, then parse.

    Any byte changed after signing fails here, either at the signature or at the
    canonical-form check.
    """
    if len(data) > MAX_CANONICAL_BYTES:
        raise InvalidArgument.field("grant", len(data), f"at most {MAX_CANONICAL_BYTES} bytes")
    verify(enterprise_public_key, bytes(data), signature, what="grant")
    return Grant.from_canonical(data)


def check_grant_against_catalog(grant: Grant, catalog: Catalog) -> None:
    """Every category and field the grant names exists and allows the grant's purpose."""
    named: set[str] = set(grant.categories)
    for ref in sorted(grant.fields):
        category_id, name = split_field_ref(ref)
        category = catalog.require(category_id, field_name="grant.fields")
        if category.field(name) is None:
            raise InvalidArgument.field("grant.fields", ref, f"a field of category {category_id}")
        named.add(category_id)
    for category_id in sorted(named):
        category = catalog.require(category_id, field_name="grant.categories")
        if grant.purpose not in category.purposes:
            raise InvalidArgument.field(
                "grant.purpose",
                grant.purpose.value,
                f"one of {', '.join(p.value for p in category.purposes)} for {category_id}",
            )


def check_new_grant(grant: Grant, now: datetime) -> None:
    """At submission: not issued in the future (beyond skew) and not already expired."""
    _require_aware(now, "now")
    if grant.issued_at > now + MAX_CLOCK_SKEW:
        raise InvalidArgument.field(
            "grant.issued_at", format_time(grant.issued_at), "not later than the gateway clock"
        )
    if grant.not_after <= now:
        raise InvalidArgument.field(
            "grant.not_after", format_time(grant.not_after), "later than the gateway clock"
        )


# -- grant state -----------------------------------------------------------------------


class GrantStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    USED_UP = "used_up"


@dataclass(frozen=True)
class GrantState:
    """A grant as the gateway holds it: revocation and the number of uses so far."""

    grant: Grant
    revoked_at: datetime | None = None
    revoke_reason: str = ""
    uses: int = 0

    def __post_init__(self) -> None:
        if self.revoked_at is not None:
            object.__setattr__(
                self, "revoked_at", _normalize_time(self.revoked_at, "grant_state.revoked_at")
            )
        if isinstance(self.uses, bool) or not isinstance(self.uses, int) or self.uses < 0:
            raise InvalidArgument.field("grant_state.uses", self.uses, "an integer ≥ 0")

    def status_at(self, now: datetime) -> GrantStatus:
        """Precedence: revoked, expired, not yet valid, used up, active."""
        _require_aware(now, "now")
        if self.revoked_at is not None:
            return GrantStatus.REVOKED
        if now >= self.grant.not_after:
            return GrantStatus.EXPIRED
        if now < self.grant.not_before:
            return GrantStatus.NOT_YET_VALID
        if self.grant.max_uses is not None and self.uses >= self.grant.max_uses:
            return GrantStatus.USED_UP
        return GrantStatus.ACTIVE

    @property
    def uses_left(self) -> int | None:
        if self.grant.max_uses is None:
            return None
        return max(0, self.grant.max_uses - self.uses)

    def used(self) -> GrantState:
        return replace(self, uses=self.uses + 1)

    def revoked(self, revocation: Revocation) -> GrantState:
        """Apply a verified revocation; revoking twice keeps the first."""
        if (revocation.grant_id, revocation.credit_code) != (
            self.grant.grant_id,
            self.grant.credit_code,
        ):
            raise InvalidArgument.field(
                "revocation.grant_id", revocation.grant_id, f"grant {self.grant.grant_id}"
            )
        if self.revoked_at is not None:
            return self
        return replace(self, revoked_at=revocation.revoked_at, revoke_reason=revocation.reason)

    def revoked_by_admin(self, at: datetime, admin_id: str, reason: str) -> GrantState:
        """An administrator's revocation: the reason is required and recorded."""
        check_node_id(admin_id, field_name="revocation.admin_id")
        _check_text(reason, "revocation.reason", max_chars=MAX_REASON_CHARS)
        if not reason.strip():
            raise InvalidArgument.field("revocation.reason", reason, "a non-empty reason")
        if self.revoked_at is not None:
            return self
        return replace(self, revoked_at=at, revoke_reason=f"admin {admin_id}: {reason}")


# -- revocation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Revocation:
    """The enterprise's signed withdrawal of one grant."""

    grant_id: str
    credit_code: str
    revoked_at: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        _check_pattern(
            self.grant_id, _GRANT_ID_RE, "revocation.grant_id", "1-64 characters [A-Za-z0-9_-]"
        )
        check_credit_code_form(self.credit_code, field_name="revocation.credit_code")
        object.__setattr__(
            self, "revoked_at", _normalize_time(self.revoked_at, "revocation.revoked_at")
        )
        _check_text(self.reason, "revocation.reason", max_chars=MAX_REASON_CHARS)

    def canonical_bytes(self) -> bytes:
        return canonical_json(
            {
                "v": FORMAT_VERSION,
                "type": "revoke",
                "grant_id": self.grant_id,
                "credit_code": self.credit_code,
                "revoked_at": format_time(self.revoked_at),
                "reason": self.reason,
            }
        )

    @classmethod
    def from_canonical(cls, data: bytes) -> Revocation:
        keys = ("grant_id", "credit_code", "revoked_at", "reason")
        obj = _parse_canonical(data, what="revocation", kind="revoke", keys=keys)
        revocation = cls(
            grant_id=_str(obj, "grant_id", "revocation"),
            credit_code=_str(obj, "credit_code", "revocation"),
            revoked_at=parse_time(
                _str(obj, "revoked_at", "revocation"), field_name="revocation.revoked_at"
            ),
            reason=_str(obj, "reason", "revocation"),
        )
        _require_canonical(data, revocation.canonical_bytes(), "revocation")
        return revocation


def verify_revocation(
    revocation: Revocation,
    signature: bytes,
    enterprise_public_key: VerifierKey,
    *,
    grant: Grant,
) -> None:
    """The revocation names this grant and its enterprise, and the enterprise signed it."""
    # (1) it is about this grant of this enterprise
    if revocation.grant_id != grant.grant_id:
        raise InvalidArgument.field("revocation.grant_id", revocation.grant_id, grant.grant_id)
    if revocation.credit_code != grant.credit_code:
        raise InvalidArgument.field(
            "revocation.credit_code", revocation.credit_code, grant.credit_code
        )
    # (2) the enterprise signed exactly these bytes
    verify(
        enterprise_public_key,
        revocation.canonical_bytes(),
        signature,
        what=f"revocation of grant {grant.grant_id}",
    )


# -- self query ------------------------------------------------------------------------


@dataclass(frozen=True)
class SelfQuery:
    """The enterprise's signed request to see its own data through a platform.

    The nonce must be remembered by the caller for ``SELF_QUERY_MAX_AGE`` plus
    ``SELF_QUERY_MAX_CLOCK_SKEW`` to refuse replays within the freshness window.
    """

    credit_code: str
    platform_node_id: str
    nonce: str
    issued_at: datetime

    def __post_init__(self) -> None:
        check_credit_code_form(self.credit_code, field_name="self_query.credit_code")
        check_node_id(self.platform_node_id, field_name="self_query.platform_node_id")
        _check_pattern(self.nonce, _NONCE_RE, "self_query.nonce", "16-64 characters [A-Za-z0-9_-]")
        object.__setattr__(
            self, "issued_at", _normalize_time(self.issued_at, "self_query.issued_at")
        )

    def canonical_bytes(self) -> bytes:
        return canonical_json(
            {
                "v": FORMAT_VERSION,
                "type": "self_query",
                "credit_code": self.credit_code,
                "platform_node_id": self.platform_node_id,
                "nonce": self.nonce,
                "issued_at": format_time(self.issued_at),
            }
        )

    @classmethod
    def from_canonical(cls, data: bytes) -> SelfQuery:
        keys = ("credit_code", "platform_node_id", "nonce", "issued_at")
        obj = _parse_canonical(data, what="self_query", kind="self_query", keys=keys)
        statement = cls(
            credit_code=_str(obj, "credit_code", "self_query"),
            platform_node_id=_str(obj, "platform_node_id", "self_query"),
            nonce=_str(obj, "nonce", "self_query"),
            issued_at=parse_time(
                _str(obj, "issued_at", "self_query"), field_name="self_query.issued_at"
            ),
        )
        _require_canonical(data, statement.canonical_bytes(), "self_query")
        return statement


def check_self_query_fresh(statement: SelfQuery, now: datetime) -> None:
    """Refuse a statement older than SELF_QUERY_MAX_AGE or from beyond the clock skew."""
    _require_aware(now, "now")
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
    verify(enterprise_public_key, statement.canonical_bytes(), signature, what="self query")


# -- key rotation ----------------------------------------------------------------------


def public_key_sha256(key: VerifierKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class KeyRotation:
    """The enterprise's statement, signed with its current key, naming its next key."""

    credit_code: str
    new_public_key_sha256: str
    issued_at: datetime

    def __post_init__(self) -> None:
        check_credit_code_form(self.credit_code, field_name="key_rotation.credit_code")
        _check_pattern(
            self.new_public_key_sha256,
            _SHA256_HEX_RE,
            "key_rotation.new_public_key_sha256",
            "64 lowercase hex digits",
        )
        object.__setattr__(
            self, "issued_at", _normalize_time(self.issued_at, "key_rotation.issued_at")
        )

    def canonical_bytes(self) -> bytes:
        return canonical_json(
            {
                "v": FORMAT_VERSION,
                "type": "key_rotation",
                "credit_code": self.credit_code,
                "new_public_key_sha256": self.new_public_key_sha256,
                "issued_at": format_time(self.issued_at),
            }
        )

    @classmethod
    def from_canonical(cls, data: bytes) -> KeyRotation:
        keys = ("credit_code", "new_public_key_sha256", "issued_at")
        obj = _parse_canonical(data, what="key_rotation", kind="key_rotation", keys=keys)
        statement = cls(
            credit_code=_str(obj, "credit_code", "key_rotation"),
            new_public_key_sha256=_str(obj, "new_public_key_sha256", "key_rotation"),
            issued_at=parse_time(
                _str(obj, "issued_at", "key_rotation"), field_name="key_rotation.issued_at"
            ),
        )
        _require_canonical(data, statement.canonical_bytes(), "key_rotation")
        return statement


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
    verify(old_public_key, rotation.canonical_bytes(), signature, what="key rotation")
