import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Repair(_message.Message):
    __slots__ = ("repair_id", "kind", "credit_code", "source_node_id", "record_id", "version", "category", "basis", "signer_node_id", "signer_kind", "application_id", "recorded_at", "ledger_index")
    REPAIR_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    SIGNER_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNER_KIND_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    repair_id: str
    kind: str
    credit_code: str
    source_node_id: str
    record_id: str
    version: int
    category: str
    basis: str
    signer_node_id: str
    signer_kind: str
    application_id: str
    recorded_at: _timestamp_pb2.Timestamp
    ledger_index: int
    def __init__(self, repair_id: _Optional[str] = ..., kind: _Optional[str] = ..., credit_code: _Optional[str] = ..., source_node_id: _Optional[str] = ..., record_id: _Optional[str] = ..., version: _Optional[int] = ..., category: _Optional[str] = ..., basis: _Optional[str] = ..., signer_node_id: _Optional[str] = ..., signer_kind: _Optional[str] = ..., application_id: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class RecordRepairRequest(_message.Message):
    __slots__ = ("statement", "signature")
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    statement: bytes
    signature: bytes
    def __init__(self, statement: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class RecordRepairResponse(_message.Message):
    __slots__ = ("repair", "notices")
    REPAIR_FIELD_NUMBER: _ClassVar[int]
    NOTICES_FIELD_NUMBER: _ClassVar[int]
    repair: Repair
    notices: int
    def __init__(self, repair: _Optional[_Union[Repair, _Mapping]] = ..., notices: _Optional[int] = ...) -> None: ...

class RepairApplicationView(_message.Message):
    __slots__ = ("application_id", "credit_code", "source_node_id", "record_id", "category", "reason", "platform_node_id", "filed_at", "state", "answered_by", "answer_reason", "repair_id")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    FILED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    ANSWER_REASON_FIELD_NUMBER: _ClassVar[int]
    REPAIR_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    credit_code: str
    source_node_id: str
    record_id: str
    category: str
    reason: str
    platform_node_id: str
    filed_at: _timestamp_pb2.Timestamp
    state: str
    answered_by: str
    answer_reason: str
    repair_id: str
    def __init__(self, application_id: _Optional[str] = ..., credit_code: _Optional[str] = ..., source_node_id: _Optional[str] = ..., record_id: _Optional[str] = ..., category: _Optional[str] = ..., reason: _Optional[str] = ..., platform_node_id: _Optional[str] = ..., filed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[str] = ..., answered_by: _Optional[str] = ..., answer_reason: _Optional[str] = ..., repair_id: _Optional[str] = ...) -> None: ...

class ApplyForRepairRequest(_message.Message):
    __slots__ = ("statement", "signature")
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    statement: bytes
    signature: bytes
    def __init__(self, statement: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class ApplyForRepairResponse(_message.Message):
    __slots__ = ("application", "ledger_index")
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    application: RepairApplicationView
    ledger_index: int
    def __init__(self, application: _Optional[_Union[RepairApplicationView, _Mapping]] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class RefuseRepairApplicationRequest(_message.Message):
    __slots__ = ("application_id", "reason")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    reason: str
    def __init__(self, application_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RefuseRepairApplicationResponse(_message.Message):
    __slots__ = ("application", "ledger_index")
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    application: RepairApplicationView
    ledger_index: int
    def __init__(self, application: _Optional[_Union[RepairApplicationView, _Mapping]] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class ListRepairsRequest(_message.Message):
    __slots__ = ("credit_code",)
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    def __init__(self, credit_code: _Optional[str] = ...) -> None: ...

class ListRepairsResponse(_message.Message):
    __slots__ = ("repairs",)
    REPAIRS_FIELD_NUMBER: _ClassVar[int]
    repairs: _containers.RepeatedCompositeFieldContainer[Repair]
    def __init__(self, repairs: _Optional[_Iterable[_Union[Repair, _Mapping]]] = ...) -> None: ...

class ListRepairApplicationsRequest(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: str
    def __init__(self, state: _Optional[str] = ...) -> None: ...

class ListRepairApplicationsResponse(_message.Message):
    __slots__ = ("applications",)
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    applications: _containers.RepeatedCompositeFieldContainer[RepairApplicationView]
    def __init__(self, applications: _Optional[_Iterable[_Union[RepairApplicationView, _Mapping]]] = ...) -> None: ...
