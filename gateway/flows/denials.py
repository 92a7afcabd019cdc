"""Refusals that leave a trace: denied calls and refused statements as ledger entries.

Two kinds of refusal become entries, written by the chain's translate step
(``gateway.edge.chain``) before the refusal is answered:

* ``access.denied`` — a call of a known node refused at the edge: its kind may not call
  the method (``KIND_NOT_ALLOWED``), it is suspended or exited, its certificate revoked;
* ``statement.refused`` — a signed statement refused: a grant submission, a revocation,
  a key rotation, a self query (forged, replayed, stale, not the caller's …). The code
  that checks the statement tags its refusal with :func:`refusing_statement`, naming the
  enterprise, so ``xinlian audit search --enterprise C`` finds an attempt to forge C's
  signature.

Actor and actor kind are the node's, outcome ``denied`` (``rejected`` for a statement
refused as malformed), details the method, the reason code and the gRPC code. A peer
without a known node (no certificate, unknown identity) has no one to name: it is only
logged.

Flood control (per process; each replica summarizes its own): a node's first
``DENIAL_ENTRIES_PER_NODE`` refusals in a window of ``DENIAL_WINDOW_S`` (the window starts
at its first refusal) are single entries. Further refusals in that window are counted,
per (node, action, reason), into ONE summary entry (same action, ``details.summary``
true: count, methods, first and last time, the enterprises named) written when the
window closes — by a timer, by the next refusal after it, or at shutdown. So a flood
cannot grow the ledger without bound, and no refusal is dropped unseen.

A single entry is committed by the group committer like any other (durable before the
refusal is answered); if the ledger cannot be written the failure is logged and the call
is refused all the same (fail closed). A counted refusal costs no I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection

from audit.entry import Action, Entry, Outcome
from gateway.store.committer import GroupCommitter, LedgerTx, Work
from xinlian.clock import Clock
from xinlian.errors import PermissionDenied, Unauthenticated, Unavailable, XinLianError

log = logging.getLogger("xinlian.denials")

# -- named limits ----------------------------------------------------------------------

DENIAL_ENTRIES_PER_NODE = 10
"""Single entries per node and window; later refusals are counted into summaries."""
DENIAL_WINDOW_S = 60
"""Length of a node's window, seconds."""
MAX_SUMMARY_CREDIT_CODES = 16
"""Enterprises listed in one summary (``credit_codes_truncated`` says when there were more)."""
MIN_FLUSH_SLEEP_S = 0.05

P = ParamSpec("P")
T = TypeVar("T")

_TOKEN_RE = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_TAG = "xinlian_refusal"


def _token(value: str | None) -> str | None:
    """``value`` if it is a short plain token (ids from the wire may be anything)."""
    if value and _TOKEN_RE.fullmatch(value):
        return value
    return None


def _format_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- tagging a refusal where it is decided -----------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """What a refusal was about; attached to the exception where it is decided."""

    action: Action
    statement: str | None = None  # grant, revocation, key_rotation, self_query
    credit_code: str | None = None
    subject: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)


def mark(exc: BaseException, refusal: Refusal) -> None:
    """Attach ``refusal`` to ``exc`` (the innermost, most precise mark wins)."""
    if getattr(exc, _TAG, None) is None:
        setattr(exc, _TAG, refusal)


def refusal_of(exc: BaseException) -> Refusal | None:
    found = getattr(exc, _TAG, None)
    return found if isinstance(found, Refusal) else None


@contextlib.contextmanager
def refusing_statement(
    statement: str,
    credit_code: str | None,
    subject: str | None = None,
    details: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """Mark every refusal raised inside as a refused ``statement`` about ``credit_code``.

    A ledger that cannot be written (``Unavailable``) is no refusal of the statement.
    """
    try:
        yield
    except XinLianError as exc:
        if not isinstance(exc, Unavailable):
            mark(
                exc,
                Refusal(
                    Action.STATEMENT_REFUSED,
                    statement,
                    _token(credit_code),
                    _token(subject),
                    {k: v for k, v in (details or {}).items() if _token(v)},
                ),
            )
        raise


def refuses_statement(
    statement: str, about: Callable[[Mapping[str, Any]], tuple[str | None, str | None]]
) -> Callable[[Callable[P, Work[T]]], Callable[P, Work[T]]]:
    """Decorates a function that checks a statement and returns its unit of work: a
    refusal raised by its checks, or later by the unit in the committer, is marked as a
    refused ``statement`` about the (credit code, subject) that ``about`` reads from the
    call's arguments (by name)."""

    def decorate(fn: Callable[P, Work[T]]) -> Callable[P, Work[T]]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def checked(*args: P.args, **kwargs: P.kwargs) -> Work[T]:
            code, subject = about(signature.bind(*args, **kwargs).arguments)
            with refusing_statement(statement, code, subject):
                work = fn(*args, **kwargs)

            def unit(conn: Connection, ledger: LedgerTx) -> T:
                with refusing_statement(statement, code, subject):
                    return work(conn, ledger)

            return unit

        return checked

    return decorate


# -- one refusal, and the summary of many -------------------------------------------------


@dataclass(frozen=True)
class Denial:
    """One refused call of a known node."""

    node_id: str
    node_kind: str
    method: str
    reason: str
    code: str  # gRPC status name
    time: datetime
    refusal: Refusal
    request_id: str = ""

    @property
    def outcome(self) -> Outcome:
        return Outcome.DENIED if self.code in _DENIED_CODES else Outcome.REJECTED


_DENIED_CODES = frozenset({PermissionDenied.status_name, Unauthenticated.status_name})


@dataclass
class Summary:
    """The refusals of one (node, action, reason) counted in one window."""

    node_id: str
    node_kind: str
    action: Action
    reason: str
    outcome: Outcome
    window_start: datetime
    window_end: datetime
    first: datetime
    last: datetime
    count: int = 0
    methods: set[str] = field(default_factory=set)
    credit_codes: set[str] = field(default_factory=set)
    credit_codes_truncated: bool = False

    def add(self, denial: Denial) -> None:
        self.count += 1
        self.first = min(self.first, denial.time)
        self.last = max(self.last, denial.time)
        self.methods.add(denial.method)
        code = denial.refusal.credit_code
        if code is not None and code not in self.credit_codes:
            if len(self.credit_codes) < MAX_SUMMARY_CREDIT_CODES:
                self.credit_codes.add(code)
            else:
                self.credit_codes_truncated = True


@dataclass
class _Window:
    start: datetime
    singles: int = 0


class DenialSummarizer:
    """The counting rule of the module docstring. Pure: time comes in with each call."""

    def __init__(
        self,
        per_node: int = DENIAL_ENTRIES_PER_NODE,
        window: timedelta = timedelta(seconds=DENIAL_WINDOW_S),
    ) -> None:
        self.per_node = per_node
        self.window = window
        self._windows: dict[str, _Window] = {}
        self._pending: dict[tuple[str, Action, str], Summary] = {}

    def admit(self, denial: Denial) -> tuple[bool, list[Summary]]:
        """Whether ``denial`` gets an entry of its own; and the summaries whose window
        closed by its time (to be written now)."""
        due = self.due(denial.time)
        window = self._windows.get(denial.node_id)
        if window is None or denial.time >= window.start + self.window:
            window = _Window(denial.time)
            self._windows[denial.node_id] = window
        if window.singles < self.per_node:
            window.singles += 1
            return True, due
        key = (denial.node_id, denial.refusal.action, denial.reason)
        summary = self._pending.get(key)
        if summary is None:
            summary = Summary(
                node_id=denial.node_id,
                node_kind=denial.node_kind,
                action=denial.refusal.action,
                reason=denial.reason,
                outcome=denial.outcome,
                window_start=window.start,
                window_end=window.start + self.window,
                first=denial.time,
                last=denial.time,
            )
            self._pending[key] = summary
        summary.add(denial)
        return False, due

    def due(self, now: datetime) -> list[Summary]:
        """Take the summaries whose window has closed by ``now``."""
        closed = [key for key, s in self._pending.items() if s.window_end <= now]
        out = [self._pending.pop(key) for key in closed]
        for node in [n for n, w in self._windows.items() if w.start + self.window <= now]:
            del self._windows[node]  # its next refusal opens a new window anyway
        return sorted(out, key=lambda s: (s.window_end, s.node_id, s.action, s.reason))

    def drain(self) -> list[Summary]:
        """Take every pending summary, closed or not (shutdown)."""
        out = sorted(
            self._pending.values(), key=lambda s: (s.window_end, s.node_id, s.action, s.reason)
        )
        self._pending.clear()
        return out

    def next_due(self) -> datetime | None:
        return min((s.window_end for s in self._pending.values()), default=None)

    @property
    def pending(self) -> int:
        return sum(s.count for s in self._pending.values())


# -- entries --------------------------------------------------------------------------------


def _trace_id(request_id: str) -> str:
    return request_id + secrets.token_hex(4) if request_id else secrets.token_hex(12)


def denial_entry(denial: Denial) -> Entry:
    refusal = denial.refusal
    details: dict[str, Any] = {
        "method": denial.method,
        "reason": denial.reason,
        "code": denial.code,
    }
    if refusal.statement is not None:
        details["statement"] = refusal.statement
    details.update(refusal.details)
    if denial.request_id:
        details["request_id"] = denial.request_id
    return Entry(
        action=refusal.action,
        time=denial.time,
        actor=denial.node_id,
        actor_kind=denial.node_kind,
        outcome=denial.outcome,
        trace_id=_trace_id(denial.request_id),
        credit_code=refusal.credit_code,
        subject=refusal.subject,
        details=details,
    )


def summary_entry(summary: Summary, now: datetime) -> Entry:
    details: dict[str, Any] = {
        "summary": True,
        "reason": summary.reason,
        "count": summary.count,
        "methods": sorted(summary.methods),
        "first": _format_time(summary.first),
        "last": _format_time(summary.last),
        "window_start": _format_time(summary.window_start),
        "window_end": _format_time(summary.window_end),
    }
    if summary.credit_codes:
        details["credit_codes"] = sorted(summary.credit_codes)
        details["credit_codes_truncated"] = summary.credit_codes_truncated
    one_code = (
        next(iter(summary.credit_codes))
        if len(summary.credit_codes) == 1 and not summary.credit_codes_truncated
        else None
    )
    return Entry(
        action=summary.action,
        time=max(now, summary.last),
        actor=summary.node_id,
        actor_kind=summary.node_kind,
        outcome=summary.outcome,
        trace_id=_trace_id(""),
        credit_code=one_code,
        subject=None,
        details=details,
    )


# -- the recorder the chain calls -----------------------------------------------------------


class DenialRecorder:
    """Writes denials (or counts them) and the summaries; one per process."""

    def __init__(
        self,
        committer: GroupCommitter,
        clock: Clock,
        summarizer: DenialSummarizer | None = None,
    ) -> None:
        self.committer = committer
        self.clock = clock
        self.summarizer = summarizer or DenialSummarizer()
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, denial: Denial) -> int | None:
        """Commit ``denial``'s own entry (durable before the refusal is answered), or
        count it into its summary; write the summaries whose window closed. Returns the
        entry's index, or None if it was counted (or could not be written). Never raises:
        the call is refused whatever happens here."""
        single, due = self.summarizer.admit(denial)
        entries = [denial_entry(denial)] if single else []
        entries.extend(summary_entry(s, denial.time) for s in due)
        if self.summarizer.next_due() is not None:
            self._ensure_flusher()
        if not entries:
            return None
        indices = await self._write(entries)
        return indices[0] if single and indices else None

    async def flush(self, now: datetime | None = None) -> int:
        """Write the summaries whose window closed by ``now``; returns how many."""
        now = now or self.clock.now()
        due = self.summarizer.due(now)
        if due:
            await self._write([summary_entry(s, now) for s in due])
        return len(due)

    async def close(self) -> None:
        """Stop the timer and write every pending summary (before the committer stops)."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        pending = self.summarizer.drain()
        if pending:
            now = self.clock.now()
            await self._write([summary_entry(s, now) for s in pending])

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_loop(), name="denial-summaries"
            )

    async def _flush_loop(self) -> None:
        while True:
            due_at = self.summarizer.next_due()
            if due_at is None:
                return
            wait = (due_at - self.clock.now()).total_seconds()
            await asyncio.sleep(min(max(wait, MIN_FLUSH_SLEEP_S), DENIAL_WINDOW_S))
            await self.flush()

    async def _write(self, entries: Sequence[Entry]) -> list[int]:
        try:
            return await self.committer.submit(
                lambda conn, ledger: [ledger.append(entry) for entry in entries]
            )
        except Exception as exc:  # the refusal stands; say loudly what is not recorded
            log.error(
                "denial entries not written (%s): %s",
                type(exc).__name__,
                "; ".join(
                    f"{e.action.value} actor={e.actor} reason={e.details.get('reason')}"
                    f" count={e.details.get('count', 1)}"
                    for e in entries
                ),
            )
            return []
