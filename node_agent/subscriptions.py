"""The consumer's subscriptions (SubscriptionService over its mTLS channel): create,
list, cancel, and pull the delivery stream into a directory as JSONL that resumes.

Pull writes ``events.jsonl`` (one event a line, appended) and ``state.json`` (the
subscription and the last position written) in ``--out``. Each batch: the events after
the position written are appended and synced, then the state, then the position is
acknowledged. A crash anywhere in between redelivers a batch whose events are already
written; their positions are not above the one written, so they are skipped: every
event once in the file, at least once on the wire.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from node_agent.client import ServiceClient
from xinlian.errors import InvalidArgument
from xinlian.v1 import subscriptions_pb2 as pb
from xinlian.v1 import subscriptions_pb2_grpc

RPC_TIMEOUT_S = 60.0
IDLE_S = 2.0
"""Pull stops once no batch came for this long (unless following)."""
EVENTS_FILE = "events.jsonl"
STATE_FILE = "state.json"


@dataclass(frozen=True)
class PullSummary:
    batches: int
    events_written: int
    duplicates_skipped: int
    position: int


class SubscriptionClient(ServiceClient):
    STUB = subscriptions_pb2_grpc.SubscriptionServiceStub

    def create(
        self,
        kind: str,
        categories: Sequence[str] = (),
        *,
        purpose: str = "",
        region_prefix: str = "",
        industry: str = "",
        marked_only: bool = False,
        backfill_from: datetime | None = None,
    ) -> pb.Subscription:
        request = pb.CreateSubscriptionRequest(
            kind=kind,
            categories=list(categories),
            purpose=purpose,
            region_prefix=region_prefix,
            industry=industry,
            marked_only=marked_only,
        )
        if backfill_from is not None:
            stamp = Timestamp()
            stamp.FromDatetime(backfill_from.astimezone(UTC))
            request.backfill_from.CopyFrom(stamp)
        created: pb.Subscription = self.stub.CreateSubscription(request, timeout=RPC_TIMEOUT_S)
        return created

    def list(self, every: bool = False) -> pb.ListSubscriptionsResponse:
        found: pb.ListSubscriptionsResponse = self.stub.ListSubscriptions(
            pb.ListSubscriptionsRequest(all=every), timeout=RPC_TIMEOUT_S
        )
        return found

    def cancel(self, subscription_id: str) -> pb.Subscription:
        cancelled: pb.Subscription = self.stub.CancelSubscription(
            pb.CancelSubscriptionRequest(subscription_id=subscription_id), timeout=RPC_TIMEOUT_S
        )
        return cancelled

    def stream(
        self, subscription_id: str, *, resync: bool = False
    ) -> tuple[Iterator[pb.DeliverResponse], Acks]:
        """The open delivery stream and its ack side (``Acks.ack``, ``Acks.close``)."""
        acks = Acks()
        responses: Iterator[pb.DeliverResponse] = self.stub.Deliver(
            acks.requests(pb.DeliverRequest(subscription_id=subscription_id, resync=resync))
        )
        return responses, acks

    def pull(
        self,
        subscription_id: str,
        out: Path,
        *,
        resync: bool = False,
        idle_s: float = IDLE_S,
        follow: bool = False,
        max_batches: int | None = None,
    ) -> PullSummary:
        """Deliver into ``out`` (see the module) until idle for ``idle_s`` (``follow``:
        until interrupted) or ``max_batches`` batches came."""
        sink = JsonlSink.open(out, subscription_id)
        responses, acks = self.stream(subscription_id, resync=resync)
        watchdog = _Watchdog(idle_s, acks.close) if not follow else None
        batches = written = skipped = 0
        try:
            for batch in responses:
                if watchdog is not None:
                    watchdog.poke()
                new, dup = sink.write(batch)
                written += new
                skipped += dup
                batches += 1
                acks.ack(batch.next_position)
                if max_batches is not None and batches >= max_batches:
                    break
            # half-close: the gateway ends the stream once it read the acks; a batch
            # it sent meanwhile is neither written nor acknowledged (it comes again)
            acks.close()
            for _ in responses:
                pass
        except BaseException:
            cancel = getattr(responses, "cancel", None)
            if cancel is not None:
                cancel()
            raise
        finally:
            if watchdog is not None:
                watchdog.stop()
            acks.close()
        return PullSummary(batches, written, skipped, sink.position)


class Acks:
    """The request side of a delivery stream: the first request, then acks."""

    def __init__(self) -> None:
        self._queue: queue.Queue[pb.DeliverRequest | None] = queue.Queue()

    def requests(self, first: pb.DeliverRequest) -> Iterator[pb.DeliverRequest]:
        yield first
        while True:
            item = self._queue.get()
            if item is None:
                return
            yield item

    def ack(self, position: int) -> None:
        self._queue.put(pb.DeliverRequest(ack_position=position))

    def close(self) -> None:
        self._queue.put(None)


class _Watchdog:
    """Calls ``fire`` once nothing poked it for ``idle_s``."""

    def __init__(self, idle_s: float, fire: Any) -> None:
        self.idle_s = idle_s
        self.fire = fire
        self._poked = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._poked.set()

    def stop(self) -> None:
        self._stopped.set()
        self._poked.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            if not self._poked.wait(self.idle_s):
                self.fire()
                return
            self._poked.clear()


@dataclass
class JsonlSink:
    """``events.jsonl`` and ``state.json`` in one directory (see the module)."""

    directory: Path
    subscription_id: str
    position: int

    @classmethod
    def open(cls, directory: Path, subscription_id: str) -> JsonlSink:
        directory.mkdir(parents=True, exist_ok=True)
        state_path = directory / STATE_FILE
        position = 0
        if state_path.exists():
            state = json.loads(state_path.read_text(encoding="utf-8"))
            if state.get("subscription_id") != subscription_id:
                raise InvalidArgument.field(
                    "--out",
                    str(directory),
                    f"a directory of subscription {subscription_id} (it holds "
                    f"{state.get('subscription_id')}); use another directory",
                )
            position = int(state.get("position", 0))
        return cls(directory, subscription_id, position)

    def write(self, batch: pb.DeliverResponse) -> tuple[int, int]:
        """Append the batch's new events (synced), then the state; (written, skipped)."""
        new = [e for e in batch.events if e.position > self.position]
        if new:
            with (self.directory / EVENTS_FILE).open("a", encoding="utf-8") as f:
                for event in new:
                    f.write(json.dumps(event_json(event), ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
        self.position = max(self.position, batch.next_position)
        state = {"subscription_id": self.subscription_id, "position": self.position}
        tmp = self.directory / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.directory / STATE_FILE)
        return len(new), len(batch.events) - len(new)


def event_json(event: pb.Event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "position": event.position,
        "kind": event.kind,
        "credit_code": event.credit_code,
        "category": event.category,
        "source_node_id": event.source_node_id,
        "record_id": event.record_id,
        "version": event.version,
        "logged_at": event.logged_at.ToDatetime(tzinfo=UTC).isoformat(),
        "fields": {f.name: {"value": f.value, "mask": f.mask} for f in event.fields},
        "signals": [
            {"rule": s.rule, "severity": s.severity, "label_zh": s.label_zh} for s in event.signals
        ],
        "grant_id": event.grant_id or None,
        "note": event.note or None,
    }


def subscription_json(sub: pb.Subscription) -> dict[str, Any]:
    return {
        "subscription_id": sub.subscription_id,
        "node_id": sub.node_id,
        "kind": sub.kind,
        "categories": list(sub.categories),
        "purpose": sub.purpose,
        "region_prefix": sub.region_prefix or None,
        "industry": sub.industry or None,
        "marked_only": sub.marked_only,
        "state": sub.state,
        "created_at": sub.created_at.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds"),
        "acked_position": sub.acked_position,
        "lag_events": sub.lag_events,
        "lag_seconds": round(sub.lag_seconds, 3),
        "ledger_index": sub.ledger_index,
    }


def read_events(directory: Path) -> list[dict[str, Any]]:
    """The events a pull wrote (tests, the demo)."""
    path = directory / EVENTS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


__all__ = [
    "Acks",
    "JsonlSink",
    "PullSummary",
    "SubscriptionClient",
    "event_json",
    "read_events",
    "subscription_json",
]
