"""Grants, revocations, self queries and key rotations: encoding, validation, signatures."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from authz.catalog import Catalog, Purpose
from authz.enterprise_statements import (
    SELF_QUERY_FROM_FUTURE,
    SELF_QUERY_MAX_AGE,
    SELF_QUERY_MAX_CLOCK_SKEW,
    SELF_QUERY_PLATFORM_MISMATCH,
    SELF_QUERY_STALE,
    KeyRotation,
    SelfQuery,
    check_self_query_fresh,
    public_key_sha256,
    verify_key_rotation,
    verify_self_query,
)
from authz.grants import (
    MAX_GRANT_CATEGORIES,
    MAX_GRANT_FIELDS,
    MAX_GRANT_VALIDITY,
    Grant,
    GrantState,
    GrantStatus,
    Revocation,
    check_grant_against_catalog,
    check_new_grant,
    verify_grant_signature,
    verify_revocation,
    verify_signed_grant,
)
from authz.statements import (
    MAX_CANONICAL_BYTES,
    format_time,
)
from xinlian.errors import AccessDenied, InvalidArgument, PermissionDenied
from xinlian.signing import sign

CODE = "91350100M000100Y5W"
OTHER_CODE = "91350100M000200Y5W"
T0 = datetime(2026, 1, 5, tzinfo=UTC)

GOLDEN_GRANT_BYTES = (
    b'{"categories":["social_insurance","tax"],"credit_code":"91350100M000100Y5W",'
    b'"fields":["housing_fund.monthly_amount"],"grant_id":"g-0001",'
    b'"grantee_node_id":"bank-fz-01","issued_at":"2026-01-04T08:00:00Z","max_uses":10,'
    b'"not_after":"2027-01-05T00:00:00Z","not_before":"2026-01-05T00:00:00Z",'
    b'"purpose":"financing","type":"grant","v":1}'
)


def make_grant(**overrides: object) -> Grant:
    values: dict[str, object] = {
        "grant_id": "g-0001",
        "credit_code": CODE,
        "grantee_node_id": "bank-fz-01",
        "categories": frozenset({"tax", "social_insurance"}),
        "fields": frozenset({"housing_fund.monthly_amount"}),
        "purpose": Purpose.FINANCING,
        "not_before": T0,
        "not_after": T0 + timedelta(days=365),
        "max_uses": 10,
        "issued_at": T0 - timedelta(hours=16),
    }
    values.update(overrides)
    return Grant(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def enterprise_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def other_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


# -- canonical encoding ------------------------------------------------------------------


def test_canonical_bytes_match_the_documented_form() -> None:
    assert make_grant().canonical_bytes() == GOLDEN_GRANT_BYTES


def test_canonical_round_trip() -> None:
    grant = make_grant(max_uses=None, fields=frozenset())
    assert Grant.from_canonical(grant.canonical_bytes()) == grant
    assert b'"max_uses":null' in grant.canonical_bytes()


def test_times_are_normalized_to_utc_whole_seconds() -> None:
    beijing = timezone(timedelta(hours=8))
    grant = make_grant(not_before=datetime(2026, 1, 5, 8, 0, 0, 999_999, tzinfo=beijing))
    assert grant.not_before == T0
    assert grant.not_before.tzinfo == UTC
    assert format_time(grant.not_before) == "2026-01-05T00:00:00Z"
    assert Grant.from_canonical(grant.canonical_bytes()) == grant


def test_fingerprint_is_sha256_of_canonical_bytes() -> None:
    assert make_grant().fingerprint() == hashlib.sha256(GOLDEN_GRANT_BYTES).hexdigest()


@pytest.mark.parametrize(
    "data",
    [
        GOLDEN_GRANT_BYTES.replace(b",", b", ", 1),  # whitespace
        GOLDEN_GRANT_BYTES.replace(b'["social_insurance","tax"]', b'["tax","social_insurance"]'),
        GOLDEN_GRANT_BYTES.replace(b'"max_uses":10', b'"max_uses":10.0'),
        GOLDEN_GRANT_BYTES.replace(b'"max_uses":10', b'"max_uses":true'),
        GOLDEN_GRANT_BYTES.replace(b'"v":1', b'"v":2'),
        GOLDEN_GRANT_BYTES.replace(b'"type":"grant"', b'"type":"revoke"'),
        GOLDEN_GRANT_BYTES.replace(b'"v":1}', b'"v":1,"extra":1}'),
        GOLDEN_GRANT_BYTES.replace(b'"max_uses":10,', b""),
        GOLDEN_GRANT_BYTES.replace(b'"v":1}', b'"v":1,"v":1}'),
        GOLDEN_GRANT_BYTES.replace(b"00:00:00Z", b"00:00:00.5Z", 1),
        GOLDEN_GRANT_BYTES.replace(b"00:00:00Z", b"00:00:00+00:00", 1),
        GOLDEN_GRANT_BYTES.replace(b'"financing"', b'"marketing"'),
        GOLDEN_GRANT_BYTES.replace(b'"financing"', b'"\\u0066inancing"'),
        b"[]",
        b"\xff\xfe",
        b"",
    ],
)
def test_from_canonical_refuses_anything_but_the_canonical_form(data: bytes) -> None:
    with pytest.raises(InvalidArgument):
        Grant.from_canonical(data)


def test_from_canonical_refuses_oversized_input() -> None:
    with pytest.raises(InvalidArgument, match="grant"):
        Grant.from_canonical(b" " * (MAX_CANONICAL_BYTES + 1))


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"grant_id": ""}, "grant.grant_id"),
        ({"grant_id": "g 1"}, "grant.grant_id"),
        ({"grant_id": "g" * 65}, "grant.grant_id"),
        ({"credit_code": "91350100M000100Y5"}, "grant.credit_code"),
        ({"credit_code": "91350100M000100Y5I"}, "grant.credit_code"),
        ({"grantee_node_id": ""}, "grant.grantee_node_id"),
        ({"grantee_node_id": "bank\n"}, "grant.grantee_node_id"),
        ({"categories": frozenset(), "fields": frozenset()}, "grant.categories"),
        ({"categories": frozenset({"tax.x"})}, "grant.categories"),
        ({"fields": frozenset({"no_dot"})}, "grant.fields"),
        ({"fields": frozenset({"a.b.c"})}, "grant.fields"),
        ({"purpose": "financing"}, "grant.purpose"),
        ({"not_after": T0}, "grant.not_after"),
        ({"not_after": T0 - timedelta(seconds=1)}, "grant.not_after"),
        ({"not_after": T0 + MAX_GRANT_VALIDITY + timedelta(seconds=1)}, "grant.not_after"),
        ({"not_before": datetime(2026, 1, 5)}, "grant.not_before"),
        ({"issued_at": T0 + timedelta(days=365)}, "grant.issued_at"),
        ({"max_uses": 0}, "grant.max_uses"),
        ({"max_uses": True}, "grant.max_uses"),
        ({"max_uses": 10**9}, "grant.max_uses"),
    ],
)
def test_invalid_grants_are_refused_naming_the_field(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        make_grant(**overrides)
    assert info.value.metadata["field"] == field
    assert info.value.message.startswith(f"{field}: got ")


def test_count_limits() -> None:
    make_grant(categories=frozenset(f"c{i}" for i in range(MAX_GRANT_CATEGORIES)))
    with pytest.raises(InvalidArgument, match=r"grant\.categories"):
        make_grant(categories=frozenset(f"c{i}" for i in range(MAX_GRANT_CATEGORIES + 1)))
    make_grant(fields=frozenset(f"c.f{i}" for i in range(MAX_GRANT_FIELDS)))
    with pytest.raises(InvalidArgument, match=r"grant\.fields"):
        make_grant(fields=frozenset(f"c.f{i}" for i in range(MAX_GRANT_FIELDS + 1)))


def test_maximum_validity_is_accepted() -> None:
    make_grant(not_after=T0 + MAX_GRANT_VALIDITY)


def test_coverage() -> None:
    grant = make_grant()
    assert grant.covers_category("tax")
    assert grant.covers_category("housing_fund")
    assert not grant.covers_category("customs")
    assert grant.covered_fields("tax", ["a", "b"]) == {"a", "b"}
    assert grant.covered_fields("housing_fund", ["monthly_amount", "base"]) == {"monthly_amount"}
    assert grant.covered_fields("customs", ["a"]) == frozenset()


CATALOG = Catalog.from_dict(
    {
        "version": "t",
        "categories": [
            {
                "id": "tax",
                "name_zh": "纳税信息",
                "name_en": "Tax",
                "department": "tax",
                "public": False,
                "update_frequency": "monthly",
                "update_deadline_days": 5,
                "fields": [
                    {"name": "amount", "name_zh": "纳税额", "type": "decimal", "sensitivity": "C1"}
                ],
            },
            {
                "id": "gov",
                "name_zh": "政务",
                "name_en": "Gov",
                "department": "gov",
                "public": False,
                "update_frequency": "monthly",
                "update_deadline_days": 5,
                "purposes": ["government_service"],
                "fields": [{"name": "x", "name_zh": "某项", "type": "string", "sensitivity": "C1"}],
            },
        ],
    }
)


def test_check_against_catalog() -> None:
    check_grant_against_catalog(
        make_grant(categories=frozenset({"tax"}), fields=frozenset()), CATALOG
    )
    check_grant_against_catalog(
        make_grant(categories=frozenset(), fields=frozenset({"tax.amount"})), CATALOG
    )
    with pytest.raises(InvalidArgument, match=r"grant\.categories"):
        check_grant_against_catalog(make_grant(fields=frozenset()), CATALOG)
    with pytest.raises(InvalidArgument, match=r"grant\.fields"):
        check_grant_against_catalog(
            make_grant(categories=frozenset(), fields=frozenset({"tax.nope"})), CATALOG
        )
    with pytest.raises(InvalidArgument, match=r"grant\.purpose"):
        check_grant_against_catalog(
            make_grant(categories=frozenset({"gov"}), fields=frozenset()), CATALOG
        )


def test_check_new_grant() -> None:
    grant = make_grant()
    check_new_grant(grant, T0)
    with pytest.raises(InvalidArgument, match=r"grant\.not_after"):
        check_new_grant(grant, grant.not_after)
    with pytest.raises(InvalidArgument, match=r"grant\.issued_at"):
        check_new_grant(grant, grant.issued_at - SELF_QUERY_MAX_CLOCK_SKEW - timedelta(seconds=1))


# -- signatures --------------------------------------------------------------------------


def test_signed_grant_verifies(enterprise_key: ed25519.Ed25519PrivateKey) -> None:
    grant = make_grant()
    signature = sign(enterprise_key, grant.canonical_bytes())
    verify_grant_signature(grant, signature, enterprise_key.public_key())
    assert verify_signed_grant(grant.canonical_bytes(), signature, enterprise_key.public_key()) == (
        grant
    )


def test_p256_signed_grant_verifies() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    grant = make_grant()
    verify_grant_signature(grant, sign(key, grant.canonical_bytes()), key.public_key())


def test_forged_grant_is_refused(
    enterprise_key: ed25519.Ed25519PrivateKey, other_key: ed25519.Ed25519PrivateKey
) -> None:
    grant = make_grant()
    forged = sign(other_key, grant.canonical_bytes())
    with pytest.raises(PermissionDenied) as info:
        verify_grant_signature(grant, forged, enterprise_key.public_key())
    assert info.value.reason == "BAD_SIGNATURE"
    with pytest.raises(PermissionDenied):
        verify_grant_signature(grant, b"", enterprise_key.public_key())


@pytest.mark.parametrize(
    "change",
    [
        {"grantee_node_id": "bank-other"},
        {"categories": frozenset({"tax", "social_insurance", "customs"})},
        {"purpose": Purpose.POST_LOAN},
        {"not_after": T0 + timedelta(days=366)},
        {"max_uses": None},
    ],
)
def test_grant_altered_after_signing_is_refused(
    enterprise_key: ed25519.Ed25519PrivateKey, change: dict[str, object]
) -> None:
    grant = make_grant()
    signature = sign(enterprise_key, grant.canonical_bytes())
    altered = dataclasses.replace(grant, **change)  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        verify_grant_signature(altered, signature, enterprise_key.public_key())


def test_altered_bytes_are_refused(enterprise_key: ed25519.Ed25519PrivateKey) -> None:
    data = make_grant().canonical_bytes()
    signature = sign(enterprise_key, data)
    altered = data.replace(b'"max_uses":10', b'"max_uses":99')
    with pytest.raises(PermissionDenied):
        verify_signed_grant(altered, signature, enterprise_key.public_key())


def test_signed_but_non_canonical_bytes_are_refused(
    enterprise_key: ed25519.Ed25519PrivateKey,
) -> None:
    data = json.dumps(json.loads(make_grant().canonical_bytes()), indent=1).encode()
    with pytest.raises(InvalidArgument):
        verify_signed_grant(data, sign(enterprise_key, data), enterprise_key.public_key())


# -- state -------------------------------------------------------------------------------


def test_status_at_each_state() -> None:
    state = GrantState(make_grant(max_uses=2))
    assert state.status_at(T0) is GrantStatus.ACTIVE
    assert state.status_at(T0 - timedelta(seconds=1)) == "not_yet_valid"
    assert state.status_at(state.grant.not_after - timedelta(seconds=1)) == "active"
    assert state.status_at(state.grant.not_after) == "expired"
    assert state.used().used().status_at(T0) == "used_up"
    assert state.used().uses_left == 1
    assert GrantState(make_grant(max_uses=None), uses=10**6).status_at(T0) == "active"
    revoked = GrantState(make_grant(max_uses=2), revoked_at=T0 + timedelta(days=1), uses=5)
    # revoked wins over everything, and takes effect at once
    assert revoked.status_at(T0 - timedelta(days=9)) == "revoked"
    assert revoked.status_at(T0 + timedelta(days=900)) == "revoked"


def test_status_at_needs_an_aware_clock() -> None:
    with pytest.raises(InvalidArgument, match="now"):
        GrantState(make_grant()).status_at(datetime(2026, 1, 5))


def test_negative_uses_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"grant_state\.uses"):
        GrantState(make_grant(), uses=-1)


def test_revocation_round_trip_and_verify(enterprise_key: ed25519.Ed25519PrivateKey) -> None:
    grant = make_grant()
    revocation = Revocation(grant.grant_id, CODE, T0 + timedelta(days=3), "改为其他银行")
    data = revocation.canonical_bytes()
    assert data.startswith(b'{"credit_code":"91350100M000100Y5W","grant_id":"g-0001"')
    assert b'"type":"revoke"' in data and "改为其他银行".encode() in data
    assert Revocation.from_canonical(data) == revocation
    signature = sign(enterprise_key, data)
    verify_revocation(revocation, signature, enterprise_key.public_key(), grant=grant)
    state = GrantState(grant).revoked(revocation)
    assert state.status_at(T0) == "revoked" and state.revoke_reason == "改为其他银行"
    later = Revocation(grant.grant_id, CODE, T0 + timedelta(days=9), "again")
    assert state.revoked(later) == state  # the first revocation stays


def test_revocation_refusals(
    enterprise_key: ed25519.Ed25519PrivateKey, other_key: ed25519.Ed25519PrivateKey
) -> None:
    grant = make_grant()
    revocation = Revocation(grant.grant_id, CODE, T0)
    with pytest.raises(PermissionDenied):
        verify_revocation(
            revocation,
            sign(other_key, revocation.canonical_bytes()),
            enterprise_key.public_key(),
            grant=grant,
        )
    other_enterprise = Revocation(grant.grant_id, OTHER_CODE, T0)
    with pytest.raises(InvalidArgument, match=r"revocation\.credit_code"):
        verify_revocation(
            other_enterprise,
            sign(enterprise_key, other_enterprise.canonical_bytes()),
            enterprise_key.public_key(),
            grant=grant,
        )
    with pytest.raises(InvalidArgument, match=r"revocation\.grant_id"):
        GrantState(grant).revoked(Revocation("g-other", CODE, T0))
    with pytest.raises(InvalidArgument, match=r"revocation\.reason"):
        Revocation(grant.grant_id, CODE, T0, "line\nbreak")


def test_admin_revocation_records_the_reason() -> None:
    state = GrantState(make_grant()).revoked_by_admin(T0, "admin-1", "企业申请注销")
    assert state.status_at(T0) == "revoked"
    assert state.revoke_reason == "admin admin-1: 企业申请注销"
    with pytest.raises(InvalidArgument, match=r"revocation\.reason"):
        GrantState(make_grant()).revoked_by_admin(T0, "admin-1", "  ")


# -- self query --------------------------------------------------------------------------


def make_self_query(**overrides: object) -> SelfQuery:
    values: dict[str, object] = {
        "credit_code": CODE,
        "platform_node_id": "city-fz",
        "nonce": "n0nce-0123456789abcdef",
        "issued_at": T0,
    }
    values.update(overrides)
    return SelfQuery(**values)  # type: ignore[arg-type]


def test_self_query_freshness_window() -> None:
    statement = make_self_query()
    check_self_query_fresh(statement, T0)
    check_self_query_fresh(statement, T0 + SELF_QUERY_MAX_AGE)
    check_self_query_fresh(statement, T0 - SELF_QUERY_MAX_CLOCK_SKEW)
    with pytest.raises(AccessDenied) as stale:
        check_self_query_fresh(statement, T0 + SELF_QUERY_MAX_AGE + timedelta(seconds=1))
    assert stale.value.reason == SELF_QUERY_STALE
    with pytest.raises(AccessDenied) as future:
        check_self_query_fresh(statement, T0 - SELF_QUERY_MAX_CLOCK_SKEW - timedelta(seconds=1))
    assert future.value.reason == SELF_QUERY_FROM_FUTURE


def test_self_query_verify(
    enterprise_key: ed25519.Ed25519PrivateKey, other_key: ed25519.Ed25519PrivateKey
) -> None:
    statement = make_self_query()
    assert SelfQuery.from_canonical(statement.canonical_bytes()) == statement
    signature = sign(enterprise_key, statement.canonical_bytes())
    public = enterprise_key.public_key()
    verify_self_query(
        statement, signature, public, now=T0, caller_node_id="city-fz", credit_code=CODE
    )
    with pytest.raises(AccessDenied) as other_platform:
        verify_self_query(
            statement, signature, public, now=T0, caller_node_id="city-xm", credit_code=CODE
        )
    assert other_platform.value.reason == SELF_QUERY_PLATFORM_MISMATCH
    with pytest.raises(AccessDenied):
        verify_self_query(
            statement, signature, public, now=T0, caller_node_id="city-fz", credit_code=OTHER_CODE
        )
    with pytest.raises(PermissionDenied, match="signature"):
        verify_self_query(
            statement,
            sign(other_key, statement.canonical_bytes()),
            public,
            now=T0,
            caller_node_id="city-fz",
            credit_code=CODE,
        )


def test_self_query_nonce_form() -> None:
    with pytest.raises(InvalidArgument, match=r"self_query\.nonce"):
        make_self_query(nonce="short")


# -- key rotation ------------------------------------------------------------------------


def test_key_rotation(
    enterprise_key: ed25519.Ed25519PrivateKey, other_key: ed25519.Ed25519PrivateKey
) -> None:
    new_public = other_key.public_key()
    rotation = KeyRotation(CODE, public_key_sha256(new_public), T0)
    assert KeyRotation.from_canonical(rotation.canonical_bytes()) == rotation
    assert b'"type":"key_rotation"' in rotation.canonical_bytes()
    signature = sign(enterprise_key, rotation.canonical_bytes())
    verify_key_rotation(rotation, signature, enterprise_key.public_key(), new_public)
    # signed by the new key only: refused
    with pytest.raises(PermissionDenied):
        verify_key_rotation(
            rotation,
            sign(other_key, rotation.canonical_bytes()),
            enterprise_key.public_key(),
            new_public,
        )
    # a different new key than the one named: refused
    with pytest.raises(InvalidArgument, match="new_public_key_sha256"):
        verify_key_rotation(
            rotation, signature, enterprise_key.public_key(), enterprise_key.public_key()
        )
    with pytest.raises(InvalidArgument):
        KeyRotation(CODE, "ABC", T0)
