"""Enterprise grants (授权) and their revocations, and the state the gateway keeps of them.

The canonical encodings (their common form is in ``authz.statements``)::

    grant       {"v":1,"type":"grant","grant_id","credit_code","grantee_node_id",
                 "categories":[...],"fields":["category.field",...],"purpose",
                 "not_before","not_after","max_uses":int|null,"issued_at"}
    revoke      {"v":1,"type":"revoke","grant_id","credit_code","revoked_at","reason"}

Validity is the half-open interval ``not_before <= now < not_after``. A revocation takes
effect on the next decision, whatever its ``revoked_at`` says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from authz.catalog import Catalog, Purpose
from authz.statements import (
    CATEGORY_ID_RE,
    FIELD_REF_RE,
    GRANT_ID_RE,
    MAX_CANONICAL_BYTES,
    MAX_CLOCK_SKEW,
    MAX_REASON_CHARS,
    SignedStatement,
    check_credit_code_form,
    check_node_id,
    check_pattern,
    check_text,
    format_time,
    normalize_time,
    require_aware,
    split_field_ref,
)
from xinlian.errors import InvalidArgument
from xinlian.signing import VerifierKey, verify

MAX_GRANT_VALIDITY = timedelta(days=1096)  # three years, one leap day included
MAX_GRANT_CATEGORIES = 32
MAX_GRANT_FIELDS = 128
MAX_GRANT_USES = 100_000


# -- grant -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant(SignedStatement):
    """What an enterprise authorized: who, which data, for what, and for how long."""

    KIND: ClassVar[str] = "grant"
    WHAT: ClassVar[str] = "grant"
    KEYS: ClassVar[tuple[str, ...]] = (
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
        check_pattern(self.grant_id, GRANT_ID_RE, "grant.grant_id", "1-64 characters [A-Za-z0-9_-]")
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
            check_pattern(
                category, CATEGORY_ID_RE, "grant.categories", "category ids [A-Za-z0-9_-]"
            )
        for ref in sorted(fields, key=str):
            check_pattern(ref, FIELD_REF_RE, "grant.fields", '"category.field" references')
        # (3) purpose from the closed list
        if not isinstance(self.purpose, Purpose):
            raise InvalidArgument.field("grant.purpose", self.purpose, "a Purpose")
        # (4) times: aware, whole seconds, ordered, bounded validity
        for name in ("not_before", "not_after", "issued_at"):
            object.__setattr__(self, name, normalize_time(getattr(self, name), f"grant.{name}"))
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

    def _body(self) -> dict[str, Any]:
        return {
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

    @classmethod
    def _from_body(cls, obj: Mapping[str, Any]) -> Grant:
        max_uses = obj["max_uses"]
        if max_uses is not None and (not isinstance(max_uses, int) or isinstance(max_uses, bool)):
            raise InvalidArgument.field("grant.max_uses", max_uses, "null or an integer")
        return cls(
            grant_id=cls._str(obj, "grant_id"),
            credit_code=cls._str(obj, "credit_code"),
            grantee_node_id=cls._str(obj, "grantee_node_id"),
            categories=frozenset(cls._str_list(obj, "categories")),
            fields=frozenset(cls._str_list(obj, "fields")),
            purpose=Purpose.parse(cls._str(obj, "purpose"), field_name="grant.purpose"),
            not_before=cls._time(obj, "not_before"),
            not_after=cls._time(obj, "not_after"),
            max_uses=max_uses,
            issued_at=cls._time(obj, "issued_at"),
        )

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
    grant.verify_signature(signature, enterprise_public_key, what=f"grant {grant.grant_id}")


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
    require_aware(now, "now")
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
                self, "revoked_at", normalize_time(self.revoked_at, "grant_state.revoked_at")
            )
        if isinstance(self.uses, bool) or not isinstance(self.uses, int) or self.uses < 0:
            raise InvalidArgument.field("grant_state.uses", self.uses, "an integer ≥ 0")

    def status_at(self, now: datetime) -> GrantStatus:
        """Precedence: revoked, expired, not yet valid, used up, active."""
        require_aware(now, "now")
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
        check_text(reason, "revocation.reason", max_chars=MAX_REASON_CHARS)
        if not reason.strip():
            raise InvalidArgument.field("revocation.reason", reason, "a non-empty reason")
        if self.revoked_at is not None:
            return self
        return replace(self, revoked_at=at, revoke_reason=f"admin {admin_id}: {reason}")


# -- revocation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Revocation(SignedStatement):
    """The enterprise's signed withdrawal of one grant."""

    KIND: ClassVar[str] = "revoke"
    WHAT: ClassVar[str] = "revocation"
    KEYS: ClassVar[tuple[str, ...]] = ("grant_id", "credit_code", "revoked_at", "reason")

    grant_id: str
    credit_code: str
    revoked_at: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        check_pattern(
            self.grant_id, GRANT_ID_RE, "revocation.grant_id", "1-64 characters [A-Za-z0-9_-]"
        )
        check_credit_code_form(self.credit_code, field_name="revocation.credit_code")
        object.__setattr__(
            self, "revoked_at", normalize_time(self.revoked_at, "revocation.revoked_at")
        )
        check_text(self.reason, "revocation.reason", max_chars=MAX_REASON_CHARS)

    def _body(self) -> dict[str, Any]:
        return {
            "grant_id": self.grant_id,
            "credit_code": self.credit_code,
            "revoked_at": format_time(self.revoked_at),
            "reason": self.reason,
        }

    @classmethod
    def _from_body(cls, obj: Mapping[str, Any]) -> Revocation:
        return cls(
            grant_id=cls._str(obj, "grant_id"),
            credit_code=cls._str(obj, "credit_code"),
            revoked_at=cls._time(obj, "revoked_at"),
            reason=cls._str(obj, "reason"),
        )


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
    revocation.verify_signature(
        signature, enterprise_public_key, what=f"revocation of grant {grant.grant_id}"
    )
