"""The department agent's push: read a JSONL or CSV file, batch, sign, stream, resume.

Input formats (one record each):

* JSONL (any name not ending in ``.csv``): one object per line with ``credit_code``,
  ``record_id``, ``version`` (integer), ``event_time`` (RFC 3339 with Z or an offset) and
  ``fields`` (an object of field name → value; numbers and booleans are turned into their
  wire text, ``null`` means absent). An optional ``category`` must equal ``--category``.
* CSV (``.csv``): a header ``credit_code,record_id,version,event_time`` followed by the
  category's field names; an empty cell means the field is absent.

Batches: record *i* of the file (counting records, not blank lines) belongs to batch
*i* // ``batch_size``. A batch id is derived from the file's SHA-256, the category, the
batch size and the batch number, so a resumed run re-sends exactly the same batches
under the same ids (and the gateway answers a batch it already stored with duplicates).

Each batch is signed with the node key (``xinlian.batch.canonical_batch``) and streamed
over one bidirectional ``Push`` call with at most ``window`` batches unacknowledged. The
request carries the signed bytes themselves (``Batch.signed_content``).

Resume state: ``<FILE>.xinlian-push.json`` lists the acknowledged batch numbers and
the length of the rejects file once their rejects were in it. It is rewritten
(temporary file, fsync, rename, fsync of the directory) only after the gateway's
acknowledgement of a batch — which the gateway sends only after the batch is committed
— and after that batch's rejected records reached the rejects file. A run on the same
file, category and batch size skips the batches listed there, and first cuts the
rejects file back to the recorded length: rejects written for a batch whose
acknowledgement was not recorded (a crash in between) are written again when that
batch is re-sent, so each appears once.

Rejects file (JSONL): the original record with ``reason_code`` and ``message`` added.
Records that cannot even be sent (unparseable line, non-integer version, event time
without a time zone, another category) are rejected here with the same shape.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from google.protobuf.timestamp_pb2 import Timestamp

from node_agent.identity import Identity
from xinlian.batch import BatchRecord, canonical_batch
from xinlian.durable import fsync_path
from xinlian.signing import SignerKey, sign
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc

DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = 5000  # the gateway's MAX_BATCH_RECORDS
DEFAULT_WINDOW = 4  # unacknowledged batches in flight on the stream
STATE_SUFFIX = ".xinlian-push.json"
STATE_VERSION = 1
BASE_COLUMNS = ("credit_code", "record_id", "version", "event_time")
INT64_MAX = 2**63 - 1
WINDOW_POLL_S = 0.2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Local reject codes (records that never leave the agent).
MALFORMED_INPUT = "MALFORMED_INPUT"
BAD_VERSION = "BAD_VERSION"
BAD_EVENT_TIME = "BAD_EVENT_TIME"
CATEGORY_MISMATCH = "CATEGORY_MISMATCH"


class PushFailed(Exception):
    """The push stopped before every batch was acknowledged; the resume state is saved."""

    def __init__(self, message: str, *, code: str, reason: str, acknowledged: int) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.acknowledged = acknowledged


@dataclass
class InputRecord:
    number: int  # 0-based record number in the file
    original: dict[str, Any]
    record: BatchRecord | None
    reject: tuple[str, str] | None = None  # (reason_code, message) decided locally


@dataclass
class PushProgress:
    records_total: int
    batches_total: int
    batches_skipped: int = 0
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


@dataclass
class _Batch:
    number: int
    batch_id: str
    inputs: list[InputRecord]  # every record of the batch, sendable or not
    sent: list[InputRecord]  # the records in the request, in order
    request: pb.PushRequest | None


def state_path_for(path: Path) -> Path:
    return path.with_name(path.name + STATE_SUFFIX)


def file_sha256(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of non-blank lines."""
    digest = hashlib.sha256()
    lines = 0
    with path.open("rb") as fh:
        for line in fh:
            digest.update(line)
            if line.strip():
                lines += 1
    return digest.hexdigest(), lines


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


# -- reading ----------------------------------------------------------------------------


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
        raise ValueError(f"event_time: got {text!r}, want RFC 3339 text")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"event_time: got {text!r}, want RFC 3339, e.g. 2025-09-15T08:30:00Z"
        ) from None
    if when.tzinfo is None:
        raise ValueError(f"event_time: got {text!r}, want a time with Z or an offset")
    return when.astimezone(UTC)


def _parse_version(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"version: got {value!r}, want an integer")
    try:
        version = int(value)
    except ValueError:
        raise ValueError(f"version: got {value!r}, want an integer") from None
    if not -INT64_MAX - 1 <= version <= INT64_MAX:
        raise ValueError(f"version: got {value!r}, want a 64-bit integer")
    return version


def _to_input(number: int, obj: Any, category: str, raw_fields: Any) -> InputRecord:
    if not isinstance(obj, dict):
        return InputRecord(
            number, {"input": obj}, None, (MALFORMED_INPUT, "record: got no JSON object")
        )
    original = obj
    stated = obj.get("category")
    if stated is not None and stated != category:
        return InputRecord(
            number,
            original,
            None,
            (CATEGORY_MISMATCH, f"category: got {stated!r}, want {category!r} (--category)"),
        )
    try:
        version = _parse_version(obj.get("version"))
    except ValueError as exc:
        return InputRecord(number, original, None, (BAD_VERSION, str(exc)))
    try:
        when = _parse_time(obj.get("event_time"))
    except ValueError as exc:
        return InputRecord(number, original, None, (BAD_EVENT_TIME, str(exc)))
    if not isinstance(raw_fields, dict):
        return InputRecord(
            number, original, None, (MALFORMED_INPUT, "fields: got no object, want an object")
        )
    fields: dict[str, str] = {}
    try:
        for name, value in raw_fields.items():
            text = _wire_text(str(name), value)
            if text is not None:
                fields[str(name)] = text
    except ValueError as exc:
        return InputRecord(number, original, None, (MALFORMED_INPUT, str(exc)))
    record = BatchRecord(
        credit_code=str(obj.get("credit_code") or ""),
        record_id=str(obj.get("record_id") or ""),
        version=version,
        event_time=when,
        fields=fields,
    )
    return InputRecord(number, original, record)


def read_records(path: Path, category: str) -> Iterator[InputRecord]:
    """The records of a JSONL or CSV file, in file order (see the module docstring)."""
    if path.suffix.lower() == ".csv":
        yield from _read_csv(path, category)
    else:
        yield from _read_jsonl(path, category)


def _read_jsonl(path: Path, category: str) -> Iterator[InputRecord]:
    number = 0
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                # parse_float keeps a decimal's text exactly as written ("12.50")
                obj = json.loads(line, parse_float=str)
            except ValueError:
                yield InputRecord(
                    number,
                    {"input": line.rstrip("\n")},
                    None,
                    (MALFORMED_INPUT, "record: got a line that is not JSON, want one JSON object"),
                )
            else:
                raw_fields = obj.get("fields", {}) if isinstance(obj, dict) else None
                yield _to_input(number, obj, category, raw_fields)
            number += 1


def _read_csv(path: Path, category: str) -> Iterator[InputRecord]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in BASE_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{path}: CSV header lacks {', '.join(missing)}")
        names = [c for c in header if c not in BASE_COLUMNS]
        for number, row in enumerate(reader):
            original = {k: v for k, v in row.items() if k is not None}
            raw_fields = {n: row[n] for n in names if row.get(n)}
            yield _to_input(number, original, category, raw_fields)


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
        except (FileNotFoundError, ValueError):
            return False
        if not isinstance(data, dict) or not self.matches(data):
            return False
        self.acked = {int(n) for n in data.get("acked", [])}
        rejects_bytes = data.get("rejects_bytes")
        self.rejects_bytes = rejects_bytes if isinstance(rejects_bytes, int) else None
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
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.identity = identity
        self.window = window
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
        """Push ``path``; raise :class:`PushFailed` if the stream ends early."""
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size: got {batch_size}, want 1..{MAX_BATCH_SIZE}")
        path = Path(path)
        sha, lines = file_sha256(path)
        total = lines - 1 if path.suffix.lower() == ".csv" and lines else lines
        batches_total = (total + batch_size - 1) // batch_size
        state = ResumeState(state_path_for(path), sha, category, batch_size, self.identity.node_id)
        resumed = state.load() if resume else False
        if not resumed:
            state.acked, state.rejects_bytes = set(), None
        report = PushProgress(records_total=total, batches_total=batches_total)
        report.batches_skipped = len(state.acked)
        lock = threading.Lock()
        with contextlib.ExitStack() as stack:
            rejects: IO[str] | None = None
            if rejects_path is not None:
                rejects = stack.enter_context(_open_rejects(Path(rejects_path), state, resumed))
            if progress is not None:
                progress(report)
            to_send = self._batches(path, category, batch_size, sha, state.acked)
            self._stream(to_send, state, report, rejects, lock, progress)
        return PushSummary(
            path=path,
            category=category,
            file_sha256=sha,
            records_total=total,
            batches_total=batches_total,
            batches_skipped=report.batches_skipped,
            batches_sent=report.batches_done,
            records_sent=report.records_done,
            accepted=report.accepted,
            duplicates=report.duplicates,
            rejected=report.rejected,
            rejects_path=rejects_path,
            state_path=state.path,
        )

    def _batches(
        self, path: Path, category: str, batch_size: int, sha: str, skip: set[int]
    ) -> Iterator[_Batch]:
        current: list[InputRecord] = []
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

        for item in read_records(path, category):
            number = item.number // batch_size
            if number in skip:
                continue
            if current and current[0].number // batch_size != number:
                yield make(current[0].number // batch_size, current)
                current = []
            current.append(item)
        if current:
            yield make(current[0].number // batch_size, current)

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
            for item in batch.inputs:
                if item.reject is not None:
                    lines.append(_reject_line(item, *item.reject))
                    report.rejected += 1
            for item, result in zip(batch.sent, results, strict=True):
                if result.outcome == pb.RECORD_OUTCOME_ACCEPTED:
                    report.accepted += 1
                elif result.outcome == pb.RECORD_OUTCOME_DUPLICATE:
                    report.duplicates += 1
                else:
                    report.rejected += 1
                    lines.append(_reject_line(item, result.reason_code, result.message))
            if rejects is not None:
                if lines:
                    rejects.write("".join(lines))
                    rejects.flush()
                    os.fsync(rejects.fileno())
                state.rejects_bytes = os.fstat(rejects.fileno()).st_size
            # only now is the batch done for good: record it in the resume state
            state.acked.add(batch.number)
            state.save()
            report.batches_done += 1
            report.records_done += len(batch.inputs)
            report.acknowledged.append(batch.number)
            if progress is not None:
                progress(report)

        def requests() -> Iterator[pb.PushRequest]:
            for batch in batches:
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
    out["reason_code"] = reason_code
    out["message"] = message
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n"


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
    "PushFailed",
    "PushProgress",
    "PushSummary",
    "Pusher",
    "batch_id_for",
    "read_records",
    "state_path_for",
]
