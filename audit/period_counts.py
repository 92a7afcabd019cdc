"""Counts of one period's ledger entries, for the monthly statistics (月度通报). Pure: the
caller reads the entries (``gateway.store.statistics_reads``) and feeds each one's
action, actor, actor kind, outcome and details here, in any order.

What is counted, per entry action (details keys as the flows write them):

* ``push.batch`` ok — per (department, category): batches, ``accepted`` records (new),
  ``duplicates``, ``rejected``, and per reason the ``reasons`` counts;
* ``push.batch`` denied — per (department, category, reason): one refused batch;
* ``query`` / ``query.denied`` — per consumer (actor): one query (``query.denied``: one
  denied query, every category refused), and per denied category decision (in either
  action) its ``reason_code``;
* ``grant.created`` — per grantee (``grantee_node_id``): one new grant;
* ``enterprise.registered`` — per city platform (actor): one enterprise;
* ``objection.filed`` — per department (``record[0]``, the source): one received;
* ``objection.answered`` — per department (actor): one answered, and late if ``late``;
* ``access.denied`` / ``statement.refused`` — per node (actor) and reason: one refused
  call, or ``count`` of them for a flood summary (``summary`` true).

Entries of other actions are ignored (``PERIOD_ACTIONS`` names the ones read).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.entry import Action, Outcome

PERIOD_ACTIONS = (
    Action.PUSH_BATCH,
    Action.QUERY,
    Action.QUERY_DENIED,
    Action.GRANT_CREATED,
    Action.ENTERPRISE_REGISTERED,
    Action.OBJECTION_FILED,
    Action.OBJECTION_ANSWERED,
    Action.ACCESS_DENIED,
    Action.STATEMENT_REFUSED,
)
"""The actions whose entries the monthly statistics read."""


@dataclass
class PushCounts:
    """One department's pushes of one category in the period."""

    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


@dataclass
class ConsumerCounts:
    """One institution's or city platform's use in the period."""

    kind: str = ""
    queries: int = 0
    denied_queries: int = 0
    denied_categories: int = 0
    grants_new: int = 0
    enterprises_registered: int = 0
    refused_calls: int = 0


@dataclass
class ObjectionCounts:
    """One department's objections in the period."""

    received: int = 0
    answered: int = 0
    answered_late: int = 0


@dataclass
class PeriodCounts:
    """The counts of one period's entries; ``add`` one entry at a time."""

    pushes: dict[tuple[str, str], PushCounts] = field(default_factory=dict)
    # (department, category, reason) -> records rejected / batches refused with it
    rejects: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    refused_batches: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    consumers: dict[str, ConsumerCounts] = field(default_factory=dict)
    # (node, source, reason code) -> denials: source "query" counts denied category
    # decisions, "access.denied" / "statement.refused" refused calls
    denials: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    objections: dict[str, ObjectionCounts] = field(default_factory=dict)
    entries: int = 0

    def _consumer(self, node_id: str, kind: str = "") -> ConsumerCounts:
        counts = self.consumers.setdefault(node_id, ConsumerCounts())
        if kind and not counts.kind:
            counts.kind = kind
        return counts

    def _objections(self, department: str) -> ObjectionCounts:
        return self.objections.setdefault(department, ObjectionCounts())

    def add(
        self, action: str, actor: str, actor_kind: str, outcome: str, details: Mapping[str, Any]
    ) -> None:
        """Count one entry (fields as in ``audit.entry``)."""
        self.entries += 1
        if action == Action.PUSH_BATCH:
            self._push(actor, outcome, details)
        elif action in (Action.QUERY, Action.QUERY_DENIED):
            self._query(actor, actor_kind, action == Action.QUERY, details)
        elif action == Action.GRANT_CREATED:
            self._consumer(str(details.get("grantee_node_id", ""))).grants_new += 1
        elif action == Action.ENTERPRISE_REGISTERED:
            self._consumer(actor, actor_kind).enterprises_registered += 1
        elif action == Action.OBJECTION_FILED:
            record = details.get("record") or ["?"]
            self._objections(str(record[0])).received += 1
        elif action == Action.OBJECTION_ANSWERED:
            counts = self._objections(actor)
            counts.answered += 1
            counts.answered_late += bool(details.get("late"))
        elif action in (Action.ACCESS_DENIED, Action.STATEMENT_REFUSED):
            refused = int(details.get("count", 1)) if details.get("summary") else 1
            self._consumer(actor, actor_kind).refused_calls += refused
            self.denials[(actor, str(action), str(details.get("reason", "UNKNOWN")))] += refused

    def _push(self, department: str, outcome: str, details: Mapping[str, Any]) -> None:
        category = str(details.get("category", ""))
        if outcome != Outcome.OK:
            reason = str(details.get("reason", "UNKNOWN"))
            self.refused_batches[(department, category, reason)] += 1
            return
        counts = self.pushes.setdefault((department, category), PushCounts())
        counts.batches += 1
        counts.accepted += int(details.get("accepted", 0))
        counts.duplicates += int(details.get("duplicates", 0))
        counts.rejected += int(details.get("rejected", 0))
        for reason, n in dict(details.get("reasons") or {}).items():
            self.rejects[(department, category, str(reason))] += int(n)

    def _query(self, consumer: str, kind: str, allowed: bool, details: Mapping[str, Any]) -> None:
        counts = self._consumer(consumer, kind)
        counts.queries += 1
        counts.denied_queries += not allowed
        for decision in dict(details.get("categories") or {}).values():
            if not decision.get("allowed"):
                counts.denied_categories += 1
                reason = str(decision.get("reason_code") or "UNKNOWN")
                self.denials[(consumer, "query", reason)] += 1


__all__ = [
    "PERIOD_ACTIONS",
    "ConsumerCounts",
    "ObjectionCounts",
    "PeriodCounts",
    "PushCounts",
]
