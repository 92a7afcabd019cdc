"""Source values to the catalog's wire text: dates, amounts (元 / 万元), code lists,
booleans, and times (naive source times are read in the configured zone,
Asia/Shanghai by default).

Each function raises :class:`ConversionError` naming the column and the value; the row
is then rejected locally (``BAD_SOURCE_VALUE``) and kept in the rejects store.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from authz.catalog import FieldType
from node_agent.sync.config import FieldMap

WAN = Decimal(10_000)  # 1 万元 = 10,000 元
TRUE_TEXTS = frozenset({"1", "true", "t", "y", "yes", "是"})
FALSE_TEXTS = frozenset({"0", "false", "f", "n", "no", "否"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_SHOWN = 80


class ConversionError(ValueError):
    """A source value that cannot become its catalog field."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def to_time(column: str, value: Any, zone: tzinfo, fmt: str = "") -> datetime:
    """An aware time (UTC) from a datetime, a date (its local midnight) or text."""
    when: datetime
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime.combine(value, time())
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            when = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
        except ValueError:
            raise ConversionError(
                f"{column}: got {_shown(value)}, want a date or time"
                + (f" in the form {fmt}" if fmt else " (ISO 8601)")
            ) from None
    else:
        raise ConversionError(f"{column}: got {_shown(value)}, want a date or time")
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(UTC)


def time_version(column: str, value: Any, zone: tzinfo) -> int:
    """A record version from an updated-at time: microseconds since 1970 (UTC)."""
    return (to_time(column, value, zone) - EPOCH) // _MICROSECOND


def integer(column: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConversionError(f"{column}: got {_shown(value)}, want an integer")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConversionError(f"{column}: got {_shown(value)}, want an integer") from None
    if number != number.to_integral_value():
        raise ConversionError(f"{column}: got {_shown(value)}, want an integer")
    return int(number)


def field_text(spec: FieldMap, ftype: FieldType, value: Any, zone: tzinfo) -> str | None:
    """The wire text of one field (None: absent — a NULL or empty source value)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    column = spec.column
    if spec.codes:
        key = str(value).strip()
        if key not in spec.codes:
            known = ", ".join(sorted(spec.codes))
            raise ConversionError(f"{column}: got code {_shown(key)}, want one of {known}")
        value = spec.codes[key]
    if ftype is FieldType.DATE:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        return to_time(column, value, zone, spec.format).astimezone(zone).date().isoformat()
    if ftype is FieldType.DATETIME:
        return to_time(column, value, zone, spec.format).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if ftype is FieldType.DECIMAL:
        return _amount(column, value, spec.unit)
    if ftype is FieldType.INTEGER:
        return str(integer(column, value))
    if ftype is FieldType.BOOLEAN:
        return _boolean(column, value)
    return str(value) if not isinstance(value, bytes) else value.decode("utf-8", "replace")


def _amount(column: str, value: Any, unit: str) -> str:
    if isinstance(value, bool):
        raise ConversionError(f"{column}: got {_shown(value)}, want a number")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ConversionError(f"{column}: got {_shown(value)}, want a number") from None
    if not number.is_finite():
        raise ConversionError(f"{column}: got {_shown(value)}, want a finite number")
    if unit == "wan_yuan":
        number *= WAN
    text = format(number.normalize(), "f")
    return text


def _boolean(column: str, value: Any) -> str:
    text = str(value).strip().lower()
    if text in TRUE_TEXTS:
        return "true"
    if text in FALSE_TEXTS:
        return "false"
    raise ConversionError(f"{column}: got {_shown(value)}, want a yes/no value")


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - EPOCH
