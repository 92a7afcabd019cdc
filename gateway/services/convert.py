"""Conversions between wire messages and gateway values (those the node agent shares are
in ``xinlian.wire``)."""

from __future__ import annotations

from authz.catalog import Purpose
from gateway.flows.registry import NodeRecord
from xinlian.errors import InvalidArgument
from xinlian.v1 import common_pb2
from xinlian.wire import KIND_FROM_WIRE, KIND_TO_WIRE, purpose_name, ts

STATE_TO_WIRE: dict[str, common_pb2.NodeState] = {
    "applied": common_pb2.NODE_STATE_APPLIED,
    "admitted": common_pb2.NODE_STATE_ADMITTED,
    "suspended": common_pb2.NODE_STATE_SUSPENDED,
    "exited": common_pb2.NODE_STATE_EXITED,
}
STATE_FROM_WIRE: dict[int, str] = {int(v): k for k, v in STATE_TO_WIRE.items()}


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
    return Purpose(purpose_name(value, field_name=field_name))


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
