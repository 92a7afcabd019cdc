"""A category's mapping: source rows to catalog records (or withdrawals).

Checked against the catalog once, at start (:func:`check_mapping`): an unknown category
or field, or a required field without a source column, is a :class:`MappingError`
naming it — the command exits 2 before reading a row. Each row then becomes the object
form of a pushed record (``credit_code``, ``record_id``, ``version``, ``event_time``,
``fields``) and is checked exactly as a pushed file's line is
(``node_agent.push_input.ObjectReader``); a value that cannot be converted rejects the
row locally as ``BAD_SOURCE_VALUE``. A row whose ``deleted`` column holds one of
``deleted_values`` is a withdrawal of its record id, not a record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from authz.catalog import Catalog, Category
from node_agent.push_input import InputRecord, ObjectReader
from node_agent.sync.config import CategoryConfig, MappingConfig, SyncConfigError
from node_agent.sync.convert import ConversionError, field_text, integer, time_version, to_time
from xinlian.batch import format_time

BAD_SOURCE_VALUE = "BAD_SOURCE_VALUE"
RECORD_ID_SEPARATOR = ":"  # between the values of a record id made of several columns


class MappingError(SyncConfigError):
    """The mapping does not fit the catalog; the message names the field."""


def check_mapping(config: CategoryConfig, catalog: Catalog) -> Category:
    """The category, once its mapping fits it; else :class:`MappingError`."""
    category = catalog.get(config.id)
    if category is None:
        known = ", ".join(sorted(catalog.categories))
        raise MappingError(f"category: got {config.id!r}, want one of {known}")
    names = set(category.field_names)
    for name in config.mapping.fields:
        if name not in names:
            raise MappingError(
                f"category {config.id}: mapping.fields.{name}: not a field of {config.id} "
                f"(its fields: {', '.join(category.field_names)})"
            )
    for spec in category.fields:
        if spec.required and spec.name not in config.mapping.fields:
            raise MappingError(
                f"category {config.id}: the required field {spec.name} ({spec.name_zh}) "
                "has no source column in mapping.fields"
            )
    _zone(config.mapping)
    return category


def _zone(mapping: MappingConfig) -> tzinfo:
    try:
        return ZoneInfo(mapping.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(
            f"mapping.timezone: got {mapping.timezone!r}, want a zone such as Asia/Shanghai"
        ) from None


@dataclass(frozen=True)
class MappedRow:
    """One source row: a record to push (``item``), or a withdrawal of ``record_id``."""

    record_id: str
    key: Any  # the row's watermark value (an id watermark: what resync re-reads)
    item: InputRecord | None = None
    withdrawn: bool = False


class Mapper:
    """Turns a category's source rows into records (see the module docstring)."""

    def __init__(self, config: CategoryConfig, catalog: Catalog, key_column: str = "") -> None:
        self.category = check_mapping(config, catalog)
        self.mapping = config.mapping
        self.zone = _zone(config.mapping)
        self.key_column = key_column
        self._reader = ObjectReader(config.id, catalog)
        self._types = {spec.name: spec.type for spec in self.category.fields}
        self._columns = frozenset(self.columns())

    def columns(self) -> set[str]:
        """Every source column the mapping reads."""
        m = self.mapping
        named = {m.credit_code, *m.record_id, m.version, m.event_time}
        named |= {spec.column for spec in m.fields.values()}
        if m.deleted:
            named.add(m.deleted)
        return named

    def row(self, number: int, row: Mapping[str, Any]) -> MappedRow:
        m = self.mapping
        key = row.get(self.key_column) if self.key_column else None
        record_id = RECORD_ID_SEPARATOR.join(
            "" if row.get(c) is None else str(row.get(c)) for c in m.record_id
        )
        if m.deleted and str(row.get(m.deleted, "")).strip().lower() in m.deleted_values:
            return MappedRow(record_id, key, withdrawn=True)
        # the source row, kept by the rejects store (its values made JSON there)
        original = dict(row)
        original["_record_id"] = record_id  # the rejects store's key (not stored in the row)
        try:
            if not self._columns <= row.keys():
                missing = sorted(self._columns - row.keys())
                raise ConversionError(f"{missing[0]}: the source row has no such column")
            event = to_time(m.event_time, row.get(m.event_time), self.zone)
            original["_event_time"] = event.isoformat()  # a reject's deadline counts from it
            obj = self._object(row, record_id, event)
        except ConversionError as exc:
            item = InputRecord(number, original, None, (BAD_SOURCE_VALUE, str(exc)), number + 1)
            return MappedRow(record_id, key, item)
        item = self._reader.read(number, obj)
        item.original = original  # the rejects store keeps the source row
        return MappedRow(record_id, key, item)

    def _object(self, row: Mapping[str, Any], record_id: str, event: datetime) -> dict[str, Any]:
        m = self.mapping
        if m.version_kind == "time":
            version = time_version(m.version, row[m.version], self.zone)
        else:
            version = integer(m.version, row[m.version])
        fields: dict[str, str] = {}
        for name, spec in m.fields.items():
            text = field_text(spec, self._types[name], row[spec.column], self.zone)
            if text is not None:
                fields[name] = text
        return {
            "credit_code": "" if row[m.credit_code] is None else str(row[m.credit_code]).strip(),
            "record_id": record_id,
            "version": version,
            "event_time": format_time(event),
            "fields": fields,
        }
