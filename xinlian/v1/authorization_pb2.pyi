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

class GrantStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANT_STATUS_UNSPECIFIED: _ClassVar[GrantStatus]
    GRANT_STATUS_ACTIVE: _ClassVar[GrantStatus]
    GRANT_STATUS_REVOKED: _ClassVar[GrantStatus]
    GRANT_STATUS_EXPIRED: _ClassVar[GrantStatus]
    GRANT_STATUS_NOT_YET_VALID: _ClassVar[GrantStatus]
    GRANT_STATUS_USED_UP: _ClassVar[GrantStatus]
GRANT_STATUS_UNSPECIFIED: GrantStatus
GRANT_STATUS_ACTIVE: GrantStatus
GRANT_STATUS_REVOKED: GrantStatus
GRANT_STATUS_EXPIRED: GrantStatus
GRANT_STATUS_NOT_YET_VALID: GrantStatus
GRANT_STATUS_USED_UP: GrantStatus

class IdentityAttestation(_message.Message):
    __slots__ = ("method", "evidence_ref", "verified_at")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_REF_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    method: str
    evidence_ref: str
    verified_at: _timestamp_pb2.Timestamp
    def __init__(self, method: _Optional[str] = ..., evidence_ref: _Optional[str] = ..., verified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Enterprise(_message.Message):
    __slots__ = ("credit_code", "name", "public_key_pem", "key_version", "registered_by", "attestation", "frozen", "open_objections")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_BY_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    OPEN_OBJECTIONS_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    name: str
    public_key_pem: str
    key_version: int
    registered_by: str
    attestation: IdentityAttestation
    frozen: bool
    open_objections: int
    def __init__(self, credit_code: _Optional[str] = ..., name: _Optional[str] = ..., public_key_pem: _Optional[str] = ..., key_version: _Optional[int] = ..., registered_by: _Optional[str] = ..., attestation: _Optional[_Union[IdentityAttestation, _Mapping]] = ..., frozen: _Optional[bool] = ..., open_objections: _Optional[int] = ...) -> None: ...

class RegisterEnterpriseRequest(_message.Message):
    __slots__ = ("credit_code", "name", "public_key_pem", "attestation")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    name: str
    public_key_pem: str
    attestation: IdentityAttestation
    def __init__(self, credit_code: _Optional[str] = ..., name: _Optional[str] = ..., public_key_pem: _Optional[str] = ..., attestation: _Optional[_Union[IdentityAttestation, _Mapping]] = ...) -> None: ...

class RegisterEnterpriseResponse(_message.Message):
    __slots__ = ("enterprise",)
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    enterprise: Enterprise
    def __init__(self, enterprise: _Optional[_Union[Enterprise, _Mapping]] = ...) -> None: ...

class RotateEnterpriseKeyRequest(_message.Message):
    __slots__ = ("credit_code", "new_public_key_pem", "issued_at", "signature")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    NEW_PUBLIC_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    new_public_key_pem: str
    issued_at: _timestamp_pb2.Timestamp
    signature: bytes
    def __init__(self, credit_code: _Optional[str] = ..., new_public_key_pem: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class RotateEnterpriseKeyResponse(_message.Message):
    __slots__ = ("enterprise",)
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    enterprise: Enterprise
    def __init__(self, enterprise: _Optional[_Union[Enterprise, _Mapping]] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("grant_id", "credit_code", "grantee_node_id", "categories", "fields", "purpose", "not_before", "not_after", "max_uses", "issued_at")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    MAX_USES_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    credit_code: str
    grantee_node_id: str
    categories: _containers.RepeatedScalarFieldContainer[str]
    fields: _containers.RepeatedScalarFieldContainer[str]
    purpose: _common_pb2.Purpose
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    max_uses: int
    issued_at: _timestamp_pb2.Timestamp
    def __init__(self, grant_id: _Optional[str] = ..., credit_code: _Optional[str] = ..., grantee_node_id: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ..., fields: _Optional[_Iterable[str]] = ..., purpose: _Optional[_Union[_common_pb2.Purpose, str]] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_uses: _Optional[int] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GrantView(_message.Message):
    __slots__ = ("grant", "status", "uses", "revoked_at", "revoke_reason", "submitted_by")
    GRANT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKE_REASON_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    status: GrantStatus
    uses: int
    revoked_at: _timestamp_pb2.Timestamp
    revoke_reason: str
    submitted_by: str
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ..., status: _Optional[_Union[GrantStatus, str]] = ..., uses: _Optional[int] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoke_reason: _Optional[str] = ..., submitted_by: _Optional[str] = ...) -> None: ...

class SubmitGrantRequest(_message.Message):
    __slots__ = ("grant", "signature")
    GRANT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    signature: bytes
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SubmitGrantResponse(_message.Message):
    __slots__ = ("grant", "ledger_index")
    GRANT_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    grant: GrantView
    ledger_index: int
    def __init__(self, grant: _Optional[_Union[GrantView, _Mapping]] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class RevokeGrantRequest(_message.Message):
    __slots__ = ("grant_id", "revoked_at", "reason", "signature")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    revoked_at: _timestamp_pb2.Timestamp
    reason: str
    signature: bytes
    def __init__(self, grant_id: _Optional[str] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class RevokeGrantResponse(_message.Message):
    __slots__ = ("grant",)
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: GrantView
    def __init__(self, grant: _Optional[_Union[GrantView, _Mapping]] = ...) -> None: ...

class ListGrantsRequest(_message.Message):
    __slots__ = ("credit_code", "grantee_node_id", "include_inactive")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    grantee_node_id: str
    include_inactive: bool
    def __init__(self, credit_code: _Optional[str] = ..., grantee_node_id: _Optional[str] = ..., include_inactive: _Optional[bool] = ...) -> None: ...

class ListGrantsResponse(_message.Message):
    __slots__ = ("grants",)
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[GrantView]
    def __init__(self, grants: _Optional[_Iterable[_Union[GrantView, _Mapping]]] = ...) -> None: ...

class RenderAuthorizationLetterRequest(_message.Message):
    __slots__ = ("grant",)
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ...) -> None: ...

class RenderAuthorizationLetterResponse(_message.Message):
    __slots__ = ("text", "fingerprint")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    text: str
    fingerprint: str
    def __init__(self, text: _Optional[str] = ..., fingerprint: _Optional[str] = ...) -> None: ...
