"""Subscription delivery: the change log's events a subscriber is entitled to, masked as
a query would mask them, each delivered batch a ledger entry (docs/subscriptions.md).

Open (the stream's first request), steps:

1. the subscription exists, is the caller's and is active (NOT_FOUND / FAILED_PRECONDITION
   ``SUBSCRIPTION_CANCELLED``);
2. its acknowledged cursor is still in the log: retention deleted nothing after it, else
   FAILED_PRECONDITION ``CURSOR_EXPIRED`` — unless the subscriber asked to re-sync, which
   moves the cursor to the oldest event kept (it then re-reads current state by query).

One batch, steps (``next_batch``), from the position after the last one sent:

3. read (no lock): at most ``MAX_EVENTS_PER_BATCH`` events after the position, with
   their records; per enterprise its state and, fresh from the database (no cache: a
   revocation counts at once), the subscriber's grants; for a batch push the
   enterprise's industry (its newest registration record);
4. per event, the subscription's filter (category; batch: region prefix, industry;
   monitoring: an active ``post_loan`` grant to the subscriber for this enterprise) and
   the query's decision (``authz.decision.decide``: frozen enterprise, purpose, public
   category or a grant covering it); a record withdrawn since, or no longer public
   (``gateway.flows.publicity``), or withheld under an open objection, is not sent;
5. the risk rules mark the event (``authz.risk_signals``, on the raw fields); a
   ``marked_only`` subscription drops unmarked events;
6. the record's fields masked once for the subscriber (``authz.desensitize``);
7. one unit of work: the subscriber is still admitted and the subscription active
   (else nothing is sent), every grant an event relies on is still unrevoked (else
   that event is dropped: a revocation committed meanwhile wins), then ONE
   ``subscription.delivered`` ledger entry (positions, per event its record reference,
   kind, grant and masks: never a value) and one ``disclosures`` row per record whose
   fields were sent;
8. the batch goes out after the commit. A batch with no entitled event writes nothing;
   it only moves the position.

Ack: the subscriber stored everything up to a position; the cursor moves forward only.
Delivery is at least once: after a disconnect or restart it starts from the
acknowledged cursor, and event ids (the change log position) make repeats harmless.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from authz.catalog import Category, Purpose
from authz.decision import Consumer, Decision, decide
from authz.desensitize import DisclosedField, desensitize_record, load_default_policy, role_for
from authz.grants import GrantState, GrantStatus
from authz.industry import FIELD as INDUSTRY_FIELD
from authz.industry import matches as industry_matches
from authz.objections import ObjectionRule, notes_for
from authz.risk_signals import Signal, load_default_rules
from gateway.core.caller import Caller
from gateway.flows import change_log
from gateway.flows.change_log_window import EventWindow
from gateway.flows.delivered import DeliveredBatch, DeliveredEvent, delivered_entry, fit_entry
from gateway.flows.enterprises import EnterpriseView, read_enterprise_view
from gateway.flows.grants import ENTERPRISE_CACHE_TTL_S, read_grant_states
from gateway.flows.publicity import PublicityFilter
from gateway.flows.registry import get_node
from gateway.flows.runtime import Runtime, new_trace_id
from gateway.flows.subscriptions import BATCH, MONITORING, owned, region_of
from gateway.store import subscriptions_store
from gateway.store.committer import LedgerTx
from gateway.store.objections_store import attached_notes
from gateway.store.query_reads import StoredRecord
from gateway.store.subscriptions_store import LoggedEvent, StoredSubscription
from gateway.store.timeutil import from_us, to_us
from xinlian.errors import FailedPrecondition, PermissionDenied

MAX_EVENTS_PER_BATCH = 300
"""Change log events read per batch (bounds the batch and its ledger entry)."""
MAX_VIEWS = 50_000
"""Enterprise states the delivery keeps (each at most ENTERPRISE_CACHE_TTL_S old)."""
MAX_MASKED = 20_000
"""Masked records the delivery keeps for the next subscriber of the same event."""
ADMITTED = "admitted"
REGISTRATION = "registration"
FIELD_KINDS = frozenset({change_log.RECORD, change_log.CORRECTED})


@dataclass
class Session:
    """One open delivery stream: the subscription and how far it was sent."""

    caller: Caller
    subscription: StoredSubscription
    sent: int
    purpose: Purpose
    categories: frozenset[str]
    trace_id: str = field(default_factory=new_trace_id)


@dataclass
class _Planned:
    """Step (3)-(6)'s outcome, before step (7)'s checks."""

    events: list[DeliveredEvent]
    grants: set[str]
    next_position: int
    head: int
    active: bool


class SubscriptionDelivery:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.policy = load_default_policy(rt.catalog)
        self.rules = load_default_rules()
        self.publicity = PublicityFilter(rt.catalog)
        self.window = EventWindow()
        self._views: dict[str, tuple[float, EnterpriseView]] = {}
        self._views_lock = threading.Lock()
        self._masked: dict[tuple[int | None, str, frozenset[str], str], tuple[DisclosedField, ...]]
        self._masked = {}
        self._per_node: dict[tuple[str, str], bool] = {}

    # -- (1), (2) open ------------------------------------------------------------------

    async def open(self, caller: Caller, subscription_id: str, resync: bool) -> Session:
        def work(conn: Connection, ledger: LedgerTx) -> StoredSubscription:
            sub = owned(conn, caller, subscription_id)
            if sub.state != "active":
                raise FailedPrecondition(
                    f"subscription {subscription_id} is cancelled", reason="SUBSCRIPTION_CANCELLED"
                )
            pruned = subscriptions_store.pruned_through(conn)
            if sub.acked_position < pruned:
                if not resync:
                    raise FailedPrecondition(
                        f"subscription {subscription_id}: its cursor {sub.acked_position} is "
                        f"older than the change log keeps (events up to {pruned} were "
                        "deleted); re-sync: query current state, then deliver with --resync",
                        reason="CURSOR_EXPIRED",
                    )
                subscriptions_store.reset_position(conn, subscription_id, pruned)
                sub = owned(conn, caller, subscription_id)
            return sub

        sub = await self.rt.commit(work)
        return Session(
            caller=caller,
            subscription=sub,
            sent=sub.acked_position,
            purpose=Purpose.parse(sub.purpose),
            categories=frozenset(sub.categories),
        )

    async def head(self) -> int:
        return await self.rt.read(lambda conn: subscriptions_store.bounds(conn)[1])

    # -- (3)-(8) one batch --------------------------------------------------------------

    async def next_batch(self, session: Session) -> DeliveredBatch | None:
        """The next batch after ``session.sent`` (None: nothing new was logged)."""
        now = self.rt.clock.now()
        planned = await self.rt.read(lambda conn: self._plan(conn, session, now))
        if planned is None:
            return None
        batch = await self.rt.commit(
            lambda conn, ledger: self._commit(conn, ledger, session, planned, now)
        )
        session.sent = batch.next_position
        return batch

    def _plan(self, conn: Connection, session: Session, now: datetime) -> _Planned | None:
        # (3) the events and what deciding them needs, fresh
        events = self.window.read(conn, session.sent, MAX_EVENTS_PER_BATCH)
        if not events:
            return None
        head = subscriptions_store.bounds(conn)[1]
        sub = session.subscription
        node = get_node(conn, session.caller.node_id)
        current = subscriptions_store.get_subscription(conn, sub.subscription_id)
        active = (
            node is not None
            and node.state == ADMITTED
            and current is not None
            and current.state == "active"
        )
        planned = _Planned([], set(), events[-1].position, head, active)
        if not active:
            return planned
        wanted = [e for e in events if e.category in session.categories]
        if sub.kind == BATCH:
            wanted = [e for e in wanted if region_of(e.credit_code).startswith(sub.region_prefix)]
        views: dict[str, EnterpriseView] = {}
        grants: dict[str, tuple[GrantState, ...]] = {}
        for event in wanted:
            code = event.credit_code
            if code not in views:
                views[code] = self._view(conn, code)
                # monitoring decides by the grants, read fresh (a revocation counts at
                # once); a batch push is of public categories, which need none
                grants[code] = (
                    _usable(read_grant_states(conn, code, sub.node_id))
                    if sub.kind == MONITORING
                    else ()
                )
            delivered = self._decide(conn, session, event, views[code], grants[code], now)
            if delivered is not None:
                planned.events.append(delivered)
                if delivered.grant_id is not None:
                    planned.grants.add(delivered.grant_id)
        return planned

    def _decide(
        self,
        conn: Connection,
        session: Session,
        event: LoggedEvent,
        view: EnterpriseView,
        grants: tuple[GrantState, ...],
        now: datetime,
    ) -> DeliveredEvent | None:
        sub = session.subscription
        category = self.rt.catalog.get(event.category)
        if category is None:
            return None
        # (4) the subscription's filter, then the query's decision
        if sub.kind == MONITORING and not any(
            g.status_at(now) is GrantStatus.ACTIVE and g.grant.purpose is session.purpose
            for g in grants
        ):
            return None
        if sub.kind == BATCH and sub.industry:
            registration = subscriptions_store.latest_fields(conn, event.credit_code, REGISTRATION)
            code = None if registration is None else registration.get(INDUSTRY_FIELD)
            if not industry_matches(sub.industry, code):
                return None
        consumer = Consumer(sub.node_id, session.caller.kind)
        decision = decide(consumer, category, session.purpose, view.state, grants, now, False)
        if not decision.allowed:
            return None
        masked: tuple[DisclosedField, ...] = ()
        signals: tuple[Signal, ...] = ()
        note = event.note
        kind = event.kind  # a record superseding a stored version is a correction
        if (
            kind == change_log.RECORD
            and event.version > 1
            and subscriptions_store.supersedes(
                conn, event.source_node_id, event.record_id, event.version
            )
        ):
            kind = change_log.CORRECTED
        if kind in FIELD_KINDS:
            if not event.present or event.withdrawn:
                return None
            if not self._shown(conn, event, category, view, now):
                return None
            # (5) risk signals on the raw fields, (6) the fields masked once
            signals = self.rules.signals(event.category, kind, event.fields)
            masked = self._mask(event, category, decision, session)
        if sub.marked_only and not signals:
            return None
        return DeliveredEvent(
            position=event.position,
            kind=kind,
            credit_code=event.credit_code,
            category=event.category,
            source_node_id=event.source_node_id,
            record_id=event.record_id,
            version=event.version,
            logged_at=from_us(event.time_us),
            fields=masked,
            signals=signals,
            grant_id=decision.grant_id,
            note=note,
            record_pk=event.record_pk if masked else None,
        )

    def _view(self, conn: Connection, credit_code: str) -> EnterpriseView:
        """The enterprise's state, at most ``ENTERPRISE_CACHE_TTL_S`` old like the query
        path's (a cache of this flow's own: its reads run on several threads)."""
        now = time.monotonic()
        with self._views_lock:
            cached = self._views.get(credit_code)
        if cached is not None and now - cached[0] < ENTERPRISE_CACHE_TTL_S:
            return cached[1]
        view = read_enterprise_view(conn, credit_code)
        with self._views_lock:
            if len(self._views) >= MAX_VIEWS:
                self._views.clear()
            self._views[credit_code] = (now, view)
        return view

    def _shown(
        self,
        conn: Connection,
        event: LoggedEvent,
        category: Category,
        view: EnterpriseView,
        now: datetime,
    ) -> bool:
        """Still public (publicity), and not withheld under an open objection."""
        record = StoredRecord(
            pk=event.record_pk or 0,
            source_node_id=event.source_node_id,
            record_id=event.record_id,
            version=event.version,
            credit_code=event.credit_code,
            category=event.category,
            event_time=from_us(event.event_time_us),
            fields=event.fields,
        )
        if not self.publicity.public(conn, [record], now, own=None):
            return False
        if not view.state.open_objections:
            return True
        notes = attached_notes(conn, event.credit_code).get((event.source_node_id, event.record_id))
        if notes:
            rule = ObjectionRule(category.objection_rule)
            return notes_for(rule, notes, own_query=False) is not None
        return True

    def _mask(
        self, event: LoggedEvent, category: Category, decision: Decision, session: Session
    ) -> tuple[DisclosedField, ...]:
        """The record masked for this subscriber, once per (record, role, fields) for
        every subscriber alike (a stored record never changes), per subscriber only where
        a mask depends on who receives it (``pseudonym``)."""
        role = role_for(session.caller.kind, self_query=False)
        node_id = session.subscription.node_id
        per_node = self._per_node.get((role, category.id))
        if per_node is None:
            per_node = any(
                self.policy.resolve(role, category, f).name == "pseudonym" for f in category.fields
            )
            self._per_node[(role, category.id)] = per_node
        key = (event.record_pk, role, decision.fields, node_id if per_node else "")
        masked = self._masked.get(key)
        if masked is None:
            masked = tuple(
                desensitize_record(
                    event.fields,
                    category,
                    role,
                    decision.fields,
                    node_id,
                    self.rt.pseudonym_secret,
                    self.policy,
                )
            )
            if len(self._masked) >= MAX_MASKED:
                self._masked.clear()
            self._masked[key] = masked
        return masked

    def _commit(
        self,
        conn: Connection,
        ledger: LedgerTx,
        session: Session,
        planned: _Planned,
        now: datetime,
    ) -> DeliveredBatch:
        """Step (7), a unit of work (may be retried: changes nothing outside it)."""
        sub = session.subscription
        if not planned.active or not subscriptions_store.still_active(
            conn, sub.subscription_id, sub.node_id
        ):
            raise PermissionDenied(
                f"subscription {sub.subscription_id}: the node is not admitted or the "
                "subscription was cancelled; nothing is delivered",
                reason="SUBSCRIPTION_INACTIVE",
            )
        revoked = subscriptions_store.revoked_grants(conn, planned.grants, to_us(now))
        gone = subscriptions_store.gone_records(
            conn, [e.record_pk for e in planned.events if e.record_pk is not None]
        )
        events = tuple(
            e for e in planned.events if e.grant_id not in revoked and e.record_pk not in gone
        )
        if not events:
            return DeliveredBatch((), planned.next_position, -1, planned.head)
        events, through = fit_entry(events, planned.next_position)
        index = ledger.append(
            delivered_entry(
                session.caller,
                session.subscription,
                session.sent,
                session.trace_id,
                events,
                through,
                now,
            )
        )
        time_us = to_us(now)
        rows = [
            (
                index,
                e.record_pk,
                sub.node_id,
                e.grant_id,
                sub.purpose,
                json.dumps({f.name: f.mask for f in e.fields}, separators=(",", ":")),
                session.trace_id,
                time_us,
            )
            for e in events
            if e.record_pk is not None
        ]
        # inserted once for the whole group, after its last unit (same transaction)
        ledger.insert_later(subscriptions_store.disclosure_statement(conn), rows)
        return DeliveredBatch(events, through, index, planned.head)

    # -- ack ----------------------------------------------------------------------------

    async def ack(self, session: Session, position: int) -> None:
        """Everything up to ``position`` was stored by the subscriber (only forward, and
        never past what was sent)."""
        position = min(position, session.sent)
        if position <= 0:
            return
        now_us = to_us(self.rt.clock.now())
        sub_id = session.subscription.subscription_id
        await self.rt.commit(
            lambda conn, ledger: subscriptions_store.ack_position(conn, sub_id, position, now_us)
        )


def _usable(states: Sequence[GrantState]) -> tuple[GrantState, ...]:
    """The grants a subscription may deliver under: not those counted in uses (a query's
    ``max_uses`` bounds queries, not a stream)."""
    return tuple(s for s in states if s.grant.max_uses is None)


__all__ = [
    "MAX_EVENTS_PER_BATCH",
    "DeliveredBatch",
    "DeliveredEvent",
    "Session",
    "SubscriptionDelivery",
]
