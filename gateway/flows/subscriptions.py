"""Subscriptions: create, list, cancel (docs/subscriptions.md). Delivery is
``gateway.flows.subscription_delivery``.

Two kinds:

* **monitoring** (获贷企业动态监测): the enterprises the subscriber holds active grants
  for, purpose ``post_loan``, in the categories it asks for (none: every category that
  allows post-loan use); optionally only events a risk rule marked;
* **batch** (批量推送): public categories only, selected by region (a prefix of the
  administrative division code inside the credit code, 2, 4 or 6 digits) and optionally
  by industry (a GB/T 4754-2017 section or code, ``authz.industry``).

Create, steps:

1. the subscriber is a data consumer (city platform, institution, gateway) that is
   admitted (the edge checked the certificate and the registry);
2. the request: kind, purpose (monitoring: ``post_loan``), categories known to the
   catalog and allowing the purpose (batch: public ones only), region prefix and
   industry well formed;
3. monitoring: the subscriber holds at least one active grant for ``post_loan``
   (FAILED_PRECONDITION ``NO_ACTIVE_GRANT``); every delivery checks again, per event;
4. the backfill start, if any, is within ``MAX_BACKFILL_DAYS`` and not in the future;
   the cursor starts at the last event logged before it (else at the log's head);
5. one unit of work: at most ``MAX_SUBSCRIPTIONS_PER_NODE`` active subscriptions
   (counted in the transaction: RESOURCE_EXHAUSTED ``SUBSCRIPTION_LIMIT``), the row and
   its ``subscription.created`` ledger entry.

Cancel: the subscriber (or an administrator) cancels once, with a
``subscription.cancelled`` entry; a cancelled subscription delivers nothing more.
List: a consumer sees its own; administrators and officers see every one, each with its
lag (events logged after its acknowledged position, and the age of the oldest).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from audit.entry import Action
from authz.catalog import Category, Purpose
from authz.industry import load_industries
from authz.policy import DATA_CONSUMER_KINDS
from gateway.core.caller import Caller
from gateway.flows.runtime import Runtime, new_trace_id
from gateway.store import schema, subscriptions_store
from gateway.store.committer import LedgerTx
from gateway.store.subscriptions_store import StoredSubscription
from gateway.store.timeutil import to_us
from xinlian.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)

MONITORING = "monitoring"
BATCH = "batch"
KINDS = (MONITORING, BATCH)
ACTIVE = "active"
CANCELLED = "cancelled"

MAX_SUBSCRIPTIONS_PER_NODE = 20
"""Active subscriptions one node may hold."""
MAX_BACKFILL_DAYS = 31
"""How far back a new subscription may ask for what was logged before it."""
MONITORING_PURPOSE = Purpose.POST_LOAN
REGION_RE = re.compile(r"\d{2}|\d{4}|\d{6}")
OVERSEERS = frozenset({"admin", "officer"})
MAX_SUBSCRIPTION_ID_LEN = 40


@dataclass(frozen=True)
class SubscriptionSpec:
    kind: str
    categories: tuple[str, ...]
    purpose: str
    region_prefix: str
    industry: str
    marked_only: bool
    backfill_from: datetime | None


@dataclass(frozen=True)
class Lag:
    events: int
    seconds: float


def region_of(credit_code: str) -> str:
    """The administrative division code (登记管理机关行政区划码) inside a credit code:
    characters 3-8 of GB 32100."""
    return credit_code[2:8]


def check_spec(rt: Runtime, spec: SubscriptionSpec) -> tuple[tuple[Category, ...], Purpose]:
    """Step (2): the request, checked; its categories and purpose."""
    if spec.kind not in KINDS:
        raise InvalidArgument.field("kind", spec.kind, "monitoring or batch")
    default = MONITORING_PURPOSE.value if spec.kind == MONITORING else Purpose.FINANCING.value
    purpose = Purpose.parse(spec.purpose or default)
    if spec.kind == MONITORING and purpose is not MONITORING_PURPOSE:
        raise InvalidArgument.field("purpose", spec.purpose, "post_loan for monitoring")
    catalog = rt.catalog
    if spec.categories:
        categories = tuple(
            catalog.require(name, field_name="categories") for name in spec.categories
        )
    else:
        categories = tuple(
            c
            for c in catalog.categories.values()
            if purpose in c.purposes and (c.public or spec.kind == MONITORING)
        )
    for category in categories:
        if purpose not in category.purposes:
            raise InvalidArgument.field(
                "categories", category.id, f"a category that allows purpose {purpose.value}"
            )
        if spec.kind == BATCH and not category.public:
            raise InvalidArgument.field("categories", category.id, "public categories only")
    if spec.kind == BATCH:
        if REGION_RE.fullmatch(spec.region_prefix) is None:
            raise InvalidArgument.field(
                "region_prefix", spec.region_prefix, "2, 4 or 6 digits of a division code"
            )
        if spec.industry:
            load_industries().check(spec.industry, field_name="industry")
    elif spec.region_prefix or spec.industry:
        raise InvalidArgument.field("region_prefix", spec.region_prefix, "none for monitoring")
    if spec.marked_only and spec.kind != MONITORING:
        raise InvalidArgument.field("marked_only", True, "monitoring subscriptions only")
    return tuple(dict.fromkeys(categories)), purpose


def has_active_grant(conn: Connection, node_id: str, purpose: Purpose, now_us: int) -> bool:
    """Step (3): any grant to ``node_id`` for ``purpose``, unrevoked, inside its window."""
    g = schema.grants.c
    found = conn.execute(
        select(g.grant_id)
        .where(
            g.grantee_node_id == node_id,
            g.purpose == purpose.value,
            g.revoked_at_us.is_(None),
            g.not_before_us <= now_us,
            g.not_after_us > now_us,
        )
        .limit(1)
    ).first()
    return found is not None


class Subscriptions:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def create(self, caller: Caller, spec: SubscriptionSpec) -> StoredSubscription:
        # (1) a data consumer
        if caller.kind not in DATA_CONSUMER_KINDS:
            raise PermissionDenied(
                f"a {caller.kind} node does not consume enterprise data",
                reason="CONSUMER_KIND_NOT_ALLOWED",
            )
        # (2) the request
        categories, purpose = check_spec(self.rt, spec)
        now = self.rt.clock.now()
        now_us = to_us(now)
        # (4) the backfill start
        start_us = now_us
        if spec.backfill_from is not None:
            earliest = now - timedelta(days=MAX_BACKFILL_DAYS)
            if not earliest <= spec.backfill_from <= now:
                raise InvalidArgument.field(
                    "backfill_from",
                    spec.backfill_from.isoformat(),
                    f"a time within the last {MAX_BACKFILL_DAYS} days",
                )
            start_us = to_us(spec.backfill_from)
        subscription_id = "sub-" + secrets.token_hex(8)
        trace_id = new_trace_id()

        def work(conn: Connection, ledger: LedgerTx) -> StoredSubscription:
            # (3) monitoring needs a grant to monitor by
            if spec.kind == MONITORING and not has_active_grant(
                conn, caller.node_id, purpose, now_us
            ):
                raise FailedPrecondition(
                    f"node {caller.node_id} holds no active grant for post-loan use",
                    reason="NO_ACTIVE_GRANT",
                )
            # (5) the limit, the row, the entry
            if subscriptions_store.count_active(conn, caller.node_id) >= MAX_SUBSCRIPTIONS_PER_NODE:
                raise ResourceExhausted(
                    f"node {caller.node_id} has {MAX_SUBSCRIPTIONS_PER_NODE} active "
                    "subscriptions already; cancel one first",
                    reason="SUBSCRIPTION_LIMIT",
                )
            cursor = subscriptions_store.position_at(conn, start_us)
            if start_us == now_us:
                cursor = subscriptions_store.bounds(conn)[1]
            details = {
                "kind": spec.kind,
                "categories": [c.id for c in categories],
                "purpose": purpose.value,
                "region_prefix": spec.region_prefix,
                "industry": spec.industry,
                "marked_only": spec.marked_only,
                "start_position": cursor,
            }
            index = ledger.append(
                caller.entry(
                    Action.SUBSCRIPTION_CREATED, now, trace_id, details, subject=subscription_id
                )
            )
            stored = StoredSubscription(
                subscription_id=subscription_id,
                node_id=caller.node_id,
                kind=spec.kind,
                categories=tuple(c.id for c in categories),
                purpose=purpose.value,
                region_prefix=spec.region_prefix,
                industry=spec.industry,
                marked_only=spec.marked_only,
                state=ACTIVE,
                created_at_us=now_us,
                acked_position=cursor,
                ledger_index=index,
            )
            subscriptions_store.insert_subscription(conn, stored)
            return stored

        return await self.rt.commit(work)

    async def cancel(self, caller: Caller, subscription_id: str) -> StoredSubscription:
        check_id(subscription_id)
        now = self.rt.clock.now()
        trace_id = new_trace_id()

        def work(conn: Connection, ledger: LedgerTx) -> StoredSubscription:
            stored = owned(conn, caller, subscription_id, may_admin=True)
            if not subscriptions_store.cancel_subscription(conn, subscription_id, to_us(now)):
                raise FailedPrecondition(
                    f"subscription {subscription_id} is cancelled already",
                    reason="SUBSCRIPTION_CANCELLED",
                )
            ledger.append(
                caller.entry(
                    Action.SUBSCRIPTION_CANCELLED,
                    now,
                    trace_id,
                    {"node_id": stored.node_id},
                    subject=subscription_id,
                )
            )
            found = subscriptions_store.get_subscription(conn, subscription_id)
            assert found is not None
            return found

        return await self.rt.commit(work)

    async def list(
        self, caller: Caller, every: bool
    ) -> tuple[list[tuple[StoredSubscription, Lag]], int]:
        """The caller's subscriptions (``every``: all nodes', for overseers) with their
        lag, and the change log's head position."""
        if every and caller.kind not in OVERSEERS:
            raise PermissionDenied(
                "only administrators and officers list every subscription",
                reason="NOT_OVERSEER",
            )
        now_us = to_us(self.rt.clock.now())
        node = None if every or caller.kind in OVERSEERS else caller.node_id
        return await self.rt.read(lambda conn: _list(conn, node, now_us))


def _list(
    conn: Connection, node_id: str | None, now_us: int
) -> tuple[list[tuple[StoredSubscription, Lag]], int]:
    found = subscriptions_store.list_subscriptions(conn, node_id)
    head = subscriptions_store.bounds(conn)[1]
    counts = subscriptions_store.lag_counts(conn, [s.acked_position for s in found])
    out: list[tuple[StoredSubscription, Lag]] = []
    for sub in found:
        oldest = subscriptions_store.time_after(conn, sub.acked_position)
        seconds = 0.0 if oldest is None else max(0.0, (now_us - oldest) / 1e6)
        out.append((sub, Lag(counts[sub.acked_position], seconds)))
    return out, head


def check_id(subscription_id: str) -> str:
    if not subscription_id or len(subscription_id) > MAX_SUBSCRIPTION_ID_LEN:
        raise InvalidArgument.field(
            "subscription_id", subscription_id, f"1..{MAX_SUBSCRIPTION_ID_LEN} characters"
        )
    return subscription_id


def owned(
    conn: Connection, caller: Caller, subscription_id: str, *, may_admin: bool = False
) -> StoredSubscription:
    """The subscription, if the caller owns it (or, ``may_admin``, is an administrator);
    another node's subscription is NOT_FOUND, as if absent."""
    stored = subscriptions_store.get_subscription(conn, subscription_id)
    if stored is None or (
        stored.node_id != caller.node_id and not (may_admin and caller.kind == "admin")
    ):
        raise NotFound(f"no subscription {subscription_id}", reason="SUBSCRIPTION_NOT_FOUND")
    return stored


def categories_of(rt: Runtime, names: Sequence[str]) -> tuple[Category, ...]:
    return tuple(rt.catalog.require(name, field_name="categories") for name in names)


__all__ = [
    "BATCH",
    "MAX_BACKFILL_DAYS",
    "MAX_SUBSCRIPTIONS_PER_NODE",
    "MONITORING",
    "Lag",
    "SubscriptionSpec",
    "Subscriptions",
    "check_id",
    "check_spec",
    "has_active_grant",
    "owned",
    "region_of",
]
