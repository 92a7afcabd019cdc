"""Property tests: the authorization invariants over random catalogs, grants, clocks and
consumers, checked end to end (decide, then desensitize_record) against a naive reference.

Invariants (DESIGN.md):
- No non-public value leaves the gateway without an active matching grant.
- An access institution never receives raw non-public detail.
- Revoked, expired, not-yet-valid, used-up, forged and altered grants deny; so does a
  purpose mismatch.
"""

from __future__ import annotations

import dataclasses
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from authz.catalog import Catalog, Category, Purpose, Sensitivity
from authz.decision import Consumer, ConsumerKind, Decision, EnterpriseState, ReasonCode, decide
from authz.desensitize import (
    ROLES,
    SCOPE_NON_PUBLIC,
    SCOPE_PUBLIC,
    DisclosedField,
    MaskPolicy,
    desensitize_record,
    parse_mask,
    pseudonym,
    role_for,
)
from authz.grants import (
    Grant,
    GrantState,
    verify_grant_signature,
    verify_signed_grant,
)
from xinlian.errors import InvalidArgument, PermissionDenied, XinLianError
from xinlian.signing import sign

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ENTERPRISE = "91350100M000100Y5W"
OTHER_ENTERPRISE = "91350100M000200Y5W"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
SECRET = bytes(range(32))
POLICY = MaskPolicy.default()
KEY = ed25519.Ed25519PrivateKey.generate()
OTHER_KEY = ed25519.Ed25519PrivateKey.generate()

MASK_SPECS = [
    "keep",
    "drop",
    "mask_all",
    "first_n:2",
    "last_n:3",
    "pseudonym",
    "range:1000",
    "date_year",
    "date_month",
    "id_card",
    "mobile",
    "bank_account",
    "person_name",
]
FIELD_NAMES = [f"f{i}" for i in range(6)]
CATEGORY_IDS = [f"c{i}" for i in range(4)]
NODES = ["bank-a", "bank-b", "city-fz", "gw-1"]
DATA_KINDS = {"city_platform", "institution", "gateway"}
SELF_KINDS = {"city_platform", "gateway"}
STATUS_REASON = {
    "revoked": ReasonCode.GRANT_REVOKED,
    "expired": ReasonCode.GRANT_EXPIRED,
    "not_yet_valid": ReasonCode.GRANT_NOT_YET_VALID,
    "used_up": ReasonCode.GRANT_USED_UP,
}

# Raw values: some fit the typed masks; none contains "*", "-" or ":", so no mask output
# other than keep can equal its raw value.
RAW_VALUES = st.one_of(
    st.sampled_from(
        [
            "12345",
            "987654.5",
            "2026-01-05",
            "2025-12-31T23:59:59Z",
            "350102199001011234",
            "13812345678",
            "6222020200112233445",
            "张三丰",
            "李",
        ]
    ),
    st.text(alphabet=string.ascii_letters + string.digits + "中信用", min_size=1, max_size=20),
)

clocks = st.integers(-30_000_000, 30_000_000).map(lambda s: T0 + timedelta(seconds=s))
consumers = st.builds(
    Consumer, st.sampled_from(NODES), st.sampled_from([k.value for k in ConsumerKind])
)
enterprise_states = st.builds(
    EnterpriseState,
    st.just(ENTERPRISE),
    st.sampled_from([False, False, False, True]),
    st.sampled_from([0, 0, 0, 1, 2]),
)


@st.composite
def category_dicts(draw: st.DrawFn, category_id: str, public: bool | None = None) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=6, unique=True))
    fields = [
        {
            "name": name,
            "name_zh": name,
            "type": "string",
            "sensitivity": draw(st.sampled_from([s.value for s in Sensitivity])),
            "default_mask": draw(st.sampled_from(MASK_SPECS)),
        }
        for name in names
    ]
    purposes = draw(st.lists(st.sampled_from([p.value for p in Purpose]), min_size=1, unique=True))
    return {
        "id": category_id,
        "name_zh": category_id,
        "name_en": category_id,
        "department": "dept",
        "public": draw(st.booleans()) if public is None else public,
        "update_frequency": "daily",
        "update_deadline_days": 5,
        "purposes": purposes,
        "fields": fields,
    }


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    ids = draw(st.lists(st.sampled_from(CATEGORY_IDS), min_size=1, max_size=4, unique=True))
    return Catalog.from_dict(
        {"version": "p", "categories": [draw(category_dicts(cid)) for cid in ids]}
    )


@st.composite
def grants(draw: st.DrawFn, catalog: Catalog, now: datetime, grant_id: str) -> Grant:
    categories = list(catalog.categories.values())
    refs = [f"{c.id}.{name}" for c in categories for name in c.field_names] + ["cX.f0"]
    chosen = draw(st.frozensets(st.sampled_from([c.id for c in categories] + ["cX"]), max_size=3))
    fields = draw(st.frozensets(st.sampled_from(refs), max_size=4))
    if not chosen and not fields:
        chosen = frozenset({categories[0].id})
    start = now + timedelta(seconds=draw(st.integers(-400 * 86400, 5 * 86400)))
    length = timedelta(seconds=draw(st.integers(1, 400 * 86400)))
    return Grant(
        grant_id=grant_id,
        credit_code=draw(st.sampled_from([ENTERPRISE, ENTERPRISE, OTHER_ENTERPRISE])),
        grantee_node_id=draw(st.sampled_from(NODES)),
        categories=chosen,
        fields=fields,
        purpose=draw(st.sampled_from(list(Purpose))),
        not_before=start,
        not_after=start + length,
        max_uses=draw(st.none() | st.integers(1, 3)),
        issued_at=start - timedelta(days=1),
    )


@st.composite
def grant_states(draw: st.DrawFn, catalog: Catalog, now: datetime) -> list[GrantState]:
    count = draw(st.integers(0, 5))
    states = []
    for i in range(count):
        grant = draw(grants(catalog, now, f"g{i}"))
        revoked_at = draw(st.sampled_from([None, None, None, now - timedelta(days=1)]))
        states.append(GrantState(grant, revoked_at=revoked_at, uses=draw(st.integers(0, 4))))
    return states


@st.composite
def records(draw: st.DrawFn, category: Category) -> dict[str, str]:
    record = {name: draw(RAW_VALUES) for name in category.field_names}
    if draw(st.booleans()):
        record["not_in_catalog"] = draw(RAW_VALUES)
    return record


def reference_grants(
    states: list[GrantState],
    consumer: Consumer,
    category: Category,
    purpose: Purpose,
    now: datetime,
) -> dict[str, frozenset[str]]:
    """Naively, from the definition: active grants matching everything, and their fields."""
    found: dict[str, frozenset[str]] = {}
    for state in states:
        grant = state.grant
        if (grant.credit_code, grant.grantee_node_id, grant.purpose) != (
            ENTERPRISE,
            consumer.node_id,
            purpose,
        ):
            continue
        if state.revoked_at is not None or not grant.not_before <= now < grant.not_after:
            continue
        if grant.max_uses is not None and state.uses >= grant.max_uses:
            continue
        if category.id in grant.categories:
            fields = set(category.field_names)
        else:
            fields = {
                ref.split(".", 1)[1] for ref in grant.fields if ref.split(".", 1)[0] == category.id
            } & set(category.field_names)
        if fields:
            found[grant.grant_id] = frozenset(fields)
    return found


def disclose(
    decision: Decision,
    consumer: Consumer,
    category: Category,
    record: dict[str, str],
    self_query: bool,
    policy: MaskPolicy = POLICY,
) -> list[DisclosedField]:
    """What the query path sends: nothing unless allowed; masked in the one place."""
    if not decision.allowed:
        return []
    role = role_for(consumer.kind, self_query=decision.raw)
    return desensitize_record(
        record, category, role, decision.fields, consumer.node_id, SECRET, policy
    )


def raw_forbidden(category: Category, name: str) -> bool:
    spec = category.field(name)
    assert spec is not None
    return not category.public or spec.sensitivity in (Sensitivity.C2, Sensitivity.C3)


# -- no non-public value without an active matching grant --------------------------------


@PROPERTY_SETTINGS
@given(data=st.data())
def test_no_non_public_value_leaves_without_an_active_matching_grant(data: st.DataObject) -> None:
    catalog = data.draw(catalogs())
    now = data.draw(clocks)
    consumer = data.draw(consumers)
    states = data.draw(grant_states(catalog, now))
    enterprise = data.draw(enterprise_states)
    purpose = data.draw(st.sampled_from(list(Purpose)))
    self_query = data.draw(st.booleans())
    for category in catalog.categories.values():
        record = data.draw(records(category))
        decision = decide(consumer, category, purpose, enterprise, states, now, self_query)
        sent = disclose(decision, consumer, category, record, self_query)
        names = {f.name for f in sent}
        assert names <= set(category.field_names)
        if not decision.allowed:
            assert decision.reason_code in set(ReasonCode)
            assert decision.message
            assert sent == []
            assert decision.fields == frozenset()
        kind_ok = consumer.kind in (SELF_KINDS if self_query else DATA_KINDS)
        if not kind_ok:
            assert not decision.allowed
            continue
        if self_query:
            # the enterprise's own query: everything it has, unmasked
            assert decision.allowed and decision.raw
            assert {f.name: f.value for f in sent} == {
                k: v for k, v in record.items() if k in category.field_names
            }
            continue
        assert not decision.raw
        held = enterprise.frozen  # an open objection is applied per record, not here
        purpose_ok = purpose in category.purposes
        if held or not purpose_ok:
            assert not decision.allowed  # deny beats allow
            continue
        if category.public:
            assert decision.allowed and decision.fields == set(category.field_names)
            continue
        expected = reference_grants(states, consumer, category, purpose, now)
        if decision.allowed:
            assert decision.grant_id in expected
            assert decision.fields == expected[decision.grant_id]
            assert names <= expected[decision.grant_id]
        else:
            assert sent == []
            assert not expected  # no false denial either


# -- no raw non-public value to an institution --------------------------------------------


@PROPERTY_SETTINGS
@given(data=st.data())
def test_institutions_never_get_raw_values_whatever_the_table(data: st.DataObject) -> None:
    catalog = data.draw(catalogs())
    # a table built around the loader, so only the code's invariant stands in the way
    cells = st.sampled_from([*MASK_SPECS, None])
    rules = {
        (role, scope, sensitivity): (
            None if (spec := data.draw(cells)) is None else parse_mask(spec)
        )
        for role in ROLES
        for scope in (SCOPE_PUBLIC, SCOPE_NON_PUBLIC)
        for sensitivity in Sensitivity
    }
    policy = data.draw(st.sampled_from([POLICY, MaskPolicy(version="random", rules=rules)]))
    grantee = data.draw(st.sampled_from(NODES))
    for category in catalog.categories.values():
        record = data.draw(records(category))
        sent = desensitize_record(
            record,
            category,
            "institution",
            frozenset(category.field_names),
            grantee,
            SECRET,
            policy,
        )
        for field in sent:
            if raw_forbidden(category, field.name):
                assert field.mask != "keep"
                assert field.value != record[field.name]


@PROPERTY_SETTINGS
@given(data=st.data())
def test_the_loader_refuses_exactly_the_tables_with_forbidden_keep(data: st.DataObject) -> None:
    cells = st.sampled_from([*MASK_SPECS, "default"])
    table = {
        role: {
            scope: {s.value: data.draw(cells) for s in Sensitivity}
            for scope in (SCOPE_PUBLIC, SCOPE_NON_PUBLIC)
        }
        for role in ROLES
    }
    institution = table["institution"]
    forbidden = "keep" in institution[SCOPE_NON_PUBLIC].values() or "keep" in (
        institution[SCOPE_PUBLIC]["C2"],
        institution[SCOPE_PUBLIC]["C3"],
    )
    if forbidden:
        with pytest.raises(InvalidArgument):
            MaskPolicy.from_dict({"version": "r", "roles": table})
    else:
        MaskPolicy.from_dict({"version": "r", "roles": table})


# -- grants in a bad state deny ----------------------------------------------------------


@st.composite
def matching_setups(draw: st.DrawFn) -> tuple[Category, Consumer, Purpose, datetime, Grant]:
    category = Catalog.from_dict(
        {"version": "p", "categories": [draw(category_dicts("c0", public=False))]}
    ).require("c0")
    consumer = Consumer(draw(st.sampled_from(NODES)), draw(st.sampled_from(sorted(DATA_KINDS))))
    purpose = draw(st.sampled_from(category.purposes))
    now = draw(clocks)
    whole = draw(st.booleans())
    names = draw(st.lists(st.sampled_from(category.field_names), min_size=1, unique=True))
    start = now - timedelta(seconds=draw(st.integers(0, 300 * 86400)))
    grant = Grant(
        grant_id="g-match",
        credit_code=ENTERPRISE,
        grantee_node_id=consumer.node_id,
        categories=frozenset({"c0"}) if whole else frozenset(),
        fields=frozenset() if whole else frozenset(f"c0.{n}" for n in names),
        purpose=purpose,
        not_before=start,
        not_after=now + timedelta(seconds=draw(st.integers(1, 300 * 86400))),
        max_uses=draw(st.none() | st.integers(1, 5)),
        issued_at=start - timedelta(hours=1),
    )
    return category, consumer, purpose, now, grant


@st.composite
def noise(draw: st.DrawFn, consumer: Consumer, grant: Grant) -> list[GrantState]:
    """Grants that rank below any status failure: another grantee, another enterprise."""
    others = [n for n in NODES if n != consumer.node_id]
    out = []
    for i in range(draw(st.integers(0, 3))):
        other = dataclasses.replace(
            grant,
            grant_id=f"g-noise-{i}",
            grantee_node_id=draw(st.sampled_from(others)),
            credit_code=draw(st.sampled_from([ENTERPRISE, OTHER_ENTERPRISE])),
        )
        out.append(GrantState(other))
    if draw(st.booleans()):
        out.append(
            GrantState(dataclasses.replace(grant, grant_id="g-x", credit_code=OTHER_ENTERPRISE))
        )
    return out


@PROPERTY_SETTINGS
@given(data=st.data(), status=st.sampled_from(sorted(STATUS_REASON)))
def test_grants_that_are_not_active_deny(data: st.DataObject, status: str) -> None:
    category, consumer, purpose, now, grant = data.draw(matching_setups())
    active = GrantState(grant)
    assert decide(
        consumer, category, purpose, EnterpriseState(ENTERPRISE), [active], now, False
    ).allowed
    if status == "revoked":
        bad = GrantState(grant, revoked_at=data.draw(clocks), revoke_reason="r")
        when = now
    elif status == "expired":
        bad, when = active, grant.not_after + timedelta(seconds=data.draw(st.integers(0, 10**7)))
    elif status == "not_yet_valid":
        bad = active
        when = grant.not_before - timedelta(seconds=data.draw(st.integers(1, 10**7)))
    else:
        limit = grant.max_uses if grant.max_uses is not None else 1
        bad = GrantState(dataclasses.replace(grant, max_uses=limit), uses=limit)
        when = now
    states = [bad, *data.draw(noise(consumer, grant))]
    states = data.draw(st.permutations(states))
    decision = decide(consumer, category, purpose, EnterpriseState(ENTERPRISE), states, when, False)
    assert not decision.allowed
    assert decision.reason_code == STATUS_REASON[status]
    assert decision.grant_id == "g-match"
    record = data.draw(records(category))
    assert disclose(decision, consumer, category, record, False) == []


@PROPERTY_SETTINGS
@given(data=st.data())
def test_purpose_mismatch_denies(data: st.DataObject) -> None:
    category, consumer, purpose, now, grant = data.draw(matching_setups())
    others = [p for p in category.purposes if p != purpose]
    assume(others)
    asked = data.draw(st.sampled_from(others))
    states = [GrantState(grant), *data.draw(noise(consumer, grant))]
    decision = decide(consumer, category, asked, EnterpriseState(ENTERPRISE), states, now, False)
    assert not decision.allowed
    assert decision.reason_code == ReasonCode.PURPOSE_MISMATCH
    assert disclose(decision, consumer, category, data.draw(records(category)), False) == []


# -- forged and altered grants -----------------------------------------------------------


@st.composite
def any_grants(draw: st.DrawFn) -> Grant:
    catalog = draw(catalogs())
    return draw(grants(catalog, draw(clocks), draw(st.sampled_from(["g1", "grant-0002", "G_3"]))))


@PROPERTY_SETTINGS
@given(grant=any_grants())
def test_canonical_bytes_round_trip(grant: Grant) -> None:
    data = grant.canonical_bytes()
    assert Grant.from_canonical(data) == grant
    assert Grant.from_canonical(data).canonical_bytes() == data


@PROPERTY_SETTINGS
@given(grant=any_grants())
def test_forged_grants_are_refused(grant: Grant) -> None:
    data = grant.canonical_bytes()
    verify_grant_signature(grant, sign(KEY, data), KEY.public_key())
    with pytest.raises(PermissionDenied):
        verify_grant_signature(grant, sign(OTHER_KEY, data), KEY.public_key())
    with pytest.raises(PermissionDenied):
        verify_signed_grant(data, sign(OTHER_KEY, data), KEY.public_key())


@PROPERTY_SETTINGS
@given(grant=any_grants(), data=st.data())
def test_grants_altered_after_signing_are_refused(grant: Grant, data: st.DataObject) -> None:
    raw = grant.canonical_bytes()
    signature = sign(KEY, raw)
    # (a) a byte changed in the canonical bytes
    index = data.draw(st.integers(0, len(raw) - 1))
    flip = data.draw(st.integers(1, 255))
    altered = raw[:index] + bytes([raw[index] ^ flip]) + raw[index + 1 :]
    with pytest.raises(XinLianError):
        verify_signed_grant(altered, signature, KEY.public_key())
    # (b) a field changed after signing
    other_purpose = next(p for p in Purpose if p != grant.purpose)
    change: dict[str, Any] = data.draw(
        st.sampled_from(
            [
                {"grantee_node_id": grant.grantee_node_id + "x"},
                {"categories": grant.categories | {"cZ"}},
                {"fields": grant.fields | {"cZ.f9"}},
                {"purpose": other_purpose},
                {"max_uses": 1 if grant.max_uses is None else None},
                {"not_before": grant.not_before - timedelta(seconds=1)},
                {"not_after": grant.not_after + timedelta(seconds=1)},
                {
                    "credit_code": OTHER_ENTERPRISE
                    if grant.credit_code == ENTERPRISE
                    else ENTERPRISE
                },
                {"grant_id": grant.grant_id + "0"},
            ]
        )
    )
    changed = dataclasses.replace(grant, **change)
    with pytest.raises(PermissionDenied):
        verify_grant_signature(changed, signature, KEY.public_key())


# -- pseudonyms --------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(value=st.text(min_size=1, max_size=40), field=st.sampled_from(FIELD_NAMES))
def test_pseudonyms_are_stable_per_grantee_and_differ_across_grantees(
    value: str, field: str
) -> None:
    a1 = pseudonym(value, grantee_node_id="bank-a", field_name=field, secret=SECRET)
    a2 = pseudonym(value, grantee_node_id="bank-a", field_name=field, secret=SECRET)
    b = pseudonym(value, grantee_node_id="bank-b", field_name=field, secret=SECRET)
    assert a1 == a2
    assert a1 != b
    assert a1.startswith("ps:") and len(a1) == 3 + 32
