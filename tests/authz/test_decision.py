"""The access decision: each rule, reason codes, deny beats allow, grant selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authz.catalog import Catalog, Category, Purpose
from authz.decision import Decision, decide
from authz.grants import (
    Grant,
    GrantState,
)
from authz.policy import (
    DEFAULT_POLICY,
    ActiveMatchingGrant,
    AllOf,
    AnyOf,
    Consumer,
    ConsumerKind,
    ConsumerKindAllowed,
    EnterpriseState,
    PublicCategory,
    QueryContext,
    ReasonCode,
)
from xinlian.errors import AccessDenied, InvalidArgument

CODE = "91350100M000100Y5W"
OTHER_CODE = "91350100M000200Y5W"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BANK = Consumer("bank-a", "institution")
OTHER_BANK = Consumer("bank-b", "institution")
PLATFORM = Consumer("city-fz", "city_platform")

CATALOG = Catalog.from_dict(
    {
        "version": "t",
        "categories": [
            {
                "id": "registration",
                "name_zh": "登记注册",
                "name_en": "Registration",
                "department": "market",
                "public": True,
                "update_frequency": "daily",
                "update_deadline_days": 7,
                "purposes": ["financing", "guarantee", "post_loan"],
                "fields": [
                    {"name": "name", "name_zh": "名称", "type": "string", "sensitivity": "public"},
                    {
                        "name": "legal_rep_id",
                        "name_zh": "法定代表人身份证号",
                        "type": "string",
                        "sensitivity": "C2",
                        "default_mask": "id_card",
                    },
                ],
            },
            {
                "id": "tax",
                "name_zh": "纳税信息",
                "name_en": "Tax",
                "department": "tax",
                "public": False,
                "update_frequency": "monthly",
                "update_deadline_days": 5,
                "purposes": ["financing", "post_loan"],
                "fields": [
                    {"name": "amount", "name_zh": "纳税额", "type": "decimal", "sensitivity": "C1"},
                    {
                        "name": "year",
                        "name_zh": "年度",
                        "type": "integer",
                        "sensitivity": "internal",
                    },
                    {
                        "name": "grade",
                        "name_zh": "纳税信用等级",
                        "type": "string",
                        "sensitivity": "C1",
                    },
                ],
            },
        ],
    }
)
REGISTRATION = CATALOG.require("registration")
TAX = CATALOG.require("tax")
ALL_TAX = frozenset({"amount", "year", "grade"})


def grant(**overrides: object) -> Grant:
    values: dict[str, object] = {
        "grant_id": "g-1",
        "credit_code": CODE,
        "grantee_node_id": "bank-a",
        "categories": frozenset({"tax"}),
        "fields": frozenset(),
        "purpose": Purpose.FINANCING,
        "not_before": NOW - timedelta(days=30),
        "not_after": NOW + timedelta(days=30),
        "max_uses": None,
        "issued_at": NOW - timedelta(days=31),
    }
    values.update(overrides)
    return Grant(**values)  # type: ignore[arg-type]


def run(
    *grants: GrantState,
    consumer: Consumer = BANK,
    category: Category = TAX,
    purpose: Purpose = Purpose.FINANCING,
    state: EnterpriseState | None = None,
    self_query: bool = False,
    now: datetime = NOW,
) -> Decision:
    return decide(
        consumer,
        category,
        purpose,
        state or EnterpriseState(CODE),
        list(grants),
        now,
        self_query,
    )


def assert_denied(decision: Decision, code: ReasonCode) -> None:
    assert not decision.allowed
    assert decision.reason_code == code
    assert decision.message
    assert decision.fields == frozenset()
    assert not decision.raw


# -- allow -------------------------------------------------------------------------------


@pytest.mark.parametrize("consumer", [BANK, PLATFORM, Consumer("gw-national", "gateway")])
def test_public_category_is_open_to_every_consumer(consumer: Consumer) -> None:
    decision = run(consumer=consumer, category=REGISTRATION)
    assert decision.allowed and decision.reason_code is None
    assert decision.fields == {"name", "legal_rep_id"}
    assert decision.grant_id is None and not decision.raw


def test_active_grant_allows_the_whole_category() -> None:
    decision = run(GrantState(grant()))
    assert decision.allowed
    assert decision.grant_id == "g-1"
    assert decision.fields == ALL_TAX
    assert not decision.raw


def test_field_grant_allows_only_those_fields() -> None:
    g = grant(categories=frozenset(), fields=frozenset({"tax.amount", "tax.ghost", "other.x"}))
    decision = run(GrantState(g))
    assert decision.allowed and decision.fields == {"amount"}


def test_best_of_several_active_grants() -> None:
    partial = grant(grant_id="g-part", categories=frozenset(), fields=frozenset({"tax.amount"}))
    whole_long = grant(grant_id="g-long", not_after=NOW + timedelta(days=300))
    whole_short = grant(grant_id="g-short", not_after=NOW + timedelta(days=3))
    decision = run(GrantState(partial), GrantState(whole_long), GrantState(whole_short))
    assert decision.grant_id == "g-short"  # most fields, then the one that lapses first
    assert decision.fields == ALL_TAX


def test_active_grant_wins_over_a_revoked_one() -> None:
    revoked = GrantState(grant(grant_id="g-old"), revoked_at=NOW - timedelta(days=1))
    decision = run(revoked, GrantState(grant(grant_id="g-new")))
    assert decision.allowed and decision.grant_id == "g-new"


def test_self_query_is_raw_and_needs_no_grant() -> None:
    decision = run(consumer=PLATFORM, self_query=True)
    assert decision.allowed and decision.raw
    assert decision.fields == ALL_TAX and decision.grant_id is None


def test_self_query_ignores_freeze_and_objection() -> None:
    state = EnterpriseState(CODE, frozen=True, open_objections=2)
    assert run(consumer=PLATFORM, self_query=True, state=state).allowed


# -- deny --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["department", "officer", "admin"])
def test_other_node_kinds_do_not_consume(kind: str) -> None:
    decision = run(GrantState(grant(grantee_node_id="n-1")), consumer=Consumer("n-1", kind))
    assert_denied(decision, ReasonCode.CONSUMER_KIND_NOT_ALLOWED)
    assert_denied(
        run(consumer=Consumer("n-1", kind), category=REGISTRATION),
        ReasonCode.CONSUMER_KIND_NOT_ALLOWED,
    )


def test_self_query_only_through_a_platform() -> None:
    assert_denied(run(consumer=BANK, self_query=True), ReasonCode.CONSUMER_KIND_NOT_ALLOWED)


@pytest.mark.parametrize("category", [TAX, REGISTRATION])
def test_freeze_denies_even_public_data_and_an_active_grant(category: Category) -> None:
    state = EnterpriseState(CODE, frozen=True)
    assert_denied(
        run(GrantState(grant()), category=category, state=state), ReasonCode.ENTERPRISE_FROZEN
    )


@pytest.mark.parametrize("category", [TAX, REGISTRATION])
def test_open_objection_is_no_longer_a_gate(category: Category) -> None:
    """An open objection annotates or withholds the disputed record (the query path,
    authz.objections); it no longer denies the whole enterprise."""
    state = EnterpriseState(CODE, open_objections=1)
    assert run(GrantState(grant()), category=category, state=state).allowed


def test_purpose_not_allowed_by_the_category() -> None:
    assert_denied(
        run(category=REGISTRATION, purpose=Purpose.GOVERNMENT_SERVICE),
        ReasonCode.PURPOSE_NOT_ALLOWED,
    )
    g = grant(purpose=Purpose.GUARANTEE)
    assert_denied(run(GrantState(g), purpose=Purpose.GUARANTEE), ReasonCode.PURPOSE_NOT_ALLOWED)


def test_no_grant() -> None:
    assert_denied(run(), ReasonCode.NO_GRANT)


def test_another_enterprises_grant_says_nothing() -> None:
    assert_denied(run(GrantState(grant(credit_code=OTHER_CODE))), ReasonCode.NO_GRANT)


def test_grantee_mismatch_does_not_name_the_other_grant() -> None:
    decision = run(GrantState(grant()), consumer=OTHER_BANK)
    assert_denied(decision, ReasonCode.GRANTEE_MISMATCH)
    assert decision.grant_id is None
    assert "g-1" not in decision.message and "bank-a" not in decision.message


def test_category_not_granted() -> None:
    g = grant(categories=frozenset({"customs"}), fields=frozenset({"registration.name"}))
    decision = run(GrantState(g))
    assert_denied(decision, ReasonCode.CATEGORY_NOT_GRANTED)
    assert decision.grant_id == "g-1"


def test_purpose_mismatch() -> None:
    decision = run(GrantState(grant(purpose=Purpose.POST_LOAN)))
    assert_denied(decision, ReasonCode.PURPOSE_MISMATCH)


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (GrantState(grant(), revoked_at=NOW + timedelta(days=1)), ReasonCode.GRANT_REVOKED),
        (GrantState(grant(not_after=NOW)), ReasonCode.GRANT_EXPIRED),
        (
            GrantState(grant(not_before=NOW + timedelta(seconds=1))),
            ReasonCode.GRANT_NOT_YET_VALID,
        ),
        (GrantState(grant(max_uses=3), uses=3), ReasonCode.GRANT_USED_UP),
    ],
)
def test_grant_status_denials(state: GrantState, code: ReasonCode) -> None:
    decision = run(state)
    assert_denied(decision, code)
    assert decision.grant_id == "g-1"


def test_the_most_specific_reason_wins() -> None:
    other_grantee = GrantState(grant(grant_id="g-a", grantee_node_id="bank-z"))
    other_category = GrantState(grant(grant_id="g-b", categories=frozenset({"customs"})))
    other_purpose = GrantState(grant(grant_id="g-c", purpose=Purpose.POST_LOAN))
    revoked = GrantState(grant(grant_id="g-d"), revoked_at=NOW)
    assert_denied(run(other_grantee), ReasonCode.GRANTEE_MISMATCH)
    assert_denied(run(other_grantee, other_category), ReasonCode.CATEGORY_NOT_GRANTED)
    assert_denied(run(other_purpose, other_grantee, other_category), ReasonCode.PURPOSE_MISMATCH)
    decision = run(other_grantee, revoked, other_category, other_purpose)
    assert_denied(decision, ReasonCode.GRANT_REVOKED)
    assert decision.grant_id == "g-d"


def test_expiry_is_checked_against_the_clock_on_every_query() -> None:
    state = GrantState(grant())
    assert run(state, now=state.grant.not_after - timedelta(seconds=1)).allowed
    assert_denied(run(state, now=state.grant.not_after), ReasonCode.GRANT_EXPIRED)


def test_denial_raises_on_request() -> None:
    decision = run()
    with pytest.raises(AccessDenied) as info:
        decision.raise_for_denial()
    assert info.value.reason == "NO_GRANT"
    run(GrantState(grant())).raise_for_denial()


def test_messages_carry_a_chinese_label() -> None:
    assert "无企业授权" in run().message
    assert all(code.label_zh for code in ReasonCode)


# -- inputs ------------------------------------------------------------------------------


def test_consumer_kind_is_from_a_closed_list() -> None:
    with pytest.raises(InvalidArgument, match=r"consumer\.kind"):
        Consumer("x", "bank")
    with pytest.raises(InvalidArgument, match=r"consumer\.node_id"):
        Consumer("", "institution")


def test_naive_clock_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="now"):
        run(now=datetime(2026, 3, 1))


# -- combinators -------------------------------------------------------------------------


def ctx(category: Category = TAX) -> QueryContext:
    return QueryContext(BANK, category, Purpose.FINANCING, EnterpriseState(CODE), (), NOW, False)


def test_empty_all_of_refuses() -> None:
    with pytest.raises(AccessDenied) as info:
        AllOf([]).check(ctx(REGISTRATION))
    assert info.value.reason == ReasonCode.NO_POLICY
    assert_denied(
        decide(
            BANK,
            REGISTRATION,
            Purpose.FINANCING,
            EnterpriseState(CODE),
            [],
            NOW,
            False,
            policy=AllOf([]),
        ),
        ReasonCode.NO_POLICY,
    )


def test_empty_any_of_refuses() -> None:
    with pytest.raises(AccessDenied) as info:
        AnyOf([]).check(ctx())
    assert info.value.reason == ReasonCode.NO_POLICY


def test_any_of_passes_on_one_and_raises_the_last_refusal() -> None:
    AnyOf([ActiveMatchingGrant(), PublicCategory()]).check(ctx(REGISTRATION))
    with pytest.raises(AccessDenied) as info:
        AnyOf([PublicCategory(), ActiveMatchingGrant()]).check(ctx())
    assert info.value.reason == ReasonCode.NO_GRANT


def test_all_of_raises_the_first_refusal() -> None:
    with pytest.raises(AccessDenied) as info:
        AllOf([PublicCategory(), ActiveMatchingGrant()]).check(ctx())
    assert info.value.reason == ReasonCode.NOT_PUBLIC


def test_a_lax_policy_still_needs_a_grant_for_non_public_data() -> None:
    lax = AllOf([ConsumerKindAllowed()])
    decision = decide(
        BANK, TAX, Purpose.FINANCING, EnterpriseState(CODE), [], NOW, False, policy=lax
    )
    assert_denied(decision, ReasonCode.NO_GRANT)


def test_default_policy_is_an_all_of() -> None:
    assert isinstance(DEFAULT_POLICY, AllOf)


# -- the fast path agrees with the composable policy -----------------------------------

_SLOW_DEFAULT = AllOf([DEFAULT_POLICY])  # same rules, but not DEFAULT_POLICY: no fast path


@given(
    kind=st.sampled_from([k.value for k in ConsumerKind]),
    node=st.sampled_from(["bank-a", "bank-b", "city-fz"]),
    category=st.sampled_from([REGISTRATION, TAX]),
    purpose=st.sampled_from(list(Purpose)),
    frozen=st.booleans(),
    objections=st.integers(min_value=0, max_value=2),
    self_query=st.booleans(),
    grants=st.lists(
        st.builds(
            lambda code, grantee, cats, fields, purpose, start, days, max_uses, uses, revoked: (
                GrantState(
                    grant(
                        credit_code=code,
                        grantee_node_id=grantee,
                        categories=frozenset(cats),
                        fields=frozenset(fields) if not cats else frozenset(),
                        purpose=purpose,
                        not_before=NOW + timedelta(days=start),
                        not_after=NOW + timedelta(days=start + days),
                        max_uses=max_uses,
                        issued_at=NOW + timedelta(days=start - 1),
                    ),
                    uses=uses,
                    revoked_at=NOW - timedelta(hours=1) if revoked else None,
                )
            ),
            st.sampled_from([CODE, OTHER_CODE]),
            st.sampled_from(["bank-a", "bank-b"]),
            st.sets(st.sampled_from(["tax", "registration"]), max_size=2),
            st.sets(st.sampled_from(["tax.amount", "tax.grade", "registration.name"]), min_size=1),
            st.sampled_from(list(Purpose)),
            st.integers(min_value=-10, max_value=5),
            st.integers(min_value=1, max_value=20),
            st.one_of(st.none(), st.integers(min_value=1, max_value=3)),
            st.integers(min_value=0, max_value=3),
            st.booleans(),
        ),
        max_size=4,
    ),
)
@settings(max_examples=300, deadline=None)
def test_fast_path_decides_exactly_like_the_policy(
    kind: str,
    node: str,
    category: Category,
    purpose: Purpose,
    frozen: bool,
    objections: int,
    self_query: bool,
    grants: list[GrantState],
) -> None:
    args = (
        Consumer(node, kind),
        category,
        purpose,
        EnterpriseState(CODE, frozen=frozen, open_objections=objections),
        grants,
        NOW,
        self_query,
    )
    assert decide(*args) == decide(*args, policy=_SLOW_DEFAULT)
