import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LedgerEntry(_message.Message):
    __slots__ = ("index", "entry", "leaf_hash", "action", "actor", "credit_code", "outcome", "trace_id", "time", "subject")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    index: int
    entry: bytes
    leaf_hash: bytes
    action: str
    actor: str
    credit_code: str
    outcome: str
    trace_id: str
    time: _timestamp_pb2.Timestamp
    subject: str
    def __init__(self, index: _Optional[int] = ..., entry: _Optional[bytes] = ..., leaf_hash: _Optional[bytes] = ..., action: _Optional[str] = ..., actor: _Optional[str] = ..., credit_code: _Optional[str] = ..., outcome: _Optional[str] = ..., trace_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., subject: _Optional[str] = ...) -> None: ...

class GetCheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCheckpointResponse(_message.Message):
    __slots__ = ("checkpoint", "tree_size", "root_hash", "verifier_key")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    checkpoint: str
    tree_size: int
    root_hash: bytes
    verifier_key: str
    def __init__(self, checkpoint: _Optional[str] = ..., tree_size: _Optional[int] = ..., root_hash: _Optional[bytes] = ..., verifier_key: _Optional[str] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("index", "tree_size")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ...) -> None: ...

class GetInclusionProofResponse(_message.Message):
    __slots__ = ("index", "tree_size", "leaf_hash", "proof")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    leaf_hash: bytes
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ..., proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("first_size", "second_size")
    FIRST_SIZE_FIELD_NUMBER: _ClassVar[int]
    SECOND_SIZE_FIELD_NUMBER: _ClassVar[int]
    first_size: int
    second_size: int
    def __init__(self, first_size: _Optional[int] = ..., second_size: _Optional[int] = ...) -> None: ...

class GetConsistencyProofResponse(_message.Message):
    __slots__ = ("proof",)
    PROOF_FIELD_NUMBER: _ClassVar[int]
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SearchEntriesRequest(_message.Message):
    __slots__ = ("node_id", "credit_code", "action", "outcome", "since", "until", "page_size", "page_token")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    credit_code: str
    action: str
    outcome: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, node_id: _Optional[str] = ..., credit_code: _Optional[str] = ..., action: _Optional[str] = ..., outcome: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SearchEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Provenance(_message.Message):
    __slots__ = ("record_id", "version", "source_node_id", "batch_id", "batch_signature", "received_at", "category", "credit_code", "ledger_index", "erasure_ledger_index")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    ERASURE_LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    version: int
    source_node_id: str
    batch_id: str
    batch_signature: bytes
    received_at: _timestamp_pb2.Timestamp
    category: str
    credit_code: str
    ledger_index: int
    erasure_ledger_index: int
    def __init__(self, record_id: _Optional[str] = ..., version: _Optional[int] = ..., source_node_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., batch_signature: _Optional[bytes] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., category: _Optional[str] = ..., credit_code: _Optional[str] = ..., ledger_index: _Optional[int] = ..., erasure_ledger_index: _Optional[int] = ...) -> None: ...

class Destination(_message.Message):
    __slots__ = ("consumer_node_id", "fields", "masks", "grant_id", "time", "ledger_index", "trace_id", "purpose")
    CONSUMER_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    MASKS_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    consumer_node_id: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    masks: _containers.RepeatedScalarFieldContainer[str]
    grant_id: str
    time: _timestamp_pb2.Timestamp
    ledger_index: int
    trace_id: str
    purpose: str
    def __init__(self, consumer_node_id: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., masks: _Optional[_Iterable[str]] = ..., grant_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ledger_index: _Optional[int] = ..., trace_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class TraceRecordRequest(_message.Message):
    __slots__ = ("record_id", "source_node_id")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    source_node_id: str
    def __init__(self, record_id: _Optional[str] = ..., source_node_id: _Optional[str] = ...) -> None: ...

class TraceRecordResponse(_message.Message):
    __slots__ = ("sources", "destinations", "notices")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    NOTICES_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[Provenance]
    destinations: _containers.RepeatedCompositeFieldContainer[Destination]
    notices: _containers.RepeatedCompositeFieldContainer[NoticeTrace]
    def __init__(self, sources: _Optional[_Iterable[_Union[Provenance, _Mapping]]] = ..., destinations: _Optional[_Iterable[_Union[Destination, _Mapping]]] = ..., notices: _Optional[_Iterable[_Union[NoticeTrace, _Mapping]]] = ...) -> None: ...

class NoticeTrace(_message.Message):
    __slots__ = ("notice_id", "node_id", "record_id", "old_version", "new_version", "reason", "changed_fields", "created_at", "ledger_index", "ack_ledger_index")
    NOTICE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_VERSION_FIELD_NUMBER: _ClassVar[int]
    NEW_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    ACK_LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    notice_id: int
    node_id: str
    record_id: str
    old_version: int
    new_version: int
    reason: str
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    ledger_index: int
    ack_ledger_index: int
    def __init__(self, notice_id: _Optional[int] = ..., node_id: _Optional[str] = ..., record_id: _Optional[str] = ..., old_version: _Optional[int] = ..., new_version: _Optional[int] = ..., reason: _Optional[str] = ..., changed_fields: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ledger_index: _Optional[int] = ..., ack_ledger_index: _Optional[int] = ...) -> None: ...

class TraceEnterpriseRequest(_message.Message):
    __slots__ = ("credit_code", "page_size", "page_token")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    page_size: int
    page_token: str
    def __init__(self, credit_code: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class TraceEnterpriseResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExportLedgerRequest(_message.Message):
    __slots__ = ("start_index",)
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    start_index: int
    def __init__(self, start_index: _Optional[int] = ...) -> None: ...

class ExportLedgerResponse(_message.Message):
    __slots__ = ("entries", "checkpoint", "verifier_key")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    checkpoint: str
    verifier_key: str
    def __init__(self, entries: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ..., checkpoint: _Optional[str] = ..., verifier_key: _Optional[str] = ...) -> None: ...
