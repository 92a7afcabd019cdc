"""Field-level desensitization (脱敏): the one place where values are masked.

The policy is data (``authz/data/mask_policy.json``): consumer role (institution,
city_platform, gateway, self) × category publicity (public_category, non_public_category)
× field sensitivity (public, internal, C1, C2, C3) → mask spec. The spec ``default``
means the field's ``default_mask`` in the sharing catalog.

Mask specs (all take the wire value as a string; GB/T 37964-2019 techniques):

    keep              the value as is
    drop              not sent
    mask_all          one ``*`` per character
    first_n:N         first N characters, ``*`` for the rest; a value of N characters or
    last_n:N          fewer is masked entirely (the mask never shows a whole value)
    pseudonym         "ps:" + hex(HMAC-SHA256(secret, grantee ‖ 0x00 ‖ field ‖ 0x00 ‖ value)[:16]);
                      stable for one grantee, unlinkable across grantees
    range:STEP        a number generalized to ``lo-hi`` (lo inclusive, hi exclusive,
                      lo a multiple of STEP): 12345 with range:10000 → 10000-20000
    date_year         2026-01-05 (or a datetime) → 2026
    date_month        2026-01-05 → 2026-01
    id_card           身份证号: first 1 and last 1 shown (3****************4). Region,
                      birth date and sequence stay hidden, so a known birth date or
                      county cannot restore the number; institutions that must link a
                      person's records use a ``pseudonym`` field instead.
    mobile            11-digit mainland number → 138****5678 (+86 prefix dropped)
    bank_account      last 4 digits only, fixed width: ************1234
    person_name       surname kept, one ``*`` per other character: 张三丰 → 张**
                      (compound surnames such as 欧阳 keep only their first character)

A value that does not fit its mask (``range`` on a non-number, ``mobile`` on a landline)
is not sent. Unknown mask names are errors when the policy or catalog is loaded.

Invariant, enforced here and not only in the data: an access institution never gets
``keep`` on a raw field of a non-public category, nor on a C2 or C3 field of any
category. A *derived* field of the catalog (a rating such as 纳税信用等级 or a computed
indicator, never C2/C3) is not raw detail: every consumer the decision lets see it gets
it as is.
``MaskPolicy.from_dict`` refuses a table that says so; ``MaskPolicy.resolve`` turns any
such ``keep`` (from a ``default`` catalog mask, or a table built around the loader) into
``drop``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal, InvalidOperation, localcontext
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from authz.catalog import Catalog, Category, FieldSpec, Sensitivity
from authz.statements import check_node_id
from xinlian.errors import InvalidArgument

ROLE_INSTITUTION = "institution"
ROLE_CITY_PLATFORM = "city_platform"
ROLE_GATEWAY = "gateway"
ROLE_SELF = "self"
ROLES = (ROLE_INSTITUTION, ROLE_CITY_PLATFORM, ROLE_GATEWAY, ROLE_SELF)

SCOPE_PUBLIC = "public_category"
SCOPE_NON_PUBLIC = "non_public_category"
SCOPES = (SCOPE_PUBLIC, SCOPE_NON_PUBLIC)

DEFAULT_SPEC = "default"
MIN_SECRET_BYTES = 16
MAX_FIRST_LAST_N = 32
PSEUDONYM_PREFIX = "ps:"
PSEUDONYM_BYTES = 16
MAX_NAME_CHARS = 64

SIMPLE_MASKS = frozenset(
    {
        "keep",
        "drop",
        "mask_all",
        "pseudonym",
        "date_year",
        "date_month",
        "id_card",
        "mobile",
        "bank_account",
        "person_name",
    }
)
ARG_MASKS = frozenset({"first_n", "last_n", "range"})
MASK_NAMES = SIMPLE_MASKS | ARG_MASKS

_N_RE = re.compile(r"[1-9][0-9]{0,1}")
_STEP_RE = re.compile(r"[0-9]{1,18}(\.[0-9]{1,8})?")
_NUMBER_RE = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,18})?")
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ][0-9:.]+(?:Z|[+-][0-9:]+)?)?")
_ID_CARD_RE = re.compile(r"[0-9]{17}[0-9Xx]|[0-9]{15}")
_MOBILE_RE = re.compile(r"(?:\+?86)?(1[0-9]{10})")
_ACCOUNT_RE = re.compile(r"[0-9]{8,32}")
_SEPARATORS_RE = re.compile(r"[ \-]")


class MaskError(ValueError):
    """A value does not fit its mask; the field is then not sent."""


def keep_forbidden(
    role: str, category_public: bool, sensitivity: Sensitivity, derived: bool = False
) -> bool:
    """The invariant: where an institution must never receive a raw value. A derived
    field (a rating or indicator, never C2/C3: the catalog loader checks) is not raw."""
    if role != ROLE_INSTITUTION:
        return False
    if sensitivity in (Sensitivity.C2, Sensitivity.C3):
        return True
    return not category_public and not derived


# -- mask specs ------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskSpec:
    name: str
    arg: int | Decimal | None = None

    def __post_init__(self) -> None:
        if self.name in SIMPLE_MASKS and self.arg is None:
            return
        if (
            self.name in ("first_n", "last_n")
            and isinstance(self.arg, int)
            and not isinstance(self.arg, bool)
            and 1 <= self.arg <= MAX_FIRST_LAST_N
        ):
            return
        if self.name == "range" and isinstance(self.arg, int | Decimal) and self.arg > 0:
            object.__setattr__(self, "arg", Decimal(self.arg))
            return
        raise InvalidArgument.field("mask", str(self), "a valid mask spec")

    def __str__(self) -> str:
        if self.arg is None:
            return self.name
        return f"{self.name}:{self.arg}"

    def apply(
        self, value: str, *, grantee_node_id: str, field_name: str, secret: bytes
    ) -> str | None:
        """The masked value, None for drop; MaskError if the value does not fit."""
        name = self.name
        if name == "keep":
            return value
        if name == "drop":
            return None
        if name == "mask_all":
            return "*" * len(value)
        if name == "first_n":
            n = int(self.arg or 0)
            return "*" * len(value) if len(value) <= n else value[:n] + "*" * (len(value) - n)
        if name == "last_n":
            n = int(self.arg or 0)
            return "*" * len(value) if len(value) <= n else "*" * (len(value) - n) + value[-n:]
        if name == "pseudonym":
            return pseudonym(
                value, grantee_node_id=grantee_node_id, field_name=field_name, secret=secret
            )
        if name == "range":
            assert isinstance(self.arg, Decimal)
            return generalize_number(value, self.arg)
        if name in ("date_year", "date_month"):
            year, month = _parse_date(value)
            return f"{year:04d}" if name == "date_year" else f"{year:04d}-{month:02d}"
        if name == "id_card":
            if _ID_CARD_RE.fullmatch(value) is None:
                raise MaskError("not an identity card number")
            return value[0] + "*" * (len(value) - 2) + value[-1]
        if name == "mobile":
            match = _MOBILE_RE.fullmatch(_SEPARATORS_RE.sub("", value))
            if match is None:
                raise MaskError("not a mainland mobile number")
            digits = match.group(1)
            return digits[:3] + "****" + digits[-4:]
        if name == "bank_account":
            digits = _SEPARATORS_RE.sub("", value)
            if _ACCOUNT_RE.fullmatch(digits) is None:
                raise MaskError("not a bank account number")
            return "*" * 12 + digits[-4:]
        if name == "person_name":
            text = value.strip()
            if not text or len(text) > MAX_NAME_CHARS:
                raise MaskError("not a person name")
            return "*" if len(text) == 1 else text[0] + "*" * (len(text) - 1)
        raise MaskError(f"unknown mask {name}")  # unreachable for parsed specs


@lru_cache(maxsize=512)
def parse_mask(spec: str, *, field_name: str = "mask") -> MaskSpec:
    """Parse a mask spec strictly (``default`` is not a mask; see ``MaskPolicy``)."""
    if not isinstance(spec, str):
        raise InvalidArgument.field(field_name, spec, "a mask spec string")
    name, sep, arg = spec.partition(":")
    if name in SIMPLE_MASKS and not sep:
        return MaskSpec(name)
    if name in ("first_n", "last_n") and sep and _N_RE.fullmatch(arg):
        n = int(arg)
        if n <= MAX_FIRST_LAST_N:
            return MaskSpec(name, n)
    if name == "range" and sep and _STEP_RE.fullmatch(arg):
        step = Decimal(arg)
        if step > 0:
            return MaskSpec(name, step)
    want = (
        "one of " + ", ".join(sorted(SIMPLE_MASKS)) + f", first_n:N, last_n:N (1 ≤ N ≤ "
        f"{MAX_FIRST_LAST_N}), range:STEP (STEP > 0)"
    )
    raise InvalidArgument.field(field_name, spec, want)


def pseudonym(value: str, *, grantee_node_id: str, field_name: str, secret: bytes) -> str:
    """Keyed pseudonym: the same value gives the same pseudonym for one grantee only."""
    if len(secret) < MIN_SECRET_BYTES:
        raise InvalidArgument.field("secret", f"{len(secret)} bytes", f"≥ {MIN_SECRET_BYTES} bytes")
    if "\x00" in grantee_node_id or "\x00" in field_name:
        raise InvalidArgument.field("pseudonym", "a NUL character", "names without NUL")
    message = b"\x00".join(
        (grantee_node_id.encode("utf-8"), field_name.encode("utf-8"), value.encode("utf-8"))
    )
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return PSEUDONYM_PREFIX + digest[:PSEUDONYM_BYTES].hex()


def generalize_number(value: str, step: Decimal) -> str:
    """``lo-hi`` with lo = floor(value / step) * step, hi = lo + step."""
    text = value.strip()
    if _NUMBER_RE.fullmatch(text) is None:
        raise MaskError("not a decimal number")
    with localcontext() as ctx:
        ctx.prec = 80
        try:
            number = Decimal(text)
            low = (number / step).to_integral_value(rounding=ROUND_FLOOR) * step
        except InvalidOperation:
            raise MaskError("not a decimal number") from None
        high = low + step
    return f"{_plain(low)}-{_plain(high)}"


def _plain(number: Decimal) -> str:
    if number == 0:
        return "0"
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _parse_date(value: str) -> tuple[int, int]:
    match = _DATE_RE.fullmatch(value.strip())
    if match is None:
        raise MaskError("not a date")
    year, month, day = (int(part) for part in match.groups())
    try:
        date(year, month, day)
    except ValueError:
        raise MaskError("not a calendar date") from None
    return year, month


# -- the policy ------------------------------------------------------------------------

_DROP = MaskSpec("drop")
_KEEP = MaskSpec("keep")
_RuleKey = tuple[str, str, Sensitivity]  # (role, scope, sensitivity)


MAX_RESOLVED = 10_000
"""Remembered field masks per policy (a catalog has a few hundred fields)."""


@dataclass(frozen=True)
class MaskPolicy:
    """role × scope × sensitivity → MaskSpec, or None for the catalog's default mask."""

    version: str
    rules: Mapping[_RuleKey, MaskSpec | None]
    # resolve()'s answers by (role, category public, field identity); the field itself
    # is kept beside its answer, so a reused id never answers for another field
    _resolved: dict[tuple[str, bool, int], tuple[FieldSpec, MaskSpec]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MaskPolicy:
        roles = data.get("roles")
        if not isinstance(roles, Mapping) or set(roles) != set(ROLES):
            got = sorted(roles) if isinstance(roles, Mapping) else roles
            raise InvalidArgument.field("mask_policy.roles", got, "exactly " + ", ".join(ROLES))
        rules: dict[_RuleKey, MaskSpec | None] = {}
        sensitivities = {s.value: s for s in Sensitivity}
        for role in ROLES:
            scopes = roles[role]
            where = f"mask_policy.roles.{role}"
            if not isinstance(scopes, Mapping) or set(scopes) != set(SCOPES):
                got = sorted(scopes) if isinstance(scopes, Mapping) else scopes
                raise InvalidArgument.field(where, got, "exactly " + ", ".join(SCOPES))
            for scope in SCOPES:
                table = scopes[scope]
                where_scope = f"{where}.{scope}"
                if not isinstance(table, Mapping) or set(table) != set(sensitivities):
                    got = sorted(table) if isinstance(table, Mapping) else table
                    raise InvalidArgument.field(
                        where_scope, got, "exactly " + ", ".join(sensitivities)
                    )
                for key, sensitivity in sensitivities.items():
                    spec = table[key]
                    cell = f"{where_scope}.{key}"
                    rule = None if spec == DEFAULT_SPEC else parse_mask(spec, field_name=cell)
                    if rule == _KEEP and keep_forbidden(role, scope == SCOPE_PUBLIC, sensitivity):
                        raise InvalidArgument.field(
                            cell, spec, "a mask other than keep: institutions never get raw values"
                        )
                    rules[(role, scope, sensitivity)] = rule
        return cls(version=str(data.get("version", "")), rules=rules)

    @classmethod
    def load(cls, path: Path, *, catalog: Catalog | None = None) -> MaskPolicy:
        policy = cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        if catalog is not None:
            policy.check_catalog(catalog)
        return policy

    @classmethod
    def default(cls) -> MaskPolicy:
        text = resources.files("authz.data").joinpath("mask_policy.json").read_text("utf-8")
        return cls.from_dict(json.loads(text))

    def check_catalog(self, catalog: Catalog) -> None:
        """Every default_mask of the catalog is a valid mask spec."""
        for category in catalog.categories.values():
            for spec in category.fields:
                parse_mask(spec.default_mask, field_name=f"catalog.{category.id}.{spec.name}")

    def resolve(self, role: str, category: Category, field: FieldSpec) -> MaskSpec:
        """The mask for one field, with the institution invariant as the last defense
        (remembered: the same role, publicity and field always resolve alike)."""
        key = (role, category.public, id(field))
        known = self._resolved.get(key)
        if known is not None and known[0] is field:
            return known[1]
        mask = self._resolve(role, category, field)
        if len(self._resolved) >= MAX_RESOLVED:
            self._resolved.clear()
        self._resolved[key] = (field, mask)
        return mask

    def _resolve(self, role: str, category: Category, field: FieldSpec) -> MaskSpec:
        if role not in ROLES:
            raise InvalidArgument.field("role", role, "one of " + ", ".join(ROLES))
        if field.derived and not keep_forbidden(
            role, category.public, field.sensitivity, derived=True
        ):
            return _KEEP  # a rating or indicator: as is, to whoever may see the field
        scope = SCOPE_PUBLIC if category.public else SCOPE_NON_PUBLIC
        key = (role, scope, field.sensitivity)
        if key not in self.rules:
            return _DROP  # a cell the policy does not name: not sent
        rule = self.rules[key]
        if rule is None:
            try:
                rule = parse_mask(field.default_mask, field_name="default_mask")
            except InvalidArgument:
                return _DROP
        if rule == _KEEP and keep_forbidden(role, category.public, field.sensitivity):
            return _DROP
        return rule


def load_default_policy(catalog: Catalog | None = None) -> MaskPolicy:
    policy = MaskPolicy.default()
    if catalog is not None:
        policy.check_catalog(catalog)
    return policy


def role_for(consumer_kind: str, *, self_query: bool) -> str:
    """The policy role of a consumer whose query was allowed."""
    if self_query:
        return ROLE_SELF
    if consumer_kind in (ROLE_INSTITUTION, ROLE_CITY_PLATFORM, ROLE_GATEWAY):
        return consumer_kind
    raise InvalidArgument.field("consumer.kind", consumer_kind, "a data-consuming node kind")


# -- the one entry point ---------------------------------------------------------------


@dataclass(frozen=True)
class DisclosedField:
    name: str
    value: str
    mask: str  # the mask spec applied, e.g. "keep", "first_n:3", "pseudonym"


def desensitize_record(
    fields: Mapping[str, str],
    category: Category,
    role: str,
    allowed_fields: frozenset[str],
    grantee_node_id: str,
    secret: bytes,
    policy: MaskPolicy,
) -> list[DisclosedField]:
    """Mask one record read from the store for one consumer, in catalog field order.

    Not returned: a field the record has that is not in the category, not in
    ``allowed_fields`` (the decision's ``fields``), whose mask resolves to drop, or whose
    value does not fit its mask.
    """
    # (1) inputs
    if role not in ROLES:
        raise InvalidArgument.field("role", role, "one of " + ", ".join(ROLES))
    check_node_id(grantee_node_id, field_name="grantee_node_id")
    if len(secret) < MIN_SECRET_BYTES:
        raise InvalidArgument.field("secret", f"{len(secret)} bytes", f"≥ {MIN_SECRET_BYTES} bytes")
    disclosed: list[DisclosedField] = []
    for spec in category.fields:
        # (2) only fields of the category that the decision allowed and the record has
        if spec.name not in allowed_fields or spec.name not in fields:
            continue
        raw = fields[spec.name]
        if not isinstance(raw, str):
            continue
        # (3) the mask, with the institution invariant applied in resolve()
        mask = policy.resolve(role, category, spec)
        if mask == _DROP:
            continue
        # (4) apply; a value that does not fit its mask is not sent
        try:
            value = mask.apply(
                raw, grantee_node_id=grantee_node_id, field_name=spec.name, secret=secret
            )
        except MaskError:
            continue
        if value is None:
            continue
        disclosed.append(DisclosedField(name=spec.name, value=value, mask=str(mask)))
    return disclosed
