import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from xinlian.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RecordOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORD_OUTCOME_UNSPECIFIED: _ClassVar[RecordOutcome]
    RECORD_OUTCOME_ACCEPTED: _ClassVar[RecordOutcome]
    RECORD_OUTCOME_DUPLICATE: _ClassVar[RecordOutcome]
    RECORD_OUTCOME_REJECTED: _ClassVar[RecordOutcome]
RECORD_OUTCOME_UNSPECIFIED: RecordOutcome
RECORD_OUTCOME_ACCEPTED: RecordOutcome
RECORD_OUTCOME_DUPLICATE: RecordOutcome
RECORD_OUTCOME_REJECTED: RecordOutcome

class Record(_message.Message):
    __slots__ = ("credit_code", "record_id", "version", "event_time", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    record_id: str
    version: int
    event_time: _timestamp_pb2.Timestamp
    fields: _containers.ScalarMap[str, str]
    def __init__(self, credit_code: _Optional[str] = ..., record_id: _Optional[str] = ..., version: _Optional[int] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fields: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Batch(_message.Message):
    __slots__ = ("batch_id", "category", "records", "signature", "signed_content")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNED_CONTENT_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    category: str
    records: _containers.RepeatedCompositeFieldContainer[Record]
    signature: bytes
    signed_content: bytes
    def __init__(self, batch_id: _Optional[str] = ..., category: _Optional[str] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., signature: _Optional[bytes] = ..., signed_content: _Optional[bytes] = ...) -> None: ...

class RecordResult(_message.Message):
    __slots__ = ("record_id", "version", "outcome", "reason_code", "message")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    version: int
    outcome: RecordOutcome
    reason_code: str
    message: str
    def __init__(self, record_id: _Optional[str] = ..., version: _Optional[int] = ..., outcome: _Optional[_Union[RecordOutcome, str]] = ..., reason_code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class PushRequest(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: Batch
    def __init__(self, batch: _Optional[_Union[Batch, _Mapping]] = ...) -> None: ...

class PushResponse(_message.Message):
    __slots__ = ("batch_id", "results", "accepted", "duplicates", "rejected", "ledger_index")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    results: _containers.RepeatedCompositeFieldContainer[RecordResult]
    accepted: int
    duplicates: int
    rejected: int
    ledger_index: int
    def __init__(self, batch_id: _Optional[str] = ..., results: _Optional[_Iterable[_Union[RecordResult, _Mapping]]] = ..., accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., rejected: _Optional[int] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class DisclosedField(_message.Message):
    __slots__ = ("name", "value", "mask")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    mask: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., mask: _Optional[str] = ...) -> None: ...

class DisclosedRecord(_message.Message):
    __slots__ = ("record_id", "version", "source_node_id", "event_time", "fields", "objections")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    OBJECTIONS_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    version: int
    source_node_id: str
    event_time: _timestamp_pb2.Timestamp
    fields: _containers.RepeatedCompositeFieldContainer[DisclosedField]
    objections: _containers.RepeatedCompositeFieldContainer[ObjectionNote]
    def __init__(self, record_id: _Optional[str] = ..., version: _Optional[int] = ..., source_node_id: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fields: _Optional[_Iterable[_Union[DisclosedField, _Mapping]]] = ..., objections: _Optional[_Iterable[_Union[ObjectionNote, _Mapping]]] = ...) -> None: ...

class ObjectionNote(_message.Message):
    __slots__ = ("objection_id", "state", "label", "filed_at", "finding")
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    FILED_AT_FIELD_NUMBER: _ClassVar[int]
    FINDING_FIELD_NUMBER: _ClassVar[int]
    objection_id: str
    state: str
    label: str
    filed_at: _timestamp_pb2.Timestamp
    finding: str
    def __init__(self, objection_id: _Optional[str] = ..., state: _Optional[str] = ..., label: _Optional[str] = ..., filed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finding: _Optional[str] = ...) -> None: ...

class CategoryResult(_message.Message):
    __slots__ = ("category", "allowed", "reason_code", "message", "grant_id", "records", "withheld")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    category: str
    allowed: bool
    reason_code: str
    message: str
    grant_id: str
    records: _containers.RepeatedCompositeFieldContainer[DisclosedRecord]
    withheld: int
    def __init__(self, category: _Optional[str] = ..., allowed: _Optional[bool] = ..., reason_code: _Optional[str] = ..., message: _Optional[str] = ..., grant_id: _Optional[str] = ..., records: _Optional[_Iterable[_Union[DisclosedRecord, _Mapping]]] = ..., withheld: _Optional[int] = ...) -> None: ...

class SelfQueryProof(_message.Message):
    __slots__ = ("nonce", "issued_at", "signature")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    nonce: str
    issued_at: _timestamp_pb2.Timestamp
    signature: bytes
    def __init__(self, nonce: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("credit_code", "purpose", "categories", "self_query", "trace_id")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    SELF_QUERY_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    purpose: _common_pb2.Purpose
    categories: _containers.RepeatedScalarFieldContainer[str]
    self_query: SelfQueryProof
    trace_id: str
    def __init__(self, credit_code: _Optional[str] = ..., purpose: _Optional[_Union[_common_pb2.Purpose, str]] = ..., categories: _Optional[_Iterable[str]] = ..., self_query: _Optional[_Union[SelfQueryProof, _Mapping]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("credit_code", "categories", "trace_id", "ledger_index")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    categories: _containers.RepeatedCompositeFieldContainer[CategoryResult]
    trace_id: str
    ledger_index: int
    def __init__(self, credit_code: _Optional[str] = ..., categories: _Optional[_Iterable[_Union[CategoryResult, _Mapping]]] = ..., trace_id: _Optional[str] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class QueryBatchRequest(_message.Message):
    __slots__ = ("credit_codes", "purpose", "categories", "trace_id")
    CREDIT_CODES_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    credit_codes: _containers.RepeatedScalarFieldContainer[str]
    purpose: _common_pb2.Purpose
    categories: _containers.RepeatedScalarFieldContainer[str]
    trace_id: str
    def __init__(self, credit_codes: _Optional[_Iterable[str]] = ..., purpose: _Optional[_Union[_common_pb2.Purpose, str]] = ..., categories: _Optional[_Iterable[str]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class QueryBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[QueryResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[QueryResponse, _Mapping]]] = ...) -> None: ...

class QueryStreamRequest(_message.Message):
    __slots__ = ("credit_code", "purpose", "categories", "trace_id")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    purpose: _common_pb2.Purpose
    categories: _containers.RepeatedScalarFieldContainer[str]
    trace_id: str
    def __init__(self, credit_code: _Optional[str] = ..., purpose: _Optional[_Union[_common_pb2.Purpose, str]] = ..., categories: _Optional[_Iterable[str]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class QueryStreamResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: QueryResponse
    def __init__(self, result: _Optional[_Union[QueryResponse, _Mapping]] = ...) -> None: ...
