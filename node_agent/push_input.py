"""Reading the push input into records, checked locally before anything is sent.

Input formats (one record each; UTF-8, with or without a byte order mark; the lines and
rows are read by ``node_agent.push_lines``):

* JSONL (any name not ending in ``.csv``): one object per line with ``credit_code``,
  ``record_id``, ``version`` (integer), ``event_time`` (RFC 3339 with Z or an offset) and
  ``fields`` (an object of field name → value; numbers and booleans are turned into their
  wire text, ``null`` means absent). An optional ``category`` must equal ``--category``.
* CSV (``.csv``): a header ``credit_code,record_id,version,event_time`` followed by
  field names of the category (and optionally ``category``); an empty cell means the
  field is absent. A header that lacks a base column or names an unknown one is an
  error (:class:`PushInputError`) before anything is sent.

Blank lines — also lines of only Unicode white space such as U+3000 — are not records:
neither counted nor sent. Every other line (CSV: row) is a record and ends either sent
or rejected; a rejection names its line.

Checked here, before sending (the same pure checks the gateway runs,
``authz.records.RecordValidator``, with the same named limits): a record the gateway
would reject (VALUE_TOO_LONG, BAD_CREDIT_CODE, …) is rejected locally with the
gateway's reason code and message, so it never makes a message too large and never
costs its neighbours. Only the future bound of the event time is left to the gateway
(it depends on the clock; local verdicts must not change between a run and its resume).
A line that is not UTF-8, longer than ``MAX_LINE_BYTES``, not JSON, nested too deeply or
not a CSV row is rejected as ``MALFORMED_INPUT``; a file of which *no* record is UTF-8
is refused whole (:class:`PushInputError`, e.g. a GBK export).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from authz.catalog import Catalog
from authz.records import (
    EARLIEST_EVENT_US,
    RecordCheck,
    RecordValidator,
    RecordVerdict,
    check_event_time_us,
)
from node_agent.push_lines import Unit, is_csv_path, read_units
from xinlian.batch import BatchRecord
from xinlian.signing import canonical_json

BASE_COLUMNS = ("credit_code", "record_id", "version", "event_time")
INT64_MAX = 2**63 - 1
MAX_SHOWN_INPUT = 200  # characters of an unparseable line shown in a message
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Local reject codes (records that never leave the agent).
MALFORMED_INPUT = "MALFORMED_INPUT"
BAD_VERSION = "BAD_VERSION"
BAD_EVENT_TIME = "BAD_EVENT_TIME"
CATEGORY_MISMATCH = "CATEGORY_MISMATCH"


class PushInputError(ValueError):
    """The input cannot be pushed as given (an unknown category, a CSV header that is
    not one of the category, a file that is not UTF-8); nothing was sent."""


@dataclass
class InputRecord:
    number: int  # 0-based record number in the file
    original: dict[str, Any]
    record: BatchRecord | None
    reject: tuple[str, str] | None = None  # (reason_code, message) decided locally
    line: int = 0  # 1-based line of the file where the record starts
    size: int = 0  # bytes of the record in a canonical batch (sendable records)
    canonical: bytes = b""  # those bytes, when the reader keeps them (ObjectReader)


def require_category(catalog: Catalog, category: str) -> None:
    """Raise :class:`PushInputError` unless ``category`` is in the catalog."""
    if catalog.get(category) is None:
        known = ", ".join(sorted(catalog.categories))
        raise PushInputError(f"category: got {category!r}, want one of {known}")


def _csv_columns(path: Path, header: Unit | None, category: str, catalog: Catalog) -> list[str]:
    """The columns of a CSV header, or :class:`PushInputError` naming what is wrong."""
    spec = catalog.get(category)
    fields = spec.field_names if spec is not None else ()
    want = (
        f"want a header line {','.join(BASE_COLUMNS)} followed by fields of {category} "
        f"({', '.join(fields)})"
    )
    if header is None:
        raise PushInputError(f"{path}: got an empty CSV file, {want}")
    if header.error is not None or header.cells is None:
        raise PushInputError(f"{path}: cannot read the CSV header: {header.error}")
    columns = [cell.strip() for cell in header.cells]
    missing = [c for c in BASE_COLUMNS if c not in columns]
    if missing:
        shown = ",".join(header.cells)
        if len(shown) > MAX_SHOWN_INPUT:
            shown = shown[: MAX_SHOWN_INPUT - 1] + "…"
        raise PushInputError(
            f"{path}: line {header.line}: the CSV header lacks {', '.join(missing)}; "
            f"got {shown!r}, {want}"
        )
    allowed = {*BASE_COLUMNS, "category", *fields}
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        raise PushInputError(
            f"{path}: line {header.line}: the CSV header names unknown columns "
            f"{', '.join(repr(c) for c in unknown)}; {want}"
        )
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise PushInputError(
            f"{path}: line {header.line}: the CSV header names {', '.join(twice)} twice"
        )
    return columns


@dataclass(frozen=True)
class FileScan:
    """What one pass over the file found, before anything is sent."""

    sha256: str
    records: int  # non-blank lines (JSONL) or non-blank rows after the header (CSV)
    not_utf8: int  # of those, how many are not UTF-8


def scan_file(path: Path, category: str, catalog: Catalog | None = None) -> FileScan:
    """The file's SHA-256 and its number of records, counted exactly as
    :func:`read_records` reads them. Raises :class:`PushInputError` for a CSV header
    that is not one of ``category``, and for a file of which no record is UTF-8."""
    digest = hashlib.sha256()
    records = not_utf8 = 0
    first: str | None = None
    is_csv = is_csv_path(path)
    with path.open("rb") as fh:
        units = read_units(fh, is_csv, digest)
        if is_csv:
            _csv_columns(path, next(units, None), category, catalog or Catalog.default())
        for unit in units:
            records += 1
            if unit.not_utf8:
                not_utf8 += 1
                first = first or unit.error
    if records and not_utf8 == records:
        raise PushInputError(f"{path}: no record is UTF-8 text; the first: {first}")
    return FileScan(digest.hexdigest(), records, not_utf8)


def file_sha256(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of records (JSONL; see :func:`scan_file`)."""
    scan = scan_file(path, "")
    return scan.sha256, scan.records


# -- records ----------------------------------------------------------------------------


def _wire_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    raise ValueError(f"fields.{name}: got {type(value).__name__}, want text, a number or a boolean")


def _parse_time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"event_time: got {_shown(text)}, want RFC 3339 text")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"event_time: got {_shown(text)}, want RFC 3339, e.g. 2025-09-15T08:30:00Z"
        ) from None
    if when.tzinfo is None:
        raise ValueError(f"event_time: got {_shown(text)}, want a time with Z or an offset")
    return when.astimezone(UTC)


def _parse_version(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"version: got {_shown(value)}, want an integer")
    try:
        version = int(value)
    except ValueError:
        raise ValueError(f"version: got {_shown(value)}, want an integer") from None
    if not -INT64_MAX - 1 <= version <= INT64_MAX:
        raise ValueError(f"version: got {_shown(value)}, want a 64-bit integer")
    return version


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_INPUT else text[: MAX_SHOWN_INPUT - 3] + "..."


class _RecordReader:
    """Turns input units into :class:`InputRecord` s: parsed, checked against the
    catalog (``RecordValidator``, the gateway's checks) and measured."""

    def __init__(self, category: str, catalog: Catalog, keep_canonical: bool = False) -> None:
        self.category = category
        self.keep_canonical = keep_canonical
        self.validator = RecordValidator(catalog)
        check = self.validator.compiled(category)
        if check is None:  # an unknown category: every record says so, as at the gateway

            def check(
                code: str, record_id: str, version: int, fields: dict[str, str]
            ) -> RecordVerdict:
                return self.validator.check(category, code, record_id, version, fields)

        self.check: RecordCheck = check

    def from_unit(self, number: int, unit: Unit, columns: list[str] | None) -> InputRecord:
        if unit.error is not None:
            shown = unit.text.rstrip("\r\n").encode("utf-8", "surrogateescape")
            original = {"input": shown.decode("utf-8", "backslashreplace")}
            return self._malformed(number, unit, original, unit.error)
        if unit.cells is not None and columns is not None:
            return self._from_row(number, unit, unit.cells, columns)
        text = unit.text.rstrip("\r\n")
        try:
            # parse_float keeps a decimal's text exactly as written ("12.50")
            obj = json.loads(text, parse_float=str)
        except RecursionError:
            return self._malformed(
                number,
                unit,
                {"input": text},
                f"line {unit.line}: got JSON nested too deeply, want one flat JSON object",
            )
        except ValueError:
            return self._malformed(
                number,
                unit,
                {"input": text},
                f"line {unit.line}: got a line that is not JSON, want one JSON object",
            )
        if not isinstance(obj, dict):
            return self._malformed(
                number,
                unit,
                {"input": obj},
                f"line {unit.line}: got a JSON {type(obj).__name__}, want one JSON object",
            )
        return self._to_input(number, unit, obj, obj.get("fields", {}))

    def _from_row(
        self, number: int, unit: Unit, cells: list[str], columns: list[str]
    ) -> InputRecord:
        original = dict(zip(columns, cells, strict=False))
        if len(cells) != len(columns):
            if len(cells) > len(columns):
                original["extra_cells"] = cells[len(columns) :]  # type: ignore[assignment]
            return self._malformed(
                number,
                unit,
                original,
                f"line {unit.line}: got {len(cells)} cells, want {len(columns)} (the header's)",
            )
        raw_fields = {
            name: value
            for name, value in original.items()
            if name not in BASE_COLUMNS and name != "category" and value
        }
        return self._to_input(number, unit, original, raw_fields)

    def _malformed(
        self, number: int, unit: Unit, original: dict[str, Any], message: str
    ) -> InputRecord:
        return InputRecord(number, original, None, (MALFORMED_INPUT, message), unit.line)

    def _to_input(
        self, number: int, unit: Unit, obj: dict[str, Any], raw_fields: Any
    ) -> InputRecord:
        line = unit.line

        def rejected(code: str, message: str) -> InputRecord:
            return InputRecord(number, obj, None, (code, message), line)

        category = self.category
        stated = obj.get("category")
        if stated is not None and stated != "" and stated != category:
            return rejected(
                CATEGORY_MISMATCH,
                f"category: got {_shown(stated)}, want {category!r} (--category)",
            )
        try:
            version = _parse_version(obj.get("version"))
        except ValueError as exc:
            return rejected(BAD_VERSION, str(exc))
        try:
            when = _parse_time(obj.get("event_time"))
        except ValueError as exc:
            return rejected(BAD_EVENT_TIME, str(exc))
        if not isinstance(raw_fields, dict):
            return rejected(MALFORMED_INPUT, "fields: got no object, want an object")
        fields: dict[str, str] = {}
        try:
            for name, value in raw_fields.items():
                text = _wire_text(str(name), value)
                if text is not None:
                    fields[str(name)] = text
        except ValueError as exc:
            return rejected(MALFORMED_INPUT, str(exc))
        record = BatchRecord(
            credit_code=str(obj.get("credit_code") or ""),
            record_id=str(obj.get("record_id") or ""),
            version=version,
            event_time=when,
            fields=fields,
        )
        # the gateway's checks, in its order; of the event time only the lower bound
        # (the upper one moves with the clock, and a verdict here must not change
        # between a run and its resume: the batches would differ)
        verdict = self.check(record.credit_code, record.record_id, version, fields)
        if verdict.ok:
            event_us = (when - EPOCH) // timedelta(microseconds=1)
            if event_us < EARLIEST_EVENT_US:
                verdict = check_event_time_us(event_us, event_us)
        if not verdict.ok:
            return rejected(verdict.reason_code, verdict.message)
        try:
            encoded = canonical_json(record.to_json())
        except (UnicodeEncodeError, ValueError, TypeError):
            return rejected(
                MALFORMED_INPUT, "record: got text that is not Unicode (a lone surrogate escape)"
            )
        kept = encoded if self.keep_canonical else b""
        return InputRecord(number, obj, record, None, line, len(encoded), kept)


class ObjectReader:
    """Records given as objects of the JSONL form (``credit_code``, ``record_id``,
    ``version``, ``event_time``, ``fields``), read elsewhere (``node_agent.sync``): parsed
    and checked exactly as a file's lines are; each keeps its canonical bytes (the sync's
    batch ids are derived from them)."""

    def __init__(self, category: str, catalog: Catalog | None = None) -> None:
        self._reader = _RecordReader(category, catalog or Catalog.default(), keep_canonical=True)

    def read(self, number: int, obj: dict[str, Any]) -> InputRecord:
        """``number`` is the record's place in its source; shown as its line."""
        unit = Unit(number + 1, "", None, None)
        return self._reader._to_input(number, unit, obj, obj.get("fields", {}))


def read_records(
    path: Path, category: str, catalog: Catalog | None = None
) -> Iterator[InputRecord]:
    """The records of a JSONL or CSV file, in file order (see the module docstring);
    each either ready to send or rejected with its line, reason code and message."""
    catalog = catalog or Catalog.default()
    reader = _RecordReader(category, catalog)
    is_csv = is_csv_path(path)
    with path.open("rb") as fh:
        units = read_units(fh, is_csv)
        columns = _csv_columns(path, next(units, None), category, catalog) if is_csv else None
        for number, unit in enumerate(units):
            yield reader.from_unit(number, unit, columns)
