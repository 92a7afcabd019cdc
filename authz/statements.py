"""Signed statements of enterprises: one canonical encoding, one base, one way to parse.

Every statement an enterprise signs (a grant, a revocation, a self query, a key rotation)
has one documented canonical encoding, produced by ``xinlian.signing.canonical_json`` over a
JSON object with a format version ``"v": 1`` and a ``"type"``; lists are sorted, times are
RFC 3339 in UTC with a ``Z`` suffix and whole seconds (``2026-01-05T09:00:00Z``), absent
optional values are ``null``. The statements themselves are in ``authz.grants`` and
``authz.enterprise_statements``; their common shape is :class:`SignedStatement`:

1. ``_body()`` gives the statement's own keys (everything but ``v`` and ``type``); by
   default each of ``KEYS`` is the dataclass field of that name, encoded by its type
   (times as above, enums by value, tuples as lists, strings, integers and ``None`` as
   they are), and ``_from_body`` reads them back (``TIMES`` and ``LISTS`` name the keys
   holding times and lists of strings; a statement overrides ``_read`` for other kinds);
2. ``canonical_bytes()`` is the one byte form the enterprise signs;
3. ``from_canonical(data)`` parses strictly (size bound, no duplicate keys, no floats,
   exactly the statement's keys, this format version and type), builds the statement
   through ``_from_body`` (which validates like any construction) and accepts only bytes
   that re-encode to themselves, so one statement has exactly one byte form and a
   signature binds to exactly one meaning;
4. ``verify_signature(signature, key)`` checks the enterprise's signature over those bytes.

Times given with sub-second precision are truncated to whole seconds on construction, so
the object always equals what its canonical bytes say. The credit code is checked for form
here (18 characters of the GB 32100 alphabet); the check character is verified at the edge
by ``authz.credit_code``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, ClassVar, Self

from xinlian.errors import InvalidArgument
from xinlian.signing import VerifierKey, canonical_json, verify

# -- limits (named so that reviews and error messages can point at them) ---------------

FORMAT_VERSION = 1
MAX_CANONICAL_BYTES = 32 * 1024
MAX_REASON_CHARS = 500
MAX_CLOCK_SKEW = timedelta(seconds=30)  # how far in the future an issued_at may be
MAX_RECORD_ID_CHARS = 128  # as records.record_id (objections and repairs name records)

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_RE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
GRANT_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
NODE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
CATEGORY_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
FIELD_REF_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]{0,63})\.([A-Za-z0-9][A-Za-z0-9_-]{0,63})")
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
SHA256_HEX_RE = re.compile(r"[0-9a-f]{64}")
TIME_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


# -- small validators ------------------------------------------------------------------


def format_time(when: datetime) -> str:
    """RFC 3339, UTC, ``Z`` suffix, whole seconds."""
    u = when.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def parse_time(text: str, *, field_name: str) -> datetime:
    match = TIME_RE.fullmatch(text)
    if match is None:
        raise InvalidArgument.field(field_name, text, "RFC 3339 UTC time like 2026-01-05T09:00:00Z")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise InvalidArgument.field(field_name, text, "a valid calendar time") from None


def normalize_time(when: object, field_name: str) -> datetime:
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise InvalidArgument.field(field_name, when, "a timezone-aware datetime")
    return when.astimezone(UTC).replace(microsecond=0)


def require_aware(when: datetime, field_name: str) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidArgument.field(field_name, when, "a timezone-aware datetime")


def check_pattern(value: object, pattern: re.Pattern[str], field_name: str, want: str) -> None:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise InvalidArgument.field(field_name, value, want)


def check_credit_code_form(value: object, *, field_name: str = "credit_code") -> None:
    check_pattern(value, CREDIT_CODE_RE, field_name, "18 characters of " + CREDIT_CODE_ALPHABET)


def check_node_id(value: object, *, field_name: str = "node_id") -> None:
    check_pattern(value, NODE_ID_RE, field_name, "1-128 characters [A-Za-z0-9._:@-]")


def check_text(value: object, field_name: str, *, max_chars: int) -> None:
    if not isinstance(value, str) or len(value) > max_chars or CONTROL_RE.search(value):
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


def _encode(value: object) -> object:
    """One field's canonical JSON value (see ``SignedStatement._body``)."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


# -- the base --------------------------------------------------------------------------


class SignedStatement:
    """Base of the frozen dataclasses an enterprise signs (see the module docstring)."""

    KIND: ClassVar[str]  # the canonical "type"
    WHAT: ClassVar[str]  # the field-name prefix in error messages
    KEYS: ClassVar[tuple[str, ...]]  # the canonical keys besides "v" and "type"
    TIMES: ClassVar[frozenset[str]] = frozenset()  # keys holding times
    LISTS: ClassVar[frozenset[str]] = frozenset()  # keys holding lists of strings (tuples)

    def _body(self) -> dict[str, Any]:
        return {key: _encode(getattr(self, key)) for key in self.KEYS}

    @classmethod
    def _from_body(cls, obj: Mapping[str, Any]) -> Self:
        return cls(**{key: cls._read(obj, key) for key in cls.KEYS})

    @classmethod
    def _read(cls, obj: Mapping[str, Any], key: str) -> Any:
        """One key of ``_from_body``: a time, a list of strings, or a string."""
        if key in cls.TIMES:
            return cls._time(obj, key)
        if key in cls.LISTS:
            return tuple(cls._str_list(obj, key))
        return cls._str(obj, key)

    def to_canonical_dict(self) -> dict[str, Any]:
        return {"v": FORMAT_VERSION, "type": self.KIND, **self._body()}

    def canonical_bytes(self) -> bytes:
        """The exact bytes the enterprise signs."""
        return canonical_json(self.to_canonical_dict())

    def fingerprint(self) -> str:
        """SHA-256 of the canonical bytes, lowercase hex."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @classmethod
    def from_canonical(cls, data: bytes) -> Self:
        obj = _parse_canonical(data, what=cls.WHAT, kind=cls.KIND, keys=cls.KEYS)
        statement = cls._from_body(obj)
        _require_canonical(data, statement.canonical_bytes(), cls.WHAT)
        return statement

    def verify_signature(self, signature: bytes, key: VerifierKey, *, what: str = "") -> None:
        """Raise PermissionDenied(reason=BAD_SIGNATURE) unless ``key`` signed these bytes."""
        verify(key, self.canonical_bytes(), signature, what=what or self.WHAT.replace("_", " "))

    # field readers for ``_from_body``, with the statement's prefix in their errors

    @classmethod
    def _str(cls, obj: Mapping[str, Any], key: str) -> str:
        value = obj[key]
        if not isinstance(value, str):
            raise InvalidArgument.field(f"{cls.WHAT}.{key}", value, "a string")
        return value

    @classmethod
    def _str_list(cls, obj: Mapping[str, Any], key: str) -> list[str]:
        value = obj[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidArgument.field(f"{cls.WHAT}.{key}", value, "a list of strings")
        return value

    @classmethod
    def _time(cls, obj: Mapping[str, Any], key: str) -> datetime:
        return parse_time(cls._str(obj, key), field_name=f"{cls.WHAT}.{key}")
