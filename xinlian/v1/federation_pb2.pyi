from xinlian.v1 import common_pb2 as _common_pb2
from xinlian.v1 import exchange_pb2 as _exchange_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JoinRequest(_message.Message):
    __slots__ = ("endpoint", "enroll_endpoint", "tls_server_name", "ca_certificate_pem", "ledger_verifier_key", "checkpoint_origin", "downlink_token", "catalog_version")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    ENROLL_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    TLS_SERVER_NAME_FIELD_NUMBER: _ClassVar[int]
    CA_CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    LEDGER_VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    DOWNLINK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CATALOG_VERSION_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    enroll_endpoint: str
    tls_server_name: str
    ca_certificate_pem: str
    ledger_verifier_key: str
    checkpoint_origin: str
    downlink_token: str
    catalog_version: str
    def __init__(self, endpoint: _Optional[str] = ..., enroll_endpoint: _Optional[str] = ..., tls_server_name: _Optional[str] = ..., ca_certificate_pem: _Optional[str] = ..., ledger_verifier_key: _Optional[str] = ..., checkpoint_origin: _Optional[str] = ..., downlink_token: _Optional[str] = ..., catalog_version: _Optional[str] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("upstream_gateway_id", "upstream_region", "directory_verifier_key", "ledger_index")
    UPSTREAM_GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_REGION_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    upstream_gateway_id: str
    upstream_region: str
    directory_verifier_key: str
    ledger_index: int
    def __init__(self, upstream_gateway_id: _Optional[str] = ..., upstream_region: _Optional[str] = ..., directory_verifier_key: _Optional[str] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class GetDirectoryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDirectoryResponse(_message.Message):
    __slots__ = ("signed_note",)
    SIGNED_NOTE_FIELD_NUMBER: _ClassVar[int]
    signed_note: str
    def __init__(self, signed_note: _Optional[str] = ...) -> None: ...

class RelayedBatch(_message.Message):
    __slots__ = ("source_node_id", "batch_id", "category", "signed_content", "signature", "signer_certificate_pem", "source_gateway_id", "source_ledger_index")
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SIGNED_CONTENT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNER_CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    SOURCE_GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    source_node_id: str
    batch_id: str
    category: str
    signed_content: bytes
    signature: bytes
    signer_certificate_pem: str
    source_gateway_id: str
    source_ledger_index: int
    def __init__(self, source_node_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., category: _Optional[str] = ..., signed_content: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., signer_certificate_pem: _Optional[str] = ..., source_gateway_id: _Optional[str] = ..., source_ledger_index: _Optional[int] = ...) -> None: ...

class RelayRequest(_message.Message):
    __slots__ = ("direction", "batches", "trace_id")
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    direction: str
    batches: _containers.RepeatedCompositeFieldContainer[RelayedBatch]
    trace_id: str
    def __init__(self, direction: _Optional[str] = ..., batches: _Optional[_Iterable[_Union[RelayedBatch, _Mapping]]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class RelayResult(_message.Message):
    __slots__ = ("batch_id", "outcomes", "reason_code", "message")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    outcomes: str
    reason_code: str
    message: str
    def __init__(self, batch_id: _Optional[str] = ..., outcomes: _Optional[str] = ..., reason_code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RelayResponse(_message.Message):
    __slots__ = ("results", "ledger_index", "gateway_id")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RelayResult]
    ledger_index: int
    gateway_id: str
    def __init__(self, results: _Optional[_Iterable[_Union[RelayResult, _Mapping]]] = ..., ledger_index: _Optional[int] = ..., gateway_id: _Optional[str] = ...) -> None: ...

class ForwardQueryRequest(_message.Message):
    __slots__ = ("credit_code", "purpose", "categories", "trace_id", "consumer_node_id", "consumer_kind", "origin_gateway_id", "hops")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_KIND_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    purpose: _common_pb2.Purpose
    categories: _containers.RepeatedScalarFieldContainer[str]
    trace_id: str
    consumer_node_id: str
    consumer_kind: _common_pb2.NodeKind
    origin_gateway_id: str
    hops: int
    def __init__(self, credit_code: _Optional[str] = ..., purpose: _Optional[_Union[_common_pb2.Purpose, str]] = ..., categories: _Optional[_Iterable[str]] = ..., trace_id: _Optional[str] = ..., consumer_node_id: _Optional[str] = ..., consumer_kind: _Optional[_Union[_common_pb2.NodeKind, str]] = ..., origin_gateway_id: _Optional[str] = ..., hops: _Optional[int] = ...) -> None: ...

class ForwardQueryResponse(_message.Message):
    __slots__ = ("answer", "ledger_index", "gateway_id", "answered_by")
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    answer: _exchange_pb2.QueryResponse
    ledger_index: int
    gateway_id: str
    answered_by: str
    def __init__(self, answer: _Optional[_Union[_exchange_pb2.QueryResponse, _Mapping]] = ..., ledger_index: _Optional[int] = ..., gateway_id: _Optional[str] = ..., answered_by: _Optional[str] = ...) -> None: ...
