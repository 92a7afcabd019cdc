import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PullNoticesRequest(_message.Message):
    __slots__ = ("max", "after")
    MAX_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    max: int
    after: int
    def __init__(self, max: _Optional[int] = ..., after: _Optional[int] = ...) -> None: ...

class NoticeField(_message.Message):
    __slots__ = ("name", "value", "mask")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    mask: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., mask: _Optional[str] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("notice_id", "source_node_id", "record_id", "credit_code", "category", "old_version", "new_version", "reason", "changed_fields", "values", "values_withheld", "grant_id", "created_at", "ledger_index")
    NOTICE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    OLD_VERSION_FIELD_NUMBER: _ClassVar[int]
    NEW_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    VALUES_WITHHELD_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    notice_id: int
    source_node_id: str
    record_id: str
    credit_code: str
    category: str
    old_version: int
    new_version: int
    reason: str
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    values: _containers.RepeatedCompositeFieldContainer[NoticeField]
    values_withheld: str
    grant_id: str
    created_at: _timestamp_pb2.Timestamp
    ledger_index: int
    def __init__(self, notice_id: _Optional[int] = ..., source_node_id: _Optional[str] = ..., record_id: _Optional[str] = ..., credit_code: _Optional[str] = ..., category: _Optional[str] = ..., old_version: _Optional[int] = ..., new_version: _Optional[int] = ..., reason: _Optional[str] = ..., changed_fields: _Optional[_Iterable[str]] = ..., values: _Optional[_Iterable[_Union[NoticeField, _Mapping]]] = ..., values_withheld: _Optional[str] = ..., grant_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class PullNoticesResponse(_message.Message):
    __slots__ = ("notices", "next_after")
    NOTICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_FIELD_NUMBER: _ClassVar[int]
    notices: _containers.RepeatedCompositeFieldContainer[Notice]
    next_after: int
    def __init__(self, notices: _Optional[_Iterable[_Union[Notice, _Mapping]]] = ..., next_after: _Optional[int] = ...) -> None: ...

class AckNoticesRequest(_message.Message):
    __slots__ = ("notice_ids",)
    NOTICE_IDS_FIELD_NUMBER: _ClassVar[int]
    notice_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, notice_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class AckNoticesResponse(_message.Message):
    __slots__ = ("acked", "already_acked", "unknown", "ledger_indexes")
    ACKED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_ACKED_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEXES_FIELD_NUMBER: _ClassVar[int]
    acked: _containers.RepeatedScalarFieldContainer[int]
    already_acked: _containers.RepeatedScalarFieldContainer[int]
    unknown: _containers.RepeatedScalarFieldContainer[int]
    ledger_indexes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, acked: _Optional[_Iterable[int]] = ..., already_acked: _Optional[_Iterable[int]] = ..., unknown: _Optional[_Iterable[int]] = ..., ledger_indexes: _Optional[_Iterable[int]] = ...) -> None: ...
