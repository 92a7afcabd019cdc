"""The rules of an access decision as composable checks, with their inputs and reason
codes: pure, no I/O. ``authz.decision.decide`` runs them and says what an allowed query
may see.

Inputs: the consumer (node kind and id), the category (public or not, allowed purposes),
the declared purpose, the enterprise's state, the enterprise's grants with their state,
the gateway clock, and whether this is the enterprise's own, signature-verified query.

The rules, as checks composed with ``AllOf``/``AnyOf`` (``DEFAULT_POLICY``); deny beats
allow, and the first refusal is the reason given:

    (1) consumer kind      only city platforms, access institutions and gateways consume
                           enterprise data; departments, officers and administrators do not
                           (CONSUMER_KIND_NOT_ALLOWED). A self query comes through a city
                           platform or a gateway.
    (2) enterprise frozen  a frozen enterprise's data goes to nobody but the enterprise
                           itself (ENTERPRISE_FROZEN), public categories included.
    (3) open objection     no longer a gate of the decision: while an objection (异议) is
                           open the disputed record is shown annotated 异议处理中, or
                           withheld where its category's ``objection_rule`` says so; the
                           query path applies that per record (authz.objections,
                           docs/objections.md). OPEN_OBJECTION stays a known reason code
                           for entries written before.
    (4) self query         allowed, raw, all fields, whatever the grants or the category's
                           purposes say. The caller has verified the enterprise's signature,
                           freshness and nonce (grants.verify_self_query) before passing
                           self_query=True.
    (5) purpose            the declared purpose is one the category allows
                           (PURPOSE_NOT_ALLOWED).
    (6) public category    every admitted consumer may read it (masked per policy).
    (7) grant              a non-public category needs an active grant of this enterprise
                           to this consumer covering the category (or some of its fields)
                           for this purpose, within its validity and with uses left.

When no grant matches, the reason is that of the grant that came closest: one that
matches grantee, category and purpose but is revoked gives GRANT_REVOKED, not NO_GRANT.
The ranking is grantee (GRANTEE_MISMATCH) < category (CATEGORY_NOT_GRANTED) < purpose
(PURPOSE_MISMATCH) < status (GRANT_REVOKED / GRANT_EXPIRED / GRANT_NOT_YET_VALID /
GRANT_USED_UP). GRANTEE_MISMATCH tells the audit ledger that grants exist but for another
node; its message names neither the other node nor the grant, and the edge may show it
to the consumer as NO_GRANT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from authz.catalog import Category, Purpose
from authz.grants import (
    GrantState,
    GrantStatus,
)
from authz.statements import check_node_id
from xinlian.errors import AccessDenied, InvalidArgument


class ConsumerKind(StrEnum):
    CITY_PLATFORM = "city_platform"
    DEPARTMENT = "department"
    INSTITUTION = "institution"
    OFFICER = "officer"
    ADMIN = "admin"
    GATEWAY = "gateway"


DATA_CONSUMER_KINDS = frozenset(
    {ConsumerKind.CITY_PLATFORM, ConsumerKind.INSTITUTION, ConsumerKind.GATEWAY}
)
SELF_QUERY_KINDS = frozenset({ConsumerKind.CITY_PLATFORM, ConsumerKind.GATEWAY})
_CONSUMER_KINDS = frozenset(k.value for k in ConsumerKind)


class ReasonCode(StrEnum):
    ENTERPRISE_FROZEN = "ENTERPRISE_FROZEN"
    OPEN_OBJECTION = "OPEN_OBJECTION"
    CONSUMER_KIND_NOT_ALLOWED = "CONSUMER_KIND_NOT_ALLOWED"
    PURPOSE_NOT_ALLOWED = "PURPOSE_NOT_ALLOWED"
    NO_GRANT = "NO_GRANT"
    GRANT_REVOKED = "GRANT_REVOKED"
    GRANT_EXPIRED = "GRANT_EXPIRED"
    GRANT_NOT_YET_VALID = "GRANT_NOT_YET_VALID"
    GRANT_USED_UP = "GRANT_USED_UP"
    PURPOSE_MISMATCH = "PURPOSE_MISMATCH"
    CATEGORY_NOT_GRANTED = "CATEGORY_NOT_GRANTED"
    GRANTEE_MISMATCH = "GRANTEE_MISMATCH"
    NOT_SELF_QUERY = "NOT_SELF_QUERY"  # only inside AnyOf; never the final reason
    NOT_PUBLIC = "NOT_PUBLIC"  # only inside AnyOf; never the final reason
    NO_POLICY = "NO_POLICY"  # an empty AllOf/AnyOf refuses

    @property
    def label_zh(self) -> str:
        return _REASON_ZH[self]


_REASON_ZH = {
    ReasonCode.ENTERPRISE_FROZEN: "企业信息已冻结",
    ReasonCode.OPEN_OBJECTION: "企业信息存在未处理的异议",
    ReasonCode.CONSUMER_KIND_NOT_ALLOWED: "该类节点不得查询企业信息",
    ReasonCode.PURPOSE_NOT_ALLOWED: "该信息类别不允许此用途",
    ReasonCode.NO_GRANT: "无企业授权",
    ReasonCode.GRANT_REVOKED: "授权已撤回",
    ReasonCode.GRANT_EXPIRED: "授权已过期",
    ReasonCode.GRANT_NOT_YET_VALID: "授权尚未生效",
    ReasonCode.GRANT_USED_UP: "授权查询次数已用完",
    ReasonCode.PURPOSE_MISMATCH: "查询用途与授权用途不符",
    ReasonCode.CATEGORY_NOT_GRANTED: "授权不包含该信息类别",
    ReasonCode.GRANTEE_MISMATCH: "授权对象不是本节点",
    ReasonCode.NOT_SELF_QUERY: "非企业本身查询",
    ReasonCode.NOT_PUBLIC: "非公开信息",
    ReasonCode.NO_POLICY: "无适用的访问策略",
}

_STATUS_REASON = {
    GrantStatus.REVOKED: ReasonCode.GRANT_REVOKED,
    GrantStatus.EXPIRED: ReasonCode.GRANT_EXPIRED,
    GrantStatus.NOT_YET_VALID: ReasonCode.GRANT_NOT_YET_VALID,
    GrantStatus.USED_UP: ReasonCode.GRANT_USED_UP,
}


def deny(code: ReasonCode, message: str) -> AccessDenied:
    return AccessDenied(f"{message} ({code.label_zh})", reason=code.value)


# -- inputs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Consumer:
    node_id: str
    kind: str  # a ConsumerKind value

    def __post_init__(self) -> None:
        check_node_id(self.node_id, field_name="consumer.node_id")
        if self.kind not in _CONSUMER_KINDS:
            raise InvalidArgument.field(
                "consumer.kind", self.kind, "one of " + ", ".join(k.value for k in ConsumerKind)
            )


@dataclass(frozen=True)
class EnterpriseState:
    credit_code: str
    frozen: bool = False
    open_objections: int = 0


@dataclass(frozen=True)
class QueryContext:
    consumer: Consumer
    category: Category
    purpose: Purpose
    enterprise: EnterpriseState
    grants: Sequence[GrantState]
    now: datetime
    self_query: bool


# -- checks ----------------------------------------------------------------------------


class Check(Protocol):
    """One rule: returns if satisfied, raises AccessDenied with a reason code if not."""

    def check(self, ctx: QueryContext) -> None: ...


class AllOf:
    """Every child must pass; the first refusal is raised. No children: refuse."""

    def __init__(self, children: Sequence[Check]) -> None:
        self._children = tuple(children)

    def check(self, ctx: QueryContext) -> None:
        if not self._children:
            raise deny(ReasonCode.NO_POLICY, "empty AllOf policy refuses")
        for child in self._children:
            child.check(ctx)


class AnyOf:
    """One child must pass. If all refuse, the last child's refusal is raised, so list
    the alternative whose refusal explains best last. No children: refuse."""

    def __init__(self, children: Sequence[Check]) -> None:
        self._children = tuple(children)

    def check(self, ctx: QueryContext) -> None:
        if not self._children:
            raise deny(ReasonCode.NO_POLICY, "empty AnyOf policy refuses")
        last: AccessDenied | None = None
        for child in self._children:
            try:
                child.check(ctx)
            except AccessDenied as exc:
                last = exc
            else:
                return
        assert last is not None
        raise last


class ConsumerKindAllowed:
    def check(self, ctx: QueryContext) -> None:
        kind = ctx.consumer.kind
        if kind not in DATA_CONSUMER_KINDS:
            raise deny(
                ReasonCode.CONSUMER_KIND_NOT_ALLOWED,
                f"a {kind} node does not query enterprise data",
            )
        if ctx.self_query and kind not in SELF_QUERY_KINDS:
            raise deny(
                ReasonCode.CONSUMER_KIND_NOT_ALLOWED,
                f"an enterprise's own query comes through a city platform, not a {kind}",
            )


class NotFrozen:
    def check(self, ctx: QueryContext) -> None:
        if ctx.enterprise.frozen and not ctx.self_query:
            raise deny(ReasonCode.ENTERPRISE_FROZEN, "the enterprise's data is frozen")


class IsSelfQuery:
    def check(self, ctx: QueryContext) -> None:
        if not ctx.self_query:
            raise deny(ReasonCode.NOT_SELF_QUERY, "not the enterprise's own query")


class PurposeAllowed:
    def check(self, ctx: QueryContext) -> None:
        if ctx.purpose not in ctx.category.purposes:
            allowed = ", ".join(p.value for p in ctx.category.purposes)
            raise deny(
                ReasonCode.PURPOSE_NOT_ALLOWED,
                f"category {ctx.category.id} allows purposes {allowed}, not {ctx.purpose.value}",
            )


class PublicCategory:
    def check(self, ctx: QueryContext) -> None:
        if not ctx.category.public:
            raise deny(ReasonCode.NOT_PUBLIC, f"category {ctx.category.id} is not public")


class ActiveMatchingGrant:
    def check(self, ctx: QueryContext) -> None:
        select_grant(ctx)


DEFAULT_POLICY: Check = AllOf(
    [
        ConsumerKindAllowed(),  # (1)
        NotFrozen(),  # (2); (3) is applied per record by the query path
        AnyOf(
            [
                IsSelfQuery(),  # (4)
                AllOf(
                    [
                        PurposeAllowed(),  # (5)
                        AnyOf([PublicCategory(), ActiveMatchingGrant()]),  # (6), (7)
                    ]
                ),
            ]
        ),
    ]
)


# -- grant selection -------------------------------------------------------------------

# How far a grant got before it failed; the closest miss names the reason.
_RANK_GRANTEE = 1
_RANK_CATEGORY = 2
_RANK_PURPOSE = 3
_RANK_STATUS = 4


@dataclass(frozen=True)
class GrantMatch:
    state: GrantState
    fields: frozenset[str]


def active_matches(
    grants: Sequence[GrantState],
    category: Category,
    credit_code: str,
    consumer_node_id: str,
    purpose: Purpose,
    now: datetime,
) -> list[GrantMatch]:
    """The grants that pass every test of (7): this enterprise, this grantee, covering
    some of the category, this purpose, active at ``now``. Raises nothing."""
    matches: list[GrantMatch] = []
    field_names: tuple[str, ...] | None = None
    for state in grants:
        grant = state.grant
        if (
            grant.credit_code != credit_code
            or grant.grantee_node_id != consumer_node_id
            or grant.purpose != purpose
        ):
            continue
        if field_names is None:
            field_names = category.field_names
        covered = grant.covered_fields(category.id, field_names)
        if covered and state.status_at(now) is GrantStatus.ACTIVE:
            matches.append(GrantMatch(state, covered))
    return matches


def best_match(matches: Sequence[GrantMatch]) -> GrantMatch:
    return min(
        matches,
        key=lambda m: (-len(m.fields), m.state.grant.not_after, m.state.grant.grant_id),
    )


def select_grant(ctx: QueryContext) -> GrantMatch:
    """The best active matching grant, or AccessDenied with the closest miss's reason.

    Among several active matches the one covering the most fields wins, then the one
    that lapses first (longer grants are kept for later), then the smallest grant id.
    """
    category = ctx.category
    matches = active_matches(
        ctx.grants, category, ctx.enterprise.credit_code, ctx.consumer.node_id, ctx.purpose, ctx.now
    )
    if matches:
        return best_match(matches)
    # no match: the closest miss names the reason
    best_miss: tuple[int, ReasonCode, str, str | None] | None = None
    for state in ctx.grants:
        grant = state.grant
        if grant.credit_code != ctx.enterprise.credit_code:
            continue  # another enterprise's grant says nothing here
        miss: tuple[int, ReasonCode, str, str | None] | None = None
        covered = grant.covered_fields(category.id, category.field_names)
        if grant.grantee_node_id != ctx.consumer.node_id:
            miss = (
                _RANK_GRANTEE,
                ReasonCode.GRANTEE_MISMATCH,
                "the enterprise's grants name another grantee",
                None,
            )
        elif not covered:
            miss = (
                _RANK_CATEGORY,
                ReasonCode.CATEGORY_NOT_GRANTED,
                f"grant {grant.grant_id} does not cover category {category.id}",
                grant.grant_id,
            )
        elif grant.purpose != ctx.purpose:
            miss = (
                _RANK_PURPOSE,
                ReasonCode.PURPOSE_MISMATCH,
                f"grant {grant.grant_id} is for {grant.purpose.value}, "
                f"the query for {ctx.purpose.value}",
                grant.grant_id,
            )
        else:
            status = state.status_at(ctx.now)
            if status is not GrantStatus.ACTIVE:
                miss = (
                    _RANK_STATUS,
                    _STATUS_REASON[status],
                    f"grant {grant.grant_id} is {status.value}",
                    grant.grant_id,
                )
        if miss is not None and (best_miss is None or miss[0] > best_miss[0]):
            best_miss = miss
    if best_miss is None:
        raise deny(
            ReasonCode.NO_GRANT,
            f"no grant of the enterprise covers category {category.id}",
        )
    _, code, message, grant_id = best_miss
    error = deny(code, message)
    if grant_id is not None:
        error.metadata["grant_id"] = grant_id
    raise error
