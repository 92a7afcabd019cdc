"""What one delivery sends (``gateway.flows.subscription_delivery``): its events and
batch, and the batch's ledger entry, cut to what one entry holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from audit.entry import Action, Entry
from authz.desensitize import DisclosedField
from authz.risk_signals import Signal
from gateway.core.caller import Caller
from gateway.store.subscriptions_store import StoredSubscription

ENTRY_EVENTS_BUDGET = 40_000
"""Bytes of event references one ``subscription.delivered`` entry may hold (an entry is
at most ``audit.entry.MAX_ENTRY_BYTES``); a batch past it is cut there."""
EVENT_REF_BYTES = 48
"""An event reference's bytes besides its texts (position, kind, version, JSON)."""


@dataclass(frozen=True)
class DeliveredEvent:
    position: int
    kind: str
    credit_code: str
    category: str
    source_node_id: str
    record_id: str
    version: int
    logged_at: datetime
    fields: tuple[DisclosedField, ...]
    signals: tuple[Signal, ...]
    grant_id: str | None
    note: str | None
    record_pk: int | None = None

    @property
    def event_id(self) -> str:
        return f"ev-{self.position}"


@dataclass(frozen=True)
class DeliveredBatch:
    events: tuple[DeliveredEvent, ...]
    next_position: int
    ledger_index: int  # -1: nothing delivered, nothing written
    head_position: int


def fit_entry(
    events: tuple[DeliveredEvent, ...], next_position: int
) -> tuple[tuple[DeliveredEvent, ...], int]:
    """As many events as one ledger entry holds (``ENTRY_EVENTS_BUDGET`` bytes of
    references); the rest come in the next batch, from the last one kept."""
    used = 0
    for i, e in enumerate(events):
        used += EVENT_REF_BYTES + len(e.credit_code) + len(e.category) + len(e.record_id)
        used += len(e.source_node_id) + len(e.grant_id or "") + sum(len(s.rule) for s in e.signals)
        if used > ENTRY_EVENTS_BUDGET and i > 0:
            return events[:i], events[i - 1].position
    return events, next_position


def delivered_entry(
    caller: Caller,
    sub: StoredSubscription,
    after: int,
    trace_id: str,
    events: Sequence[DeliveredEvent],
    next_position: int,
    now: datetime,
) -> Entry:
    """The batch's ``subscription.delivered`` entry: positions, per event its reference,
    kind, grant and rules, per category the masks; never a value."""
    masks: dict[str, dict[str, str]] = {}
    for e in events:
        if e.fields:
            masks.setdefault(e.category, {}).update({f.name: f.mask for f in e.fields})
    details = {
        "subscription_id": sub.subscription_id,
        "kind": sub.kind,
        "purpose": sub.purpose,
        "after": after,
        "through": next_position,
        "events": [
            [
                e.position,
                e.kind,
                e.credit_code,
                e.category,
                e.source_node_id,
                e.record_id,
                e.version,
                e.grant_id,
                [s.rule for s in e.signals],
            ]
            for e in events
        ],
        "masks": masks,
    }
    return caller.entry(
        Action.SUBSCRIPTION_DELIVERED, now, trace_id, details, subject=sub.subscription_id
    )


__all__ = [
    "ENTRY_EVENTS_BUDGET",
    "DeliveredBatch",
    "DeliveredEvent",
    "delivered_entry",
    "fit_entry",
]
