from xinlian.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FieldType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIELD_TYPE_UNSPECIFIED: _ClassVar[FieldType]
    FIELD_TYPE_STRING: _ClassVar[FieldType]
    FIELD_TYPE_INTEGER: _ClassVar[FieldType]
    FIELD_TYPE_DECIMAL: _ClassVar[FieldType]
    FIELD_TYPE_DATE: _ClassVar[FieldType]
    FIELD_TYPE_DATETIME: _ClassVar[FieldType]
    FIELD_TYPE_BOOLEAN: _ClassVar[FieldType]

class Sensitivity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENSITIVITY_UNSPECIFIED: _ClassVar[Sensitivity]
    SENSITIVITY_PUBLIC: _ClassVar[Sensitivity]
    SENSITIVITY_INTERNAL: _ClassVar[Sensitivity]
    SENSITIVITY_C1: _ClassVar[Sensitivity]
    SENSITIVITY_C2: _ClassVar[Sensitivity]
    SENSITIVITY_C3: _ClassVar[Sensitivity]
FIELD_TYPE_UNSPECIFIED: FieldType
FIELD_TYPE_STRING: FieldType
FIELD_TYPE_INTEGER: FieldType
FIELD_TYPE_DECIMAL: FieldType
FIELD_TYPE_DATE: FieldType
FIELD_TYPE_DATETIME: FieldType
FIELD_TYPE_BOOLEAN: FieldType
SENSITIVITY_UNSPECIFIED: Sensitivity
SENSITIVITY_PUBLIC: Sensitivity
SENSITIVITY_INTERNAL: Sensitivity
SENSITIVITY_C1: Sensitivity
SENSITIVITY_C2: Sensitivity
SENSITIVITY_C3: Sensitivity

class CatalogField(_message.Message):
    __slots__ = ("name", "name_zh", "type", "required", "sensitivity", "default_mask", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_ZH_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MASK_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    name_zh: str
    type: FieldType
    required: bool
    sensitivity: Sensitivity
    default_mask: str
    description: str
    def __init__(self, name: _Optional[str] = ..., name_zh: _Optional[str] = ..., type: _Optional[_Union[FieldType, str]] = ..., required: _Optional[bool] = ..., sensitivity: _Optional[_Union[Sensitivity, str]] = ..., default_mask: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class CatalogCategory(_message.Message):
    __slots__ = ("id", "name_zh", "name_en", "department", "public", "fields", "update_frequency", "update_deadline_days", "relay_upstream", "purposes", "negative")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_ZH_FIELD_NUMBER: _ClassVar[int]
    NAME_EN_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_DEADLINE_DAYS_FIELD_NUMBER: _ClassVar[int]
    RELAY_UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name_zh: str
    name_en: str
    department: str
    public: bool
    fields: _containers.RepeatedCompositeFieldContainer[CatalogField]
    update_frequency: str
    update_deadline_days: int
    relay_upstream: bool
    purposes: _containers.RepeatedScalarFieldContainer[_common_pb2.Purpose]
    negative: bool
    def __init__(self, id: _Optional[str] = ..., name_zh: _Optional[str] = ..., name_en: _Optional[str] = ..., department: _Optional[str] = ..., public: _Optional[bool] = ..., fields: _Optional[_Iterable[_Union[CatalogField, _Mapping]]] = ..., update_frequency: _Optional[str] = ..., update_deadline_days: _Optional[int] = ..., relay_upstream: _Optional[bool] = ..., purposes: _Optional[_Iterable[_Union[_common_pb2.Purpose, str]]] = ..., negative: _Optional[bool] = ...) -> None: ...

class GetCatalogRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCatalogResponse(_message.Message):
    __slots__ = ("version", "categories")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    version: str
    categories: _containers.RepeatedCompositeFieldContainer[CatalogCategory]
    def __init__(self, version: _Optional[str] = ..., categories: _Optional[_Iterable[_Union[CatalogCategory, _Mapping]]] = ...) -> None: ...
