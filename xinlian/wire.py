"""Values on the wire: the tables and conversions that the node agent and the gateway's
servicers share (node kinds, purposes, timestamps, grants).

Like the rest of ``xinlian`` this imports no other wing: a purpose is known here by its
name (the value of ``authz.catalog.Purpose``), a grant by the fields it has
(:class:`GrantFields`, which ``authz.grants.Grant`` satisfies).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from google.protobuf.timestamp_pb2 import Timestamp

from xinlian.errors import InvalidArgument
from xinlian.v1 import authorization_pb2, common_pb2, objections_pb2

KIND_TO_WIRE: dict[str, common_pb2.NodeKind] = {
    "city_platform": common_pb2.NODE_KIND_CITY_PLATFORM,
    "department": common_pb2.NODE_KIND_DEPARTMENT,
    "institution": common_pb2.NODE_KIND_INSTITUTION,
    "officer": common_pb2.NODE_KIND_OFFICER,
    "admin": common_pb2.NODE_KIND_ADMIN,
    "gateway": common_pb2.NODE_KIND_GATEWAY,
}
KIND_FROM_WIRE: dict[int, str] = {int(v): k for k, v in KIND_TO_WIRE.items()}

PURPOSE_TO_WIRE: dict[str, common_pb2.Purpose] = {
    "financing": common_pb2.PURPOSE_FINANCING,
    "guarantee": common_pb2.PURPOSE_GUARANTEE,
    "post_loan": common_pb2.PURPOSE_POST_LOAN,
    "government_service": common_pb2.PURPOSE_GOVERNMENT_SERVICE,
}
"""By purpose name: the values of ``authz.catalog.Purpose``."""
PURPOSE_FROM_WIRE: dict[int, str] = {int(v): k for k, v in PURPOSE_TO_WIRE.items()}

# The range of google.protobuf.Timestamp: 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z
MIN_TIMESTAMP_SECONDS = -62_135_596_800
MAX_TIMESTAMP_SECONDS = 253_402_300_799
MAX_TIMESTAMP_NANOS = 999_999_999
_TIMESTAMP_WANT = "a timestamp in 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z"


class Named(Protocol):
    """An enum member whose value is its name on the wire (``authz.catalog.Purpose``)."""

    @property
    def value(self) -> str: ...


class GrantFields(Protocol):
    """What :func:`grant_to_wire` reads of a grant (``authz.grants.Grant``)."""

    @property
    def grant_id(self) -> str: ...
    @property
    def credit_code(self) -> str: ...
    @property
    def grantee_node_id(self) -> str: ...
    @property
    def categories(self) -> Iterable[str]: ...
    @property
    def fields(self) -> Iterable[str]: ...
    @property
    def purpose(self) -> Named: ...
    @property
    def not_before(self) -> datetime: ...
    @property
    def not_after(self) -> datetime: ...
    @property
    def max_uses(self) -> int | None: ...
    @property
    def issued_at(self) -> datetime: ...


def purpose_to_wire(purpose: Named) -> common_pb2.Purpose:
    return PURPOSE_TO_WIRE[purpose.value]


def purpose_name(value: int, *, field_name: str = "purpose") -> str:
    """The name of the wire purpose ``value``; UNSPECIFIED or unknown is INVALID_ARGUMENT."""
    name = PURPOSE_FROM_WIRE.get(value)
    if name is None:
        raise InvalidArgument.field(field_name, value, "a Purpose other than UNSPECIFIED")
    return name


def ts(when: datetime | None) -> Timestamp | None:
    if when is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def timestamp_us(stamp: Timestamp, name: str) -> int:
    """``stamp`` in microseconds since the epoch; out of the Timestamp range (seconds or
    nanos) is INVALID_ARGUMENT naming the field ``name``."""
    seconds, nanos = stamp.seconds, stamp.nanos
    if not MIN_TIMESTAMP_SECONDS <= seconds <= MAX_TIMESTAMP_SECONDS:
        raise InvalidArgument.field(f"{name}.seconds", seconds, _TIMESTAMP_WANT)
    if not 0 <= nanos <= MAX_TIMESTAMP_NANOS:
        raise InvalidArgument.field(f"{name}.nanos", nanos, f"0..{MAX_TIMESTAMP_NANOS}")
    return seconds * 1_000_000 + nanos // 1000


def from_optional_ts(stamp: Timestamp, *, field_name: str) -> datetime | None:
    """The one conversion of a request's ``google.protobuf.Timestamp``: an aware UTC
    datetime, ``None`` if unset (all zero); out of range is INVALID_ARGUMENT naming the
    field ``field_name``."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return None
    timestamp_us(stamp, field_name)
    return stamp.ToDatetime(tzinfo=UTC)


def from_ts(stamp: Timestamp, *, field_name: str) -> datetime:
    """A required request timestamp: unset is INVALID_ARGUMENT too."""
    when = from_optional_ts(stamp, field_name=field_name)
    if when is None:
        raise InvalidArgument.field(field_name, "unset", "a timestamp")
    return when


def grant_to_wire(grant: GrantFields) -> authorization_pb2.Grant:
    return authorization_pb2.Grant(
        grant_id=grant.grant_id,
        credit_code=grant.credit_code,
        grantee_node_id=grant.grantee_node_id,
        categories=sorted(grant.categories),
        fields=sorted(grant.fields),
        purpose=purpose_to_wire(grant.purpose),
        not_before=ts(grant.not_before),
        not_after=ts(grant.not_after),
        max_uses=grant.max_uses or 0,
        issued_at=ts(grant.issued_at),
    )


def objection_to_wire(canonical: Mapping[str, Any]) -> objections_pb2.ObjectionStatement:
    """An objection statement (``authz.objections.Objection.to_canonical_dict()``) on the
    wire: the same keys, ``issued_at`` as a timestamp."""
    body = {k: v for k, v in canonical.items() if k not in ("v", "type", "issued_at")}
    message = objections_pb2.ObjectionStatement(**body)
    message.issued_at.FromJsonString(canonical["issued_at"])
    return message
