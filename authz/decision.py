"""The access decision for one query of one category of one enterprise: pure, no I/O.

``decide`` runs a policy (by default ``DEFAULT_POLICY``: the rules, their inputs and
their reason codes are in ``authz/policy.py``) and says what an allowed query may see:
every field, raw, for the enterprise's own query; every field, masked, of a public
category; the fields the chosen grant covers otherwise. It never raises for a denial:
the Decision carries the reason code and message.

A Decision that allows under a grant names it (grant_id); the caller records the use
(GrantState.used) in the same transaction as the audit entry.

Fast path: with ``DEFAULT_POLICY`` (the query path), ``decide`` first evaluates the same
rules as plain conditions, raising nothing; when they allow, that is the decision. Any
other outcome (a refusal, or a policy other than the default) is decided by the
composable policy, which explains the refusal. The two agree on every allow
(tests/authz/test_decision.py checks them against each other).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from authz.catalog import Category, Purpose
from authz.grants import GrantState
from authz.policy import (
    DATA_CONSUMER_KINDS,
    DEFAULT_POLICY,
    SELF_QUERY_KINDS,
    Check,
    Consumer,
    ConsumerKind,
    EnterpriseState,
    QueryContext,
    ReasonCode,
    active_matches,
    best_match,
    select_grant,
)
from xinlian.errors import AccessDenied, InvalidArgument


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason_code: str | None
    message: str
    grant_id: str | None
    fields: frozenset[str]  # bare field names of the category that may be disclosed
    raw: bool  # the enterprise's own query: unmasked

    def raise_for_denial(self) -> None:
        if not self.allowed:
            raise AccessDenied(self.message, reason=self.reason_code)


# -- the decision ----------------------------------------------------------------------


def decide(
    consumer: Consumer,
    category: Category,
    purpose: Purpose,
    enterprise_state: EnterpriseState,
    grants: Sequence[GrantState],
    now: datetime,
    self_query: bool,
    *,
    policy: Check = DEFAULT_POLICY,
) -> Decision:
    """Decide one query. Never raises for a denial: the Decision carries the reason."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidArgument.field("now", now, "a timezone-aware datetime")
    if policy is DEFAULT_POLICY:
        allowed = _allow_fast(
            consumer, category, purpose, enterprise_state, grants, now, self_query
        )
        if allowed is not None:
            return allowed
    ctx = QueryContext(
        consumer=consumer,
        category=category,
        purpose=purpose,
        enterprise=enterprise_state,
        grants=tuple(grants),
        now=now,
        self_query=self_query,
    )
    try:
        # (a) the policy: deny beats allow, the first refusal is the reason
        policy.check(ctx)
        # (b) what the allowed query may see
        all_fields = frozenset(category.field_names)
        if self_query:
            return Decision(True, None, "the enterprise's own query", None, all_fields, raw=True)
        if category.public:
            message = f"category {category.id} is public"
            return Decision(True, None, message, None, all_fields, raw=False)
        match = select_grant(ctx)  # a policy that skipped the grant check still needs one
    except AccessDenied as exc:
        return Decision(
            allowed=False,
            reason_code=exc.reason,
            message=exc.message,
            grant_id=exc.metadata.get("grant_id"),
            fields=frozenset(),
            raw=False,
        )
    grant_id = match.state.grant.grant_id
    return Decision(True, None, f"allowed under grant {grant_id}", grant_id, match.fields, False)


def _allow_fast(
    consumer: Consumer,
    category: Category,
    purpose: Purpose,
    enterprise: EnterpriseState,
    grants: Sequence[GrantState],
    now: datetime,
    self_query: bool,
) -> Decision | None:
    """``DEFAULT_POLICY``'s allow, as plain conditions: the allowing Decision, or None
    when the policy must be run (to refuse, with its reason)."""
    # (1) consumer kind
    kind = consumer.kind
    if kind not in DATA_CONSUMER_KINDS:
        return None
    if self_query:
        # (2), (3) do not hold the enterprise's own query; (4) allows it, raw
        if kind not in SELF_QUERY_KINDS:
            return None
        all_fields = frozenset(category.field_names)
        return Decision(True, None, "the enterprise's own query", None, all_fields, raw=True)
    # (2) frozen, (5) purpose
    if enterprise.frozen or purpose not in category.purposes:
        return None
    # (6) public category
    if category.public:
        message = f"category {category.id} is public"
        return Decision(True, None, message, None, frozenset(category.field_names), raw=False)
    # (7) an active matching grant
    matches = active_matches(
        grants, category, enterprise.credit_code, consumer.node_id, purpose, now
    )
    if not matches:
        return None
    match = best_match(matches)
    grant_id = match.state.grant.grant_id
    return Decision(True, None, f"allowed under grant {grant_id}", grant_id, match.fields, False)


__all__ = [
    "DATA_CONSUMER_KINDS",
    "DEFAULT_POLICY",
    "SELF_QUERY_KINDS",
    "Check",
    "Consumer",
    "ConsumerKind",
    "Decision",
    "EnterpriseState",
    "QueryContext",
    "ReasonCode",
    "decide",
]
