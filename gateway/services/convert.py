"""Conversions between wire messages and gateway values."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from authz.catalog import Purpose
from gateway.core import validate
from gateway.flows.registry import NodeRecord
from xinlian.errors import InvalidArgument
from xinlian.v1 import common_pb2

KIND_TO_WIRE: dict[str, common_pb2.NodeKind] = {
    "city_platform": common_pb2.NODE_KIND_CITY_PLATFORM,
    "department": common_pb2.NODE_KIND_DEPARTMENT,
    "institution": common_pb2.NODE_KIND_INSTITUTION,
    "officer": common_pb2.NODE_KIND_OFFICER,
    "admin": common_pb2.NODE_KIND_ADMIN,
    "gateway": common_pb2.NODE_KIND_GATEWAY,
}
KIND_FROM_WIRE: dict[int, str] = {int(v): k for k, v in KIND_TO_WIRE.items()}

STATE_TO_WIRE: dict[str, common_pb2.NodeState] = {
    "applied": common_pb2.NODE_STATE_APPLIED,
    "admitted": common_pb2.NODE_STATE_ADMITTED,
    "suspended": common_pb2.NODE_STATE_SUSPENDED,
    "exited": common_pb2.NODE_STATE_EXITED,
}
STATE_FROM_WIRE: dict[int, str] = {int(v): k for k, v in STATE_TO_WIRE.items()}

PURPOSE_TO_WIRE: dict[Purpose, common_pb2.Purpose] = {
    Purpose.FINANCING: common_pb2.PURPOSE_FINANCING,
    Purpose.GUARANTEE: common_pb2.PURPOSE_GUARANTEE,
    Purpose.POST_LOAN: common_pb2.PURPOSE_POST_LOAN,
    Purpose.GOVERNMENT_SERVICE: common_pb2.PURPOSE_GOVERNMENT_SERVICE,
}
PURPOSE_FROM_WIRE: dict[int, Purpose] = {int(v): k for k, v in PURPOSE_TO_WIRE.items()}


def kind_from_wire(value: int, *, field_name: str = "kind", optional: bool = False) -> str | None:
    if optional and value == common_pb2.NODE_KIND_UNSPECIFIED:
        return None
    kind = KIND_FROM_WIRE.get(value)
    if kind is None:
        raise InvalidArgument.field(field_name, value, "a NodeKind other than UNSPECIFIED")
    return kind


def state_from_wire(value: int) -> str | None:
    if value == common_pb2.NODE_STATE_UNSPECIFIED:
        return None
    state = STATE_FROM_WIRE.get(value)
    if state is None:
        raise InvalidArgument.field("state", value, "a NodeState")
    return state


def purpose_from_wire(value: int, *, field_name: str = "purpose") -> Purpose:
    purpose = PURPOSE_FROM_WIRE.get(value)
    if purpose is None:
        raise InvalidArgument.field(field_name, value, "a Purpose other than UNSPECIFIED")
    return purpose


def ts(when: datetime | None) -> Timestamp | None:
    if when is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def from_ts(stamp: Timestamp, *, field_name: str) -> datetime:
    """A required request timestamp (``gateway.core.validate.timestamp``)."""
    when = validate.timestamp(stamp, field_name)
    assert when is not None
    return when


def from_optional_ts(stamp: Timestamp, *, field_name: str) -> datetime | None:
    """An optional request timestamp: unset (all zero) is ``None``."""
    return validate.timestamp(stamp, field_name, required=False)


def node_to_wire(node: NodeRecord) -> common_pb2.Node:
    msg = common_pb2.Node(
        node_id=node.node_id,
        kind=KIND_TO_WIRE[node.kind],
        region=node.region,
        name=node.name,
        state=STATE_TO_WIRE[node.state],
        categories=list(node.categories),
        applied_at=ts(node.applied_at),
        updated_at=ts(node.updated_at),
        state_reason=node.state_reason,
        contact=node.contact,
    )
    if node.review is not None:
        msg.review.CopyFrom(
            common_pb2.Review(
                reviewer=node.review.reviewer,
                security_assessment=node.review.security_assessment,
                authorization_assessment=node.review.authorization_assessment,
                reviewed_at=ts(node.review.reviewed_at),
                notes=node.review.notes,
            )
        )
    return msg
