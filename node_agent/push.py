"""The department agent's push: read a JSONL or CSV file, check, batch, sign, stream,
resume.

One step a module:

* ``node_agent.push_lines``: the file as JSONL lines or CSV rows (byte order mark, lines
  that are not UTF-8 or too long, blank lines);
* ``node_agent.push_input``: the records, parsed and checked locally with the gateway's
  record checks, each either sendable or rejected with its line;
* ``node_agent.push_batches``: the batches, cut by count and bytes, their ids, signing;
* ``node_agent.push_state``: the resume state and the rejects file;
* here, :class:`Pusher`: the stream, its window and the acknowledgements.

Each batch is streamed over one bidirectional ``Push`` call with at most ``window``
batches unacknowledged. If reading the file fails midway, the agent stops sending, waits
for the answers to the batches in flight (recording them), and only then reports the
error.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import grpc

from authz.catalog import Catalog
from node_agent.push_batches import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_BYTES,
    MAX_BATCH_SIZE,
    BatchSigner,
    PushBatch,
    batch_id_for,
    cut_batches,
    load_signing_key,
)
from node_agent.push_input import (
    FileScan,
    InputRecord,
    PushInputError,
    read_records,
    require_category,
    scan_file,
)
from node_agent.push_lines import MAX_LINE_BYTES
from node_agent.push_state import ResumeState, open_rejects, reject_line, state_path_for
from xinlian.identity import Identity
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc

DEFAULT_WINDOW = 4  # unacknowledged batches in flight on the stream
MAX_WINDOW = 64  # the gateway reads MAX_INFLIGHT_BATCHES_PER_STREAM ahead; more is memory
WINDOW_POLL_S = 0.2
# gRPC statuses after which running the same command again can succeed
RESUMABLE_CODES = frozenset(
    {"UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "RESOURCE_EXHAUSTED", "CANCELLED"}
)
INPUT_ERROR = "INPUT"  # PushFailed.code when reading the file failed midway


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
class RecordVerdict:
    """One record's outcome in an acknowledged batch: ``ACCEPTED``, ``DUPLICATE`` or
    ``REJECTED`` (with the reason code and message, local or the gateway's)."""

    item: InputRecord
    outcome: str
    reason_code: str = ""
    message: str = ""


ACCEPTED, DUPLICATE, REJECTED = "ACCEPTED", "DUPLICATE", "REJECTED"
# called once per acknowledged batch, in order, before the next one is recorded
BatchDone = Callable[[PushBatch, list[RecordVerdict]], None]


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
        self._signer = BatchSigner(identity.node_id, load_signing_key(identity))
        # signed requests for given records, outside a file push (tests and benchmarks)
        self.sign_batch = self._signer.sign
        self.make_request = self._signer.request

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
                rejects = stack.enter_context(open_rejects(Path(rejects_path), state, resumed))
            if progress is not None:
                progress(report)
            to_send = self._batches(path, category, batch_size, scan.sha256, state.acked, report)
            self._stream(to_send, report, lock, progress, state=state, rejects=rejects)
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

    def push_inputs(
        self,
        category: str,
        inputs: Iterable[InputRecord],
        batch_id: Callable[[str, list[InputRecord]], str],
        on_batch: BatchDone,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> PushProgress:
        """Push records read elsewhere (``node_agent.sync``): the same batching,
        signing, window and acknowledgements as a file, without its resume state.
        ``batch_id(category, records)`` names each batch (it must depend only on the
        records, so a re-sent batch is the same batch); ``on_batch`` gets each
        acknowledged batch's verdicts, in order. Raises :class:`PushFailed`."""
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size: got {batch_size}, want 1..{MAX_BATCH_SIZE}")
        report = PushProgress(records_total=0, batches_total=0)

        def batches() -> Iterator[PushBatch]:
            for number, chunk in cut_batches(inputs, batch_size):
                report.batches_total = number + 1
                report.records_total += len(chunk)
                yield self._signer.batch(number, batch_id(category, chunk), category, chunk)

        self._stream(batches(), report, threading.Lock(), None, on_batch=on_batch)
        return report

    def _batches(
        self,
        path: Path,
        category: str,
        batch_size: int,
        sha: str,
        skip: set[int],
        report: PushProgress,
    ) -> Iterator[PushBatch]:
        """The batches to send, in order, signed (see ``node_agent.push_batches``); the
        ones in ``skip`` (acknowledged in an earlier run) are counted, not signed."""
        records = read_records(path, category, self.catalog)
        for number, inputs in cut_batches(records, batch_size):
            # written by this (the request) thread only; read by progress callbacks
            report.batches_total = max(report.batches_total, number + 1)
            if number in skip:
                report.records_skipped += len(inputs)
            else:
                batch_id = batch_id_for(sha, category, batch_size, number)
                yield self._signer.batch(number, batch_id, category, inputs)

    def _stream(
        self,
        batches: Iterator[PushBatch],
        report: PushProgress,
        lock: threading.Lock,
        progress: Callable[[PushProgress], None] | None,
        *,
        state: ResumeState | None = None,
        rejects: IO[str] | None = None,
        on_batch: BatchDone | None = None,
    ) -> None:
        window = threading.Semaphore(self.window)
        in_flight: deque[PushBatch] = deque()
        stop = threading.Event()
        read_error: list[Exception] = []  # reading or signing failed: stop sending

        def failed(
            message: str, code: str = "INTERNAL", reason: str = "BAD_RESPONSE"
        ) -> PushFailed:
            """The push stops (by default: the gateway's answer makes no sense)."""
            return PushFailed(
                message, code=code, reason=reason, acknowledged=len(report.acknowledged)
            )

        def finish(batch: PushBatch, response: pb.PushResponse | None) -> None:
            """Record one acknowledged (or locally finished) batch; runs under ``lock``."""
            results = list(response.results) if response is not None else []
            if response is not None and len(results) != len(batch.sent):
                raise failed(
                    f"batch {batch.batch_id}: got {len(results)} results for "
                    f"{len(batch.sent)} records"
                )
            lines: list[str] = []
            verdicts: list[RecordVerdict] = []
            rejected = 0
            for item in batch.inputs:
                if item.reject is not None:
                    if rejects is not None:
                        lines.append(reject_line(item, *item.reject))
                    verdicts.append(RecordVerdict(item, REJECTED, *item.reject))
                    rejected += 1
            for item, result in zip(batch.sent, results, strict=True):
                if result.outcome == pb.RECORD_OUTCOME_ACCEPTED:
                    report.accepted += 1
                    verdicts.append(RecordVerdict(item, ACCEPTED))
                elif result.outcome == pb.RECORD_OUTCOME_DUPLICATE:
                    report.duplicates += 1
                    verdicts.append(RecordVerdict(item, DUPLICATE))
                else:
                    rejected += 1
                    if rejects is not None:
                        lines.append(reject_line(item, result.reason_code, result.message))
                    verdicts.append(
                        RecordVerdict(item, REJECTED, result.reason_code, result.message)
                    )
            report.rejected += rejected
            if rejects is not None:
                if lines:
                    rejects.write("".join(lines))
                    rejects.flush()
                    os.fsync(rejects.fileno())
                if state is not None:
                    state.rejects_bytes = os.fstat(rejects.fileno()).st_size
            # only now is the batch done for good: record it (resume state, or the caller)
            if state is not None:
                state.acked.add(batch.number)
                state.rejected += rejected
                state.save()
            if on_batch is not None:
                on_batch(batch, verdicts)
            report.batches_done += 1
            report.records_done += len(batch.inputs)
            report.acknowledged.append(batch.number)
            if progress is not None:
                progress(report)

        def finish_local() -> None:
            """Finish the batches with nothing to send at the head of the queue, which wait
            only for the acknowledgements before theirs; runs under ``lock``."""
            while in_flight and in_flight[0].request is None:
                finish(in_flight.popleft(), None)
                window.release()

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
                            raise failed(
                                f"got an answer for batch {response.batch_id}, "
                                f"want {batch.batch_id}"
                            )
                        finish(batch, response)
                        window.release()
                        finish_local()
            except grpc.RpcError as exc:
                message = f"push stopped: {_code(exc)}: {_details(exc)}"
                raise failed(message, _code(exc), _reason(exc)) from exc
            finally:
                stop.set()
            with lock:
                finish_local()
        finally:
            if self._channel is None:
                channel.close()
        if read_error:
            error = read_error[0]
            if not isinstance(error, OSError | ValueError):
                raise error
            raise failed(f"reading the input stopped: {error}", INPUT_ERROR, "") from error


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
    "INPUT_ERROR",
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
    "RecordVerdict",
    "batch_id_for",
    "load_signing_key",
    "read_records",
    "require_category",
    "scan_file",
    "state_path_for",
]
