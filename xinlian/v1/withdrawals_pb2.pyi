from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WithdrawalOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WITHDRAWAL_OUTCOME_UNSPECIFIED: _ClassVar[WithdrawalOutcome]
    WITHDRAWAL_OUTCOME_WITHDRAWN: _ClassVar[WithdrawalOutcome]
    WITHDRAWAL_OUTCOME_ALREADY_WITHDRAWN: _ClassVar[WithdrawalOutcome]
    WITHDRAWAL_OUTCOME_NOT_FOUND: _ClassVar[WithdrawalOutcome]
WITHDRAWAL_OUTCOME_UNSPECIFIED: WithdrawalOutcome
WITHDRAWAL_OUTCOME_WITHDRAWN: WithdrawalOutcome
WITHDRAWAL_OUTCOME_ALREADY_WITHDRAWN: WithdrawalOutcome
WITHDRAWAL_OUTCOME_NOT_FOUND: WithdrawalOutcome

class WithdrawRecordsRequest(_message.Message):
    __slots__ = ("category", "record_ids", "reason")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    RECORD_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    category: str
    record_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, category: _Optional[str] = ..., record_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class WithdrawalResult(_message.Message):
    __slots__ = ("record_id", "outcome", "versions", "ledger_index")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    outcome: WithdrawalOutcome
    versions: int
    ledger_index: int
    def __init__(self, record_id: _Optional[str] = ..., outcome: _Optional[_Union[WithdrawalOutcome, str]] = ..., versions: _Optional[int] = ..., ledger_index: _Optional[int] = ...) -> None: ...

class WithdrawRecordsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[WithdrawalResult]
    def __init__(self, results: _Optional[_Iterable[_Union[WithdrawalResult, _Mapping]]] = ...) -> None: ...
