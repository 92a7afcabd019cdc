import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ObjectionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OBJECTION_STATE_UNSPECIFIED: _ClassVar[ObjectionState]
    OBJECTION_STATE_OPEN: _ClassVar[ObjectionState]
    OBJECTION_STATE_UPHELD: _ClassVar[ObjectionState]
    OBJECTION_STATE_CORRECTED: _ClassVar[ObjectionState]
    OBJECTION_STATE_WITHDRAWN: _ClassVar[ObjectionState]
    OBJECTION_STATE_UNCONFIRMABLE: _ClassVar[ObjectionState]
OBJECTION_STATE_UNSPECIFIED: ObjectionState
OBJECTION_STATE_OPEN: ObjectionState
OBJECTION_STATE_UPHELD: ObjectionState
OBJECTION_STATE_CORRECTED: ObjectionState
OBJECTION_STATE_WITHDRAWN: ObjectionState
OBJECTION_STATE_UNCONFIRMABLE: ObjectionState

class ObjectionStatement(_message.Message):
    __slots__ = ("objection_id", "credit_code", "source_node_id", "record_id", "version", "fields", "claim", "evidence_sha256", "issued_at")
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_SHA256_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    objection_id: str
    credit_code: str
    source_node_id: str
    record_id: str
    version: int
    fields: _containers.RepeatedScalarFieldContainer[str]
    claim: str
    evidence_sha256: _containers.RepeatedScalarFieldContainer[str]
    issued_at: _timestamp_pb2.Timestamp
    def __init__(self, objection_id: _Optional[str] = ..., credit_code: _Optional[str] = ..., source_node_id: _Optional[str] = ..., record_id: _Optional[str] = ..., version: _Optional[int] = ..., fields: _Optional[_Iterable[str]] = ..., claim: _Optional[str] = ..., evidence_sha256: _Optional[_Iterable[str]] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ObjectionView(_message.Message):
    __slots__ = ("statement", "category", "state", "platform_node_id", "received_at", "filed_at", "forward_due", "forwarded_late", "answer_due", "overdue", "answer_reason", "corrected_version", "answered_at", "answered_by")
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    FILED_AT_FIELD_NUMBER: _ClassVar[int]
    FORWARD_DUE_FIELD_NUMBER: _ClassVar[int]
    FORWARDED_LATE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_DUE_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_REASON_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    statement: ObjectionStatement
    category: str
    state: ObjectionState
    platform_node_id: str
    received_at: _timestamp_pb2.Timestamp
    filed_at: _timestamp_pb2.Timestamp
    forward_due: _timestamp_pb2.Timestamp
    forwarded_late: bool
    answer_due: _timestamp_pb2.Timestamp
    overdue: bool
    answer_reason: str
    corrected_version: int
    answered_at: _timestamp_pb2.Timestamp
    answered_by: str
    def __init__(self, statement: _Optional[_Union[ObjectionStatement, _Mapping]] = ..., category: _Optional[str] = ..., state: _Optional[_Union[ObjectionState, str]] = ..., platform_node_id: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., filed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., forward_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., forwarded_late: _Optional[bool] = ..., answer_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., overdue: _Optional[bool] = ..., answer_reason: _Optional[str] = ..., corrected_version: _Optional[int] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., answered_by: _Optional[str] = ...) -> None: ...

class FileObjectionRequest(_message.Message):
    __slots__ = ("statement", "signature", "received_at", "countersignature", "trace_id")
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    COUNTERSIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    statement: ObjectionStatement
    signature: bytes
    received_at: _timestamp_pb2.Timestamp
    countersignature: bytes
    trace_id: str
    def __init__(self, statement: _Optional[_Union[ObjectionStatement, _Mapping]] = ..., signature: _Optional[bytes] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., countersignature: _Optional[bytes] = ..., trace_id: _Optional[str] = ...) -> None: ...

class FileObjectionResponse(_message.Message):
    __slots__ = ("objection", "ledger_index")
    OBJECTION_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    objection: ObjectionView
    ledger_index: int
    def __init__(self, objection: _Optional[_Union[ObjectionView, _Mapping]] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class ListObjectionsRequest(_message.Message):
    __slots__ = ("credit_code", "state", "overdue_only")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    state: ObjectionState
    overdue_only: bool
    def __init__(self, credit_code: _Optional[str] = ..., state: _Optional[_Union[ObjectionState, str]] = ..., overdue_only: _Optional[bool] = ...) -> None: ...

class ListObjectionsResponse(_message.Message):
    __slots__ = ("objections",)
    OBJECTIONS_FIELD_NUMBER: _ClassVar[int]
    objections: _containers.RepeatedCompositeFieldContainer[ObjectionView]
    def __init__(self, objections: _Optional[_Iterable[_Union[ObjectionView, _Mapping]]] = ...) -> None: ...

class GetObjectionRequest(_message.Message):
    __slots__ = ("objection_id",)
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    objection_id: str
    def __init__(self, objection_id: _Optional[str] = ...) -> None: ...

class GetObjectionResponse(_message.Message):
    __slots__ = ("objection",)
    OBJECTION_FIELD_NUMBER: _ClassVar[int]
    objection: ObjectionView
    def __init__(self, objection: _Optional[_Union[ObjectionView, _Mapping]] = ...) -> None: ...

class AnswerObjectionRequest(_message.Message):
    __slots__ = ("objection_id", "answer", "reason", "corrected_version", "trace_id")
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    objection_id: str
    answer: ObjectionState
    reason: str
    corrected_version: int
    trace_id: str
    def __init__(self, objection_id: _Optional[str] = ..., answer: _Optional[_Union[ObjectionState, str]] = ..., reason: _Optional[str] = ..., corrected_version: _Optional[int] = ..., trace_id: _Optional[str] = ...) -> None: ...

class AnswerObjectionResponse(_message.Message):
    __slots__ = ("objection", "ledger_index")
    OBJECTION_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    objection: ObjectionView
    ledger_index: int
    def __init__(self, objection: _Optional[_Union[ObjectionView, _Mapping]] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class FreezeEnterpriseRequest(_message.Message):
    __slots__ = ("credit_code", "frozen", "reason", "trace_id")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    frozen: bool
    reason: str
    trace_id: str
    def __init__(self, credit_code: _Optional[str] = ..., frozen: _Optional[bool] = ..., reason: _Optional[str] = ..., trace_id: _Optional[str] = ...) -> None: ...

class FreezeEnterpriseResponse(_message.Message):
    __slots__ = ("ledger_index",)
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    ledger_index: int
    def __init__(self, ledger_index: _Optional[int] = ...) -> None: ...
