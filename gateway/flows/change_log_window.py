"""The newest change log events, read once per process for every subscriber.

Twenty subscribers that keep up with the pushes ask for the same positions; each would
otherwise read the same events (with their records) again. A reader of the change log
sees a prefix of the committed positions (every writer holds the ledger's sequencer
lock), so a read of the events after position ``a`` that returned events up to ``b``
knows EVERY event in ``(a, b]``: the window keeps one such span, contiguous, and grows
it as subscribers read on from its end. What it keeps never changes except a record's
withdrawal or deletion, which the delivery re-checks in its unit of work
(``gateway.flows.subscription_delivery`` step 7).
"""

from __future__ import annotations

import bisect
import threading

from sqlalchemy import Connection

from gateway.store import subscriptions_store
from gateway.store.subscriptions_store import LoggedEvent

MAX_WINDOW_EVENTS = 20_000
"""Events the window keeps (the oldest are dropped first)."""


class EventWindow:
    def __init__(self, max_events: int = MAX_WINDOW_EVENTS) -> None:
        self.max_events = max_events
        self._lock = threading.Lock()
        self._low = 0  # every event in (low, high] is in ``_events``
        self._high = -1
        self._positions: list[int] = []
        self._events: list[LoggedEvent] = []

    def read(self, conn: Connection, after: int, limit: int) -> list[LoggedEvent]:
        """The events after ``after`` (at most ``limit``), from the window when it
        covers them, else from the database (and the window grows or moves)."""
        with self._lock:
            if self._low <= after < self._high:
                start = bisect.bisect_right(self._positions, after)
                return self._events[start : start + limit]
        events = subscriptions_store.read_events(conn, after, limit)
        if events:
            self._remember(after, events)
        return events

    def _remember(self, after: int, events: list[LoggedEvent]) -> None:
        with self._lock:
            if after == self._high:  # read on from the window's end: it grows
                self._positions += [e.position for e in events]
                self._events += events
            elif after > self._high:  # ahead of it: the window moves there
                self._low = after
                self._positions = [e.position for e in events]
                self._events = list(events)
            else:  # a subscriber behind the window reads on its own
                return
            self._high = events[-1].position
            excess = len(self._events) - self.max_events
            if excess > 0:
                self._low = self._positions[excess - 1]
                del self._positions[:excess]
                del self._events[:excess]


__all__ = ["MAX_WINDOW_EVENTS", "EventWindow"]
