import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateSubscriptionRequest(_message.Message):
    __slots__ = ("kind", "categories", "purpose", "region_prefix", "industry", "marked_only", "backfill_from")
    KIND_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    REGION_PREFIX_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    MARKED_ONLY_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_FROM_FIELD_NUMBER: _ClassVar[int]
    kind: str
    categories: _containers.RepeatedScalarFieldContainer[str]
    purpose: str
    region_prefix: str
    industry: str
    marked_only: bool
    backfill_from: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ..., purpose: _Optional[str] = ..., region_prefix: _Optional[str] = ..., industry: _Optional[str] = ..., marked_only: _Optional[bool] = ..., backfill_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Subscription(_message.Message):
    __slots__ = ("subscription_id", "node_id", "kind", "categories", "purpose", "region_prefix", "industry", "marked_only", "state", "created_at", "acked_position", "lag_events", "lag_seconds", "ledger_index")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    REGION_PREFIX_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    MARKED_ONLY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ACKED_POSITION_FIELD_NUMBER: _ClassVar[int]
    LAG_EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAG_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    node_id: str
    kind: str
    categories: _containers.RepeatedScalarFieldContainer[str]
    purpose: str
    region_prefix: str
    industry: str
    marked_only: bool
    state: str
    created_at: _timestamp_pb2.Timestamp
    acked_position: int
    lag_events: int
    lag_seconds: float
    ledger_index: int
    def __init__(self, subscription_id: _Optional[str] = ..., node_id: _Optional[str] = ..., kind: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ..., purpose: _Optional[str] = ..., region_prefix: _Optional[str] = ..., industry: _Optional[str] = ..., marked_only: _Optional[bool] = ..., state: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acked_position: _Optional[int] = ..., lag_events: _Optional[int] = ..., lag_seconds: _Optional[float] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class ListSubscriptionsRequest(_message.Message):
    __slots__ = ("all",)
    ALL_FIELD_NUMBER: _ClassVar[int]
    all: bool
    def __init__(self, all: _Optional[bool] = ...) -> None: ...

class ListSubscriptionsResponse(_message.Message):
    __slots__ = ("subscriptions", "head_position")
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    HEAD_POSITION_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[Subscription]
    head_position: int
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[Subscription, _Mapping]]] = ..., head_position: _Optional[int] = ...) -> None: ...

class CancelSubscriptionRequest(_message.Message):
    __slots__ = ("subscription_id",)
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    def __init__(self, subscription_id: _Optional[str] = ...) -> None: ...

class DeliverRequest(_message.Message):
    __slots__ = ("subscription_id", "resync", "ack_position")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    RESYNC_FIELD_NUMBER: _ClassVar[int]
    ACK_POSITION_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    resync: bool
    ack_position: int
    def __init__(self, subscription_id: _Optional[str] = ..., resync: _Optional[bool] = ..., ack_position: _Optional[int] = ...) -> None: ...

class EventField(_message.Message):
    __slots__ = ("name", "value", "mask")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    mask: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., mask: _Optional[str] = ...) -> None: ...

class RiskSignal(_message.Message):
    __slots__ = ("rule", "severity", "label_zh")
    RULE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    LABEL_ZH_FIELD_NUMBER: _ClassVar[int]
    rule: str
    severity: str
    label_zh: str
    def __init__(self, rule: _Optional[str] = ..., severity: _Optional[str] = ..., label_zh: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "position", "kind", "credit_code", "category", "source_node_id", "record_id", "version", "logged_at", "fields", "signals", "grant_id", "note")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LOGGED_AT_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    position: int
    kind: str
    credit_code: str
    category: str
    source_node_id: str
    record_id: str
    version: int
    logged_at: _timestamp_pb2.Timestamp
    fields: _containers.RepeatedCompositeFieldContainer[EventField]
    signals: _containers.RepeatedCompositeFieldContainer[RiskSignal]
    grant_id: str
    note: str
    def __init__(self, event_id: _Optional[str] = ..., position: _Optional[int] = ..., kind: _Optional[str] = ..., credit_code: _Optional[str] = ..., category: _Optional[str] = ..., source_node_id: _Optional[str] = ..., record_id: _Optional[str] = ..., version: _Optional[int] = ..., logged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fields: _Optional[_Iterable[_Union[EventField, _Mapping]]] = ..., signals: _Optional[_Iterable[_Union[RiskSignal, _Mapping]]] = ..., grant_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class DeliverResponse(_message.Message):
    __slots__ = ("events", "next_position", "ledger_index", "head_position")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_POSITION_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    HEAD_POSITION_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    next_position: int
    ledger_index: int
    head_position: int
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., next_position: _Optional[int] = ..., ledger_index: _Optional[int] = ..., head_position: _Optional[int] = ...) -> None: ...
