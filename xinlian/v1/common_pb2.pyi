import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_KIND_UNSPECIFIED: _ClassVar[NodeKind]
    NODE_KIND_CITY_PLATFORM: _ClassVar[NodeKind]
    NODE_KIND_DEPARTMENT: _ClassVar[NodeKind]
    NODE_KIND_INSTITUTION: _ClassVar[NodeKind]
    NODE_KIND_OFFICER: _ClassVar[NodeKind]
    NODE_KIND_ADMIN: _ClassVar[NodeKind]
    NODE_KIND_GATEWAY: _ClassVar[NodeKind]

class NodeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATE_UNSPECIFIED: _ClassVar[NodeState]
    NODE_STATE_APPLIED: _ClassVar[NodeState]
    NODE_STATE_ADMITTED: _ClassVar[NodeState]
    NODE_STATE_SUSPENDED: _ClassVar[NodeState]
    NODE_STATE_EXITED: _ClassVar[NodeState]

class Purpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PURPOSE_UNSPECIFIED: _ClassVar[Purpose]
    PURPOSE_FINANCING: _ClassVar[Purpose]
    PURPOSE_GUARANTEE: _ClassVar[Purpose]
    PURPOSE_POST_LOAN: _ClassVar[Purpose]
    PURPOSE_GOVERNMENT_SERVICE: _ClassVar[Purpose]
NODE_KIND_UNSPECIFIED: NodeKind
NODE_KIND_CITY_PLATFORM: NodeKind
NODE_KIND_DEPARTMENT: NodeKind
NODE_KIND_INSTITUTION: NodeKind
NODE_KIND_OFFICER: NodeKind
NODE_KIND_ADMIN: NodeKind
NODE_KIND_GATEWAY: NodeKind
NODE_STATE_UNSPECIFIED: NodeState
NODE_STATE_APPLIED: NodeState
NODE_STATE_ADMITTED: NodeState
NODE_STATE_SUSPENDED: NodeState
NODE_STATE_EXITED: NodeState
PURPOSE_UNSPECIFIED: Purpose
PURPOSE_FINANCING: Purpose
PURPOSE_GUARANTEE: Purpose
PURPOSE_POST_LOAN: Purpose
PURPOSE_GOVERNMENT_SERVICE: Purpose

class Review(_message.Message):
    __slots__ = ("reviewer", "security_assessment", "authorization_assessment", "reviewed_at", "notes")
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ASSESSMENT_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_ASSESSMENT_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    reviewer: str
    security_assessment: str
    authorization_assessment: str
    reviewed_at: _timestamp_pb2.Timestamp
    notes: str
    def __init__(self, reviewer: _Optional[str] = ..., security_assessment: _Optional[str] = ..., authorization_assessment: _Optional[str] = ..., reviewed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., notes: _Optional[str] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("node_id", "kind", "region", "name", "state", "categories", "applied_at", "updated_at", "review", "state_reason", "contact")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    APPLIED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    kind: NodeKind
    region: str
    name: str
    state: NodeState
    categories: _containers.RepeatedScalarFieldContainer[str]
    applied_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    review: Review
    state_reason: str
    contact: str
    def __init__(self, node_id: _Optional[str] = ..., kind: _Optional[_Union[NodeKind, str]] = ..., region: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[NodeState, str]] = ..., categories: _Optional[_Iterable[str]] = ..., applied_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., review: _Optional[_Union[Review, _Mapping]] = ..., state_reason: _Optional[str] = ..., contact: _Optional[str] = ...) -> None: ...
