"""The department agent's push: read a JSONL or CSV file, check, batch, sign, stream,
resume.

Input formats (one record each; UTF-8, with or without a byte order mark):

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

Batches: consecutive records, at most ``batch_size`` of them, and a new batch begins
early when the signed bytes would exceed ``MAX_BATCH_BYTES`` (the gateway's message
limit less a margin). Boundaries depend only on the file, the catalog and the batch
size. A batch id is derived from the file's SHA-256, the category, the batch size and
the batch number, so a resumed run re-sends exactly the same batches under the same ids
(and the gateway answers a batch it already stored with duplicates).

Each batch is signed with the node key (``xinlian.batch.canonical_batch``) and streamed
over one bidirectional ``Push`` call with at most ``window`` batches unacknowledged. The
request carries the signed bytes themselves (``Batch.signed_content``). If reading the
file fails midway, the agent stops sending, waits for the answers to the batches in
flight (recording them), and only then reports the error.

Resume state: ``<FILE>.xinlian-push.json`` lists the acknowledged batch numbers, the
length of the rejects file once their rejects were in it and how many records they
rejected. It is rewritten (temporary file, fsync, rename, fsync of the directory) only
after the gateway's acknowledgement of a batch — which the gateway sends only after the
batch is committed — and after that batch's rejected records reached the rejects file.
A run on the same file, category and batch size skips the batches listed there, and
first cuts the rejects file back to the recorded length: rejects written for a batch
whose acknowledgement was not recorded (a crash in between) are written again when that
batch is re-sent, so each appears once.

Rejects file (JSONL): the original record (``{"input": "<line>"}`` for a line that is
not a JSON object) with ``line`` (its line in the file), ``reason_code`` and
``message`` added.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from google.protobuf.timestamp_pb2 import Timestamp

from authz.catalog import Catalog
from authz.records import (
    EARLIEST_EVENT_US,
    RecordCheck,
    RecordValidator,
    RecordVerdict,
    check_event_time_us,
)
from xinlian import identity as identity_module
from xinlian import limits
from xinlian.batch import BatchRecord, canonical_batch
from xinlian.durable import fsync_path
from xinlian.identity import Identity
from xinlian.signing import SignerKey, canonical_json, sign
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc

DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = limits.MAX_BATCH_RECORDS  # the gateway refuses larger batches
DEFAULT_WINDOW = 4  # unacknowledged batches in flight on the stream
MAX_WINDOW = 64  # the gateway reads MAX_INFLIGHT_BATCHES_PER_STREAM ahead; more is memory
MESSAGE_MARGIN_BYTES = 64 * 1024  # batch id, category, signature, protobuf framing
MAX_BATCH_BYTES = (
    min(limits.MAX_MESSAGE_BYTES, identity_module.MAX_MESSAGE_BYTES) - MESSAGE_MARGIN_BYTES
)
# Longer lines are rejected unread: a valid record (≤ 64 fields of ≤ 4096 characters)
# is far shorter even with every character escaped.
MAX_LINE_BYTES = 64 * 1024 * 1024
READ_CHUNK = 1024 * 1024
UTF8_BOM = b"\xef\xbb\xbf"
STATE_SUFFIX = ".xinlian-push.json"
STATE_VERSION = 1
BASE_COLUMNS = ("credit_code", "record_id", "version", "event_time")
INT64_MAX = 2**63 - 1
WINDOW_POLL_S = 0.2
MAX_SHOWN_INPUT = 200  # characters of an unparseable line shown in a message
# gRPC statuses after which running the same command again can succeed
RESUMABLE_CODES = frozenset(
    {"UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "RESOURCE_EXHAUSTED", "CANCELLED"}
)
INPUT_ERROR = "INPUT"  # PushFailed.code when reading the file failed midway
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Local reject codes (records that never leave the agent).
MALFORMED_INPUT = "MALFORMED_INPUT"
BAD_VERSION = "BAD_VERSION"
BAD_EVENT_TIME = "BAD_EVENT_TIME"
CATEGORY_MISMATCH = "CATEGORY_MISMATCH"


class PushInputError(ValueError):
    """The input cannot be pushed as given (an unknown category, a CSV header that is
    not one of the category, a file that is not UTF-8); nothing was sent."""


class PushFailed(Exception):
    """The push stopped before every batch was acknowledged; the resume state is saved.

    ``code`` is the gRPC status name, or ``INPUT`` when reading the file failed midway.
    ``resumable``: running the same command again can get further (connection lost,
    gateway busy), as opposed to a refusal or an input error that needs fixing first.
    """

    def __init__(self, message: str, *, code: str, reason: str, acknowledged: int) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.acknowledged = acknowledged

    @property
    def resumable(self) -> bool:
        return self.code in RESUMABLE_CODES


@dataclass
class InputRecord:
    number: int  # 0-based record number in the file
    original: dict[str, Any]
    record: BatchRecord | None
    reject: tuple[str, str] | None = None  # (reason_code, message) decided locally
    line: int = 0  # 1-based line of the file where the record starts
    size: int = 0  # bytes of the record in a canonical batch (sendable records)


@dataclass
class PushProgress:
    records_total: int
    batches_total: int
    batches_skipped: int = 0
    records_skipped: int = 0
    batches_done: int = 0
    records_done: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    acknowledged: list[int] = field(default_factory=list)  # batch numbers acked this run


@dataclass(frozen=True)
class PushSummary:
    path: Path
    category: str
    file_sha256: str
    records_total: int
    batches_total: int
    batches_skipped: int
    batches_sent: int
    records_sent: int
    accepted: int
    duplicates: int
    rejected: int
    rejects_path: Path | None
    state_path: Path
    rejected_earlier: int = 0  # rejected in the skipped batches, by an earlier run

    @property
    def rejected_total(self) -> int:
        return self.rejected + self.rejected_earlier


@dataclass
class _Batch:
    number: int
    batch_id: str
    inputs: list[InputRecord]  # every record of the batch, sendable or not
    sent: list[InputRecord]  # the records in the request, in order
    request: pb.PushRequest | None


def state_path_for(path: Path) -> Path:
    return path.with_name(path.name + STATE_SUFFIX)


def batch_id_for(sha: str, category: str, batch_size: int, number: int) -> str:
    prefix = hashlib.sha256(f"{sha}:{category}:{batch_size}".encode()).hexdigest()[:32]
    return f"{prefix}-{number:06d}"


def load_signing_key(identity: Identity) -> SignerKey:
    key = serialization.load_pem_private_key(identity.files.key.read_bytes(), password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise ValueError(f"{identity.files.key}: expected an ECDSA P-256 or Ed25519 key")


def require_category(catalog: Catalog, category: str) -> None:
    """Raise :class:`PushInputError` unless ``category`` is in the catalog."""
    if catalog.get(category) is None:
        known = ", ".join(sorted(catalog.categories))
        raise PushInputError(f"category: got {category!r}, want one of {known}")


# -- reading lines ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based physical line number
    text: str  # the decoded line; "" for a line over MAX_LINE_BYTES
    error: str | None  # why the line cannot be read (not UTF-8, too long), else None
    not_utf8: bool = False


@dataclass(frozen=True)
class _Unit:
    """One record's worth of input: a JSONL line or a CSV row (never a blank one)."""

    line: int  # its first physical line
    text: str  # JSONL: the line
    cells: list[str] | None  # CSV: the row's cells
    error: str | None  # the input cannot be read: rejected as MALFORMED_INPUT
    not_utf8: bool = False


def _read_lines(fh: IO[bytes], digest: Any = None) -> Iterator[_Line]:
    """The file's lines, decoded as UTF-8 (a BOM at the start is dropped). A line that
    is not UTF-8 comes with its error (and its text decoded with ``surrogateescape``);
    a line over MAX_LINE_BYTES with its error and no text (skipped, never held whole)."""
    number = 0
    while True:
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if digest is not None:
            digest.update(raw)
        if len(raw) > MAX_LINE_BYTES:
            size = len(raw)
            while not raw.endswith(b"\n"):
                raw = fh.readline(READ_CHUNK)
                if not raw:
                    break
                size += len(raw)
                if digest is not None:
                    digest.update(raw)
            yield _Line(
                number,
                "",
                f"line {number}: got {size} bytes, want at most {MAX_LINE_BYTES} per line",
            )
            continue
        if number == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _Line(
                number,
                raw.decode("utf-8", "surrogateescape"),
                f"line {number}: got byte 0x{raw[exc.start]:02x} at column {exc.start + 1}, "
                "want UTF-8 text (convert the file, e.g. iconv -f GB18030 -t UTF-8)",
                not_utf8=True,
            )
        else:
            yield _Line(number, text, None)


def _jsonl_units(lines: Iterator[_Line]) -> Iterator[_Unit]:
    for line in lines:
        if line.error is None and not line.text.strip():
            continue  # blank, also only Unicode white space (U+3000): not a record
        yield _Unit(line.number, line.text, None, line.error, line.not_utf8)


def _csv_units(lines: Iterator[_Line]) -> Iterator[_Unit]:
    """The CSV rows, the header first, each with its first line and the first error
    among its lines; rows of only blank cells are skipped."""
    current = 0  # the last line handed to the CSV reader
    errors: dict[int, _Line] = {}

    def texts() -> Iterator[str]:
        nonlocal current
        for line in lines:
            current = line.number
            if line.error is not None:
                errors[line.number] = line
            yield line.text if line.text else "\n"

    reader = csv.reader(texts())
    end = 0
    while True:
        problem: str | None = None
        cells: list[str] | None = None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = f"got {exc}, want a CSV row"
        start, end = end + 1, current
        bad = [errors.pop(n) for n in range(start, end + 1) if n in errors]
        if bad:  # shown in the rejects file as the line that is wrong
            yield _Unit(start, bad[0].text, None, bad[0].error, bad[0].not_utf8)
        elif problem is not None:
            yield _Unit(start, "", None, f"line {start}: {problem}")
        elif cells is not None and any(cell.strip() for cell in cells):
            yield _Unit(start, "", cells, None)


def _units(fh: IO[bytes], is_csv: bool, digest: Any = None) -> Iterator[_Unit]:
    lines = _read_lines(fh, digest)
    return _csv_units(lines) if is_csv else _jsonl_units(lines)


def is_csv_path(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def _csv_columns(path: Path, header: _Unit | None, category: str, catalog: Catalog) -> list[str]:
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
        units = _units(fh, is_csv, digest)
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

    def __init__(self, category: str, catalog: Catalog) -> None:
        self.category = category
        self.validator = RecordValidator(catalog)
        check = self.validator.compiled(category)
        if check is None:  # an unknown category: every record says so, as at the gateway

            def check(
                code: str, record_id: str, version: int, fields: dict[str, str]
            ) -> RecordVerdict:
                return self.validator.check(category, code, record_id, version, fields)

        self.check: RecordCheck = check

    def from_unit(self, number: int, unit: _Unit, columns: list[str] | None) -> InputRecord:
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
        self, number: int, unit: _Unit, cells: list[str], columns: list[str]
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
        self, number: int, unit: _Unit, original: dict[str, Any], message: str
    ) -> InputRecord:
        return InputRecord(number, original, None, (MALFORMED_INPUT, message), unit.line)

    def _to_input(
        self, number: int, unit: _Unit, obj: dict[str, Any], raw_fields: Any
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
            event_us = (when - _EPOCH) // timedelta(microseconds=1)
            if event_us < EARLIEST_EVENT_US:
                verdict = check_event_time_us(event_us, event_us)
        if not verdict.ok:
            return rejected(verdict.reason_code, verdict.message)
        try:
            size = len(canonical_json(record.to_json()))
        except (UnicodeEncodeError, ValueError, TypeError):
            return rejected(
                MALFORMED_INPUT, "record: got text that is not Unicode (a lone surrogate escape)"
            )
        return InputRecord(number, obj, record, None, line, size)


def read_records(
    path: Path, category: str, catalog: Catalog | None = None
) -> Iterator[InputRecord]:
    """The records of a JSONL or CSV file, in file order (see the module docstring);
    each either ready to send or rejected with its line, reason code and message."""
    catalog = catalog or Catalog.default()
    reader = _RecordReader(category, catalog)
    is_csv = is_csv_path(path)
    with path.open("rb") as fh:
        units = _units(fh, is_csv)
        columns = _csv_columns(path, next(units, None), category, catalog) if is_csv else None
        for number, unit in enumerate(units):
            yield reader.from_unit(number, unit, columns)


# -- state ------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


@dataclass
class ResumeState:
    path: Path
    file_sha256: str
    category: str
    batch_size: int
    node_id: str
    acked: set[int] = field(default_factory=set)
    rejects_bytes: int | None = None  # rejects file length after the acked batches
    rejected: int = 0  # records rejected in the acked batches

    def matches(self, other: dict[str, Any]) -> bool:
        return (
            other.get("v") == STATE_VERSION
            and other.get("file_sha256") == self.file_sha256
            and other.get("category") == self.category
            and other.get("batch_size") == self.batch_size
            and other.get("node_id") == self.node_id
        )

    def load(self) -> bool:
        """Read the acknowledged batches of an earlier run on the same input; True if any."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not self.matches(data):
                return False
            acked = {int(n) for n in data.get("acked", [])}
        except (OSError, ValueError, TypeError):
            return False  # no state, or not one of ours: start over (the gateway dedups)
        self.acked = acked
        rejects_bytes = data.get("rejects_bytes")
        self.rejects_bytes = rejects_bytes if isinstance(rejects_bytes, int) else None
        rejected = data.get("rejected")
        self.rejected = rejected if isinstance(rejected, int) else 0
        return bool(self.acked)

    def save(self) -> None:
        data = {
            "v": STATE_VERSION,
            "file_sha256": self.file_sha256,
            "category": self.category,
            "batch_size": self.batch_size,
            "node_id": self.node_id,
            "acked": sorted(self.acked),
            "rejects_bytes": self.rejects_bytes,
            "rejected": self.rejected,
        }
        _write_atomic(self.path, json.dumps(data, separators=(",", ":")).encode("utf-8"))


# -- pushing ----------------------------------------------------------------------------


class Pusher:
    """Pushes files of records for one department identity."""

    def __init__(
        self,
        identity: Identity,
        *,
        window: int = DEFAULT_WINDOW,
        channel: grpc.Channel | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        if not 1 <= window <= MAX_WINDOW:
            raise ValueError(f"window: got {window}, want 1..{MAX_WINDOW}")
        self.identity = identity
        self.window = window
        self.catalog = catalog or Catalog.default()
        self._channel = channel
        self._key = load_signing_key(identity)

    def sign_batch(self, batch_id: str, category: str, records: list[BatchRecord]) -> bytes:
        data = canonical_batch(self.identity.node_id, batch_id, category, records)
        return sign(self._key, data)

    def make_request(
        self,
        batch_id: str,
        category: str,
        records: list[BatchRecord],
        *,
        structured: bool = False,
    ) -> pb.PushRequest:
        """A signed request for these records (also used by tests and benchmarks).

        By default the request carries the signed canonical bytes themselves
        (``Batch.signed_content``): the gateway verifies the signature over exactly
        those bytes and parses them with its C JSON decoder. ``structured=True`` sends
        the records as protobuf messages instead (the gateway rebuilds the bytes).
        """
        data = canonical_batch(self.identity.node_id, batch_id, category, records)
        signature = sign(self._key, data)
        if structured:
            return pb.PushRequest(
                batch=pb.Batch(
                    batch_id=batch_id,
                    category=category,
                    records=[_to_pb(r) for r in records],
                    signature=signature,
                )
            )
        return pb.PushRequest(
            batch=pb.Batch(
                batch_id=batch_id, category=category, signed_content=data, signature=signature
            )
        )

    def push_file(
        self,
        path: Path,
        category: str,
        rejects_path: Path | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        resume: bool = True,
        progress: Callable[[PushProgress], None] | None = None,
    ) -> PushSummary:
        """Push ``path``. Raises :class:`PushInputError` (nothing sent) for an unknown
        category, a CSV header that does not fit it or a file that is not UTF-8, and
        :class:`PushFailed` if the stream ends early."""
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size: got {batch_size}, want 1..{MAX_BATCH_SIZE}")
        require_category(self.catalog, category)
        path = Path(path)
        scan = scan_file(path, category, self.catalog)
        total = scan.records
        state = ResumeState(
            state_path_for(path), scan.sha256, category, batch_size, self.identity.node_id
        )
        resumed = state.load() if resume else False
        if not resumed:
            state.acked, state.rejects_bytes, state.rejected = set(), None, 0
        rejected_earlier = state.rejected
        report = PushProgress(
            records_total=total, batches_total=(total + batch_size - 1) // batch_size
        )
        report.batches_skipped = len(state.acked)
        lock = threading.Lock()
        with contextlib.ExitStack() as stack:
            rejects: IO[str] | None = None
            if rejects_path is not None:
                rejects = stack.enter_context(_open_rejects(Path(rejects_path), state, resumed))
            if progress is not None:
                progress(report)
            to_send = self._batches(path, category, batch_size, scan.sha256, state.acked, report)
            self._stream(to_send, state, report, rejects, lock, progress)
        return PushSummary(
            path=path,
            category=category,
            file_sha256=scan.sha256,
            records_total=total,
            batches_total=report.batches_total,
            batches_skipped=report.batches_skipped,
            batches_sent=report.batches_done,
            records_sent=report.records_done,
            accepted=report.accepted,
            duplicates=report.duplicates,
            rejected=report.rejected,
            rejects_path=rejects_path,
            state_path=state.path,
            rejected_earlier=rejected_earlier,
        )

    def _batches(
        self,
        path: Path,
        category: str,
        batch_size: int,
        sha: str,
        skip: set[int],
        report: PushProgress,
    ) -> Iterator[_Batch]:
        """The batches to send, in order: at most ``batch_size`` records each, and not
        more than MAX_BATCH_BYTES of signed bytes (see the module docstring)."""
        current: list[InputRecord] = []
        size = 0  # bytes of the current batch's sendable records (and their commas)
        number = 0

        def make(number: int, inputs: list[InputRecord]) -> _Batch:
            batch_id = batch_id_for(sha, category, batch_size, number)
            sent = [item for item in inputs if item.record is not None]
            request = None
            if sent:
                request = self.make_request(
                    batch_id, category, [item.record for item in sent if item.record is not None]
                )
            return _Batch(number, batch_id, inputs, sent, request)

        def close() -> Iterator[_Batch]:
            # written by this (the request) thread only; read by progress callbacks
            report.batches_total = max(report.batches_total, number + 1)
            if number in skip:
                report.records_skipped += len(current)
            else:
                yield make(number, current)

        for item in read_records(path, category, self.catalog):
            extra = item.size + 1 if item.record is not None else 0
            if current and (len(current) >= batch_size or size + extra > MAX_BATCH_BYTES):
                yield from close()
                number += 1
                current, size = [], 0
            current.append(item)
            size += extra
        if current:
            yield from close()

    def _stream(
        self,
        batches: Iterator[_Batch],
        state: ResumeState,
        report: PushProgress,
        rejects: IO[str] | None,
        lock: threading.Lock,
        progress: Callable[[PushProgress], None] | None,
    ) -> None:
        window = threading.Semaphore(self.window)
        in_flight: deque[_Batch] = deque()
        stop = threading.Event()
        read_error: list[Exception] = []  # reading or signing failed: stop sending

        def finish(batch: _Batch, response: pb.PushResponse | None) -> None:
            """Record one acknowledged (or locally finished) batch; runs under ``lock``."""
            results = list(response.results) if response is not None else []
            if response is not None and len(results) != len(batch.sent):
                raise PushFailed(
                    f"batch {batch.batch_id}: got {len(results)} results for "
                    f"{len(batch.sent)} records",
                    code="INTERNAL",
                    reason="BAD_RESPONSE",
                    acknowledged=len(report.acknowledged),
                )
            lines: list[str] = []
            rejected = 0
            for item in batch.inputs:
                if item.reject is not None:
                    lines.append(_reject_line(item, *item.reject))
                    rejected += 1
            for item, result in zip(batch.sent, results, strict=True):
                if result.outcome == pb.RECORD_OUTCOME_ACCEPTED:
                    report.accepted += 1
                elif result.outcome == pb.RECORD_OUTCOME_DUPLICATE:
                    report.duplicates += 1
                else:
                    rejected += 1
                    lines.append(_reject_line(item, result.reason_code, result.message))
            report.rejected += rejected
            if rejects is not None:
                if lines:
                    rejects.write("".join(lines))
                    rejects.flush()
                    os.fsync(rejects.fileno())
                state.rejects_bytes = os.fstat(rejects.fileno()).st_size
            # only now is the batch done for good: record it in the resume state
            state.acked.add(batch.number)
            state.rejected += rejected
            state.save()
            report.batches_done += 1
            report.records_done += len(batch.inputs)
            report.acknowledged.append(batch.number)
            if progress is not None:
                progress(report)

        def requests() -> Iterator[pb.PushRequest]:
            while True:
                try:
                    batch = next(batches, None)
                except Exception as exc:  # reported after the answers in flight
                    read_error.append(exc)
                    return
                if batch is None:
                    return
                if batch.request is None:  # nothing sendable: finished locally, in order
                    with lock:
                        if not in_flight:
                            finish(batch, None)
                            continue
                    # keep the order of acknowledgements: queue it behind the in-flight ones
                while not window.acquire(timeout=WINDOW_POLL_S):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                with lock:
                    in_flight.append(batch)
                if batch.request is not None:
                    yield batch.request

        channel = self._channel or self.identity.channel()
        try:
            stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
            responses = stub.Push(requests())
            try:
                for response in responses:
                    with lock:
                        batch = in_flight.popleft()
                        if batch.batch_id != response.batch_id:
                            raise PushFailed(
                                f"got an answer for batch {response.batch_id}, "
                                f"want {batch.batch_id}",
                                code="INTERNAL",
                                reason="BAD_RESPONSE",
                                acknowledged=len(report.acknowledged),
                            )
                        finish(batch, response)
                        window.release()
                        while in_flight and in_flight[0].request is None:
                            finish(in_flight.popleft(), None)
                            window.release()
            except grpc.RpcError as exc:
                raise PushFailed(
                    f"push stopped: {_code(exc)}: {_details(exc)}",
                    code=_code(exc),
                    reason=_reason(exc),
                    acknowledged=len(report.acknowledged),
                ) from exc
            finally:
                stop.set()
            with lock:
                while in_flight and in_flight[0].request is None:
                    finish(in_flight.popleft(), None)
        finally:
            if self._channel is None:
                channel.close()
        if read_error:
            error = read_error[0]
            if not isinstance(error, OSError | ValueError):
                raise error
            raise PushFailed(
                f"reading the input stopped: {error}",
                code=INPUT_ERROR,
                reason="",
                acknowledged=len(report.acknowledged),
            ) from error


def _to_pb(record: BatchRecord) -> pb.Record:
    delta = record.event_time - _EPOCH
    return pb.Record(
        credit_code=record.credit_code,
        record_id=record.record_id,
        version=record.version,
        event_time=Timestamp(
            seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000
        ),
        fields=dict(record.fields),
    )


def _open_rejects(path: Path, state: ResumeState, resumed: bool) -> IO[str]:
    """The rejects file, for appending. A fresh run starts it empty; a resumed run first
    cuts it back to its length when the last acknowledged batch was recorded (what
    follows belongs to batches that will be sent again)."""
    if not resumed:
        return path.open("w", encoding="utf-8")
    kept = state.rejects_bytes
    if kept is not None and path.exists() and path.stat().st_size > kept:
        os.truncate(path, kept)
    return path.open("a", encoding="utf-8")


def _reject_line(item: InputRecord, reason_code: str, message: str) -> str:
    out = dict(item.original)
    out["line"] = item.line
    out["reason_code"] = reason_code
    out["message"] = message
    text = json.dumps(out, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape: keep it escaped
        text = json.dumps(out, separators=(",", ":"))
    return text + "\n"


def _code(exc: grpc.RpcError) -> str:
    code = exc.code() if hasattr(exc, "code") else None
    return code.name if code is not None else "UNKNOWN"


def _details(exc: grpc.RpcError) -> str:
    return str(exc.details()) if hasattr(exc, "details") else str(exc)


def _reason(exc: grpc.RpcError) -> str:
    metadata: Any = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    for key, value in metadata or ():
        if key == "xinlian-reason":
            return str(value)
    return ""


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_WINDOW",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_SIZE",
    "MAX_LINE_BYTES",
    "MAX_WINDOW",
    "FileScan",
    "InputRecord",
    "PushFailed",
    "PushInputError",
    "PushProgress",
    "PushSummary",
    "Pusher",
    "batch_id_for",
    "read_records",
    "require_category",
    "scan_file",
    "state_path_for",
]
