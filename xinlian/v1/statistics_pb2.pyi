import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ColumnKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLUMN_KIND_UNSPECIFIED: _ClassVar[ColumnKind]
    COLUMN_KIND_TEXT: _ClassVar[ColumnKind]
    COLUMN_KIND_INTEGER: _ClassVar[ColumnKind]
    COLUMN_KIND_SHARE: _ClassVar[ColumnKind]
COLUMN_KIND_UNSPECIFIED: ColumnKind
COLUMN_KIND_TEXT: ColumnKind
COLUMN_KIND_INTEGER: ColumnKind
COLUMN_KIND_SHARE: ColumnKind

class GetStatisticsRequest(_message.Message):
    __slots__ = ("month",)
    MONTH_FIELD_NUMBER: _ClassVar[int]
    month: str
    def __init__(self, month: _Optional[str] = ...) -> None: ...

class StatisticsColumn(_message.Message):
    __slots__ = ("name", "label", "kind")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: str
    kind: ColumnKind
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., kind: _Optional[_Union[ColumnKind, str]] = ...) -> None: ...

class StatisticsRow(_message.Message):
    __slots__ = ("cells",)
    CELLS_FIELD_NUMBER: _ClassVar[int]
    cells: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cells: _Optional[_Iterable[str]] = ...) -> None: ...

class StatisticsTable(_message.Message):
    __slots__ = ("name", "title", "columns", "rows")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    name: str
    title: str
    columns: _containers.RepeatedCompositeFieldContainer[StatisticsColumn]
    rows: _containers.RepeatedCompositeFieldContainer[StatisticsRow]
    def __init__(self, name: _Optional[str] = ..., title: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[StatisticsColumn, _Mapping]]] = ..., rows: _Optional[_Iterable[_Union[StatisticsRow, _Mapping]]] = ...) -> None: ...

class GetStatisticsResponse(_message.Message):
    __slots__ = ("month", "period_start", "period_end", "as_of", "ledger_size", "tables", "notes", "ledger_index")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    LEDGER_SIZE_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    LEDGER_INDEX_FIELD_NUMBER: _ClassVar[int]
    month: str
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    as_of: _timestamp_pb2.Timestamp
    ledger_size: int
    tables: _containers.RepeatedCompositeFieldContainer[StatisticsTable]
    notes: _containers.RepeatedScalarFieldContainer[str]
    ledger_index: int
    def __init__(self, month: _Optional[str] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ledger_size: _Optional[int] = ..., tables: _Optional[_Iterable[_Union[StatisticsTable, _Mapping]]] = ..., notes: _Optional[_Iterable[str]] = ..., ledger_index: _Optional[int] = ...) -> None: ...
