"""Audit ledger entries and their canonical bytes. Pure, no I/O.

An entry's bytes are ``xinlian.signing.canonical_json`` of one JSON object with
exactly these keys (all always present)::

    v            1
    action       one of ``Action``
    time         RFC 3339 UTC with microseconds and "Z": 2024-05-01T08:30:00.000000Z
    actor        node id, or "gateway"
    actor_kind   short token naming the kind of actor (node role, "gateway", …)
    outcome      one of ``Outcome``
    trace_id     the trace id linking entries across gateways
    credit_code  统一社会信用代码 the entry concerns, or null
    subject      what was acted upon (node id, grant id, batch id …), or null
    details      JSON object; strings, 64-bit integers, booleans, null, lists, objects

The leaf hash of an entry in the Merkle tree is ``merkle.leaf_hash(entry.encode())``.

``Entry.decode`` accepts only canonical bytes, so ``encode(decode(b)) == b`` whenever
decoding succeeds and ``decode(encode(e)) == e`` for every valid entry: two different
byte strings never decode to the same entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NoReturn

from audit.merkle import leaf_hash
from xinlian.errors import InvalidArgument

VERSION = 1
MAX_ENTRY_BYTES = 64 * 1024
"""Largest encoded entry, enforced by ``encode`` and ``decode``."""
MAX_FIELD_CHARS = 256
"""Longest ``actor``, ``actor_kind``, ``trace_id``, ``credit_code`` or ``subject``."""
MAX_DETAILS_DEPTH = 8
"""Deepest nesting of lists/objects inside ``details`` (``details`` itself is depth 1)."""

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", re.ASCII)
_KEYS = frozenset(
    {
        "v",
        "action",
        "time",
        "actor",
        "actor_kind",
        "outcome",
        "trace_id",
        "credit_code",
        "subject",
        "details",
    }
)


class Action(StrEnum):
    """What an entry records. Closed: a new kind of event needs a new member."""

    NODE_APPLIED = "node.applied"
    NODE_ADMITTED = "node.admitted"
    NODE_SUSPENDED = "node.suspended"
    NODE_READMITTED = "node.readmitted"
    NODE_EXITED = "node.exited"
    NODE_ENROLLED = "node.enrolled"
    CERT_RENEWED = "cert.renewed"
    PUSH_BATCH = "push.batch"
    ENTERPRISE_REGISTERED = "enterprise.registered"
    ENTERPRISE_KEY_ROTATED = "enterprise.key_rotated"
    GRANT_CREATED = "grant.created"
    GRANT_REVOKED = "grant.revoked"
    QUERY = "query"
    QUERY_DENIED = "query.denied"
    AUDIT_SEARCH = "audit.search"
    AUDIT_EXPORT = "audit.export"
    RETENTION_ERASED = "retention.erased"
    ACCESS_DENIED = "access.denied"
    STATEMENT_REFUSED = "statement.refused"
    OBJECTION_FILED = "objection.filed"
    OBJECTION_ANSWERED = "objection.answered"
    ENTERPRISE_FROZEN = "enterprise.frozen"
    ENTERPRISE_UNFROZEN = "enterprise.unfrozen"
    NOTICE_CREATED = "notice.created"
    NOTICE_ACKED = "notice.acked"
    REPAIR_RECORDED = "repair.recorded"
    REPAIR_APPLIED = "repair.applied"
    REPAIR_APPLICATION_REFUSED = "repair.application_refused"
    RECORD_WITHDRAWN = "record.withdrawn"
    FEDERATION_JOINED = "federation.joined"
    RELAY_SENT = "relay.sent"
    RELAY_RECEIVED = "relay.received"
    QUERY_FORWARDED = "query.forwarded"
    QUERY_FORWARD_RECEIVED = "query.forward_received"
    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_CANCELLED = "subscription.cancelled"
    SUBSCRIPTION_DELIVERED = "subscription.delivered"


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    REJECTED = "rejected"
    ERROR = "error"


def _bad(name: str, got: object, want: str) -> NoReturn:
    raise InvalidArgument.field(f"entry.{name}", got, want)


def _check_text(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        _bad(name, value, "a non-empty string" + (" or null" if optional else ""))
    if len(value) > MAX_FIELD_CHARS:
        _bad(name, f"{len(value)} characters", f"≤ {MAX_FIELD_CHARS} characters")
    if _CONTROL_RE.search(value) is not None or not _utf8_ok(value):
        _bad(name, value, "printable text without control characters")


def _utf8_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_json_value(path: str, value: object, depth: int) -> None:
    """Allow only values that survive a canonical-JSON round trip unchanged."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            _bad(path, value, "an integer in the signed 64-bit range")
        return
    if isinstance(value, str):
        if not _utf8_ok(value):
            _bad(path, "unpaired surrogate", "valid Unicode text")
        return
    if isinstance(value, list | tuple | dict):
        if depth >= MAX_DETAILS_DEPTH:
            _bad(path, f"nesting deeper than {MAX_DETAILS_DEPTH}", "shallower details")
        if isinstance(value, list | tuple):
            for i, item in enumerate(value):
                _check_json_value(f"{path}[{i}]", item, depth + 1)
        else:
            for key, item in value.items():
                if not isinstance(key, str) or not _utf8_ok(key):
                    _bad(path, key, "string keys")
                _check_json_value(f"{path}.{key}", item, depth + 1)
        return
    if isinstance(value, float):
        _bad(path, value, "no floats (send decimals as strings)")
    _bad(path, type(value).__name__, "str, int, bool, null, list or object")


def _format_time(t: datetime) -> str:
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _parse_time(text: object) -> datetime:
    if not isinstance(text, str) or not _TIME_RE.fullmatch(text):
        _bad("time", text, "RFC 3339 UTC with microseconds, e.g. 2024-05-01T08:30:00.000000Z")
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        _bad("time", text, "a valid calendar date and time")


def _canonical_checked(obj: dict[str, Any]) -> bytes:
    """``canonical_json(obj)`` for an object ``_check_json_value`` has already walked
    (no floats, string keys, 64-bit integers): the same encoding, without walking the
    object a second time. tests/ledger/test_entry.py holds the two equal."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _json_obj(
    action: Action,
    time: datetime,
    actor: str,
    actor_kind: str,
    outcome: Outcome,
    trace_id: str,
    credit_code: str | None,
    subject: str | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    return {
        "v": VERSION,
        "action": action.value,
        "time": _format_time(time),
        "actor": actor,
        "actor_kind": actor_kind,
        "outcome": outcome.value,
        "trace_id": trace_id,
        "credit_code": credit_code,
        "subject": subject,
        "details": details,
    }


@dataclass(frozen=True)
class Entry:
    """One audit ledger entry. Validated on construction; immutable."""

    action: Action
    time: datetime
    actor: str
    actor_kind: str
    outcome: Outcome
    trace_id: str
    credit_code: str | None = None
    subject: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)
    _body: bytes = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        try:
            action = Action(self.action)
        except ValueError:
            _bad("action", self.action, "one of " + ", ".join(a.value for a in Action))
        try:
            outcome = Outcome(self.outcome)
        except ValueError:
            _bad("outcome", self.outcome, "one of " + ", ".join(o.value for o in Outcome))
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            _bad("time", self.time, "a timezone-aware datetime")
        _check_text("actor", self.actor)
        _check_text("actor_kind", self.actor_kind)
        _check_text("trace_id", self.trace_id)
        _check_text("credit_code", self.credit_code, optional=True)
        _check_text("subject", self.subject, optional=True)
        if not isinstance(self.details, Mapping):
            _bad("details", type(self.details).__name__, "a JSON object")
        details = dict(self.details)
        _check_json_value("details", details, 0)
        time = self.time.astimezone(UTC)
        # The canonical bytes, encoded once (``encode`` returns them; the entry is
        # immutable), and from them a private deep copy of details (tuples become lists,
        # the caller's objects are not shared), read-only at the top level.
        body = _canonical_checked(
            _json_obj(
                action,
                time,
                self.actor,
                self.actor_kind,
                outcome,
                self.trace_id,
                self.credit_code,
                self.subject,
                details,
            )
        )
        frozen = MappingProxyType(json.loads(body)["details"])
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "outcome", outcome)
        object.__setattr__(self, "time", time)
        object.__setattr__(self, "details", frozen)
        object.__setattr__(self, "_body", body)

    def to_json_obj(self) -> dict[str, Any]:
        """The JSON object that ``encode`` serializes."""
        return _json_obj(
            self.action,
            self.time,
            self.actor,
            self.actor_kind,
            self.outcome,
            self.trace_id,
            self.credit_code,
            self.subject,
            dict(self.details),
        )

    def encode(self) -> bytes:
        """Canonical bytes; raises ``InvalidArgument`` above ``MAX_ENTRY_BYTES``."""
        data = self._body
        if len(data) > MAX_ENTRY_BYTES:
            _bad("encoded", f"{len(data)} bytes", f"≤ {MAX_ENTRY_BYTES} bytes")
        return data

    def leaf_hash(self) -> bytes:
        """The entry's RFC 9162 leaf hash in the ledger's Merkle tree."""
        return leaf_hash(self.encode())

    @classmethod
    def decode(cls, data: bytes) -> Entry:
        """Inverse of ``encode``; rejects anything but canonical bytes of a valid entry."""
        # (1) Size, type and UTF-8.
        if not isinstance(data, bytes | bytearray):
            _bad("encoded", type(data).__name__, "bytes")
        if len(data) > MAX_ENTRY_BYTES:
            _bad("encoded", f"{len(data)} bytes", f"≤ {MAX_ENTRY_BYTES} bytes")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            _bad("encoded", "invalid UTF-8", "UTF-8 JSON")
        # (2) Strict JSON: no floats, no NaN/Infinity, bounded nesting.
        try:
            obj = json.loads(text, parse_float=_reject_float, parse_constant=_reject_float)
        except (ValueError, RecursionError):
            _bad("encoded", "unparseable JSON", "a canonical JSON object")
        # (3) Exactly the known keys, known version.
        if not isinstance(obj, dict):
            _bad("encoded", type(obj).__name__, "a JSON object")
        if set(obj) != _KEYS:
            extra = sorted(set(obj) - _KEYS)
            missing = sorted(_KEYS - set(obj))
            _bad("encoded", f"extra {extra}, missing {missing}", f"keys {sorted(_KEYS)}")
        version = obj["v"]
        if type(version) is not int or version != VERSION:
            _bad("v", version, f"{VERSION}")
        # (4) Field types; the constructor checks the values.
        for name in ("action", "actor", "actor_kind", "outcome", "trace_id"):
            if not isinstance(obj[name], str):
                _bad(name, obj[name], "a string")
        for name in ("credit_code", "subject"):
            if obj[name] is not None and not isinstance(obj[name], str):
                _bad(name, obj[name], "a string or null")
        if not isinstance(obj["details"], dict):
            _bad("details", obj["details"], "a JSON object")
        entry = cls(
            action=obj["action"],
            time=_parse_time(obj["time"]),
            actor=obj["actor"],
            actor_kind=obj["actor_kind"],
            outcome=obj["outcome"],
            trace_id=obj["trace_id"],
            credit_code=obj["credit_code"],
            subject=obj["subject"],
            details=obj["details"],
        )
        # (5) Canonical form only: the bytes must be exactly what encode() produces.
        if entry.encode() != bytes(data):
            _bad("encoded", "non-canonical JSON", "canonical JSON (sorted keys, no spaces)")
        return entry


def _reject_float(text: str) -> NoReturn:
    raise ValueError(f"float {text!r} not allowed")
