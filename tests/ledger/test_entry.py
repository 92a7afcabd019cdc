"""audit.entry: canonical bytes of ledger entries, exact round trip, strict decoding."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.entry import MAX_DETAILS_DEPTH, MAX_ENTRY_BYTES, MAX_FIELD_CHARS, Action, Entry, Outcome
from audit.merkle import leaf_hash
from xinlian.errors import InvalidArgument
from xinlian.signing import canonical_json

T0 = datetime(2024, 5, 1, 8, 30, 0, 123456, tzinfo=UTC)


def make(**overrides: Any) -> Entry:
    fields: dict[str, Any] = {
        "action": Action.QUERY,
        "time": T0,
        "actor": "node-city-hz-01",
        "actor_kind": "city_platform",
        "outcome": Outcome.OK,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "credit_code": "91330100MA27XK1234",
        "subject": "grant-7",
        "details": {"fields": ["纳税.amount"], "masked": True, "count": 3},
    }
    fields.update(overrides)
    return Entry(**fields)


def test_exact_encoding() -> None:
    e = make()
    assert (
        e.encode()
        == (
            '{"action":"query","actor":"node-city-hz-01","actor_kind":"city_platform",'
            '"credit_code":"91330100MA27XK1234","details":{"count":3,"fields":["纳税.amount"],'
            '"masked":true},"outcome":"ok","subject":"grant-7",'
            '"time":"2024-05-01T08:30:00.123456Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",'
            '"v":1}'
        ).encode()
    )
    assert e.leaf_hash() == leaf_hash(e.encode())


def test_round_trip() -> None:
    e = make()
    data = e.encode()
    back = Entry.decode(data)
    assert back == e
    assert back.encode() == data
    assert hash(back) == hash(e)


def test_nulls_and_zero_microseconds() -> None:
    e = make(credit_code=None, subject=None, details={}, time=datetime(2024, 1, 1, tzinfo=UTC))
    data = e.encode()
    assert b'"credit_code":null' in data and b'"subject":null' in data
    assert b'"time":"2024-01-01T00:00:00.000000Z"' in data
    assert Entry.decode(data) == e


def test_time_normalized_to_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    e = make(time=datetime(2024, 5, 1, 16, 30, 0, 123456, tzinfo=beijing))
    assert e.time.tzinfo is UTC
    assert e == make()
    assert e.encode() == make().encode()


def test_strings_are_coerced_to_enums() -> None:
    e = make(action="grant.revoked", outcome="denied")
    assert e.action is Action.GRANT_REVOKED
    assert e.outcome is Outcome.DENIED


def test_action_set_is_closed() -> None:
    assert {a.value for a in Action} == {
        "node.applied",
        "node.admitted",
        "node.suspended",
        "node.readmitted",
        "node.exited",
        "node.enrolled",
        "cert.renewed",
        "push.batch",
        "enterprise.registered",
        "enterprise.key_rotated",
        "grant.created",
        "grant.revoked",
        "query",
        "query.denied",
        "audit.search",
        "audit.export",
        "retention.erased",
        "access.denied",
        "statement.refused",
        "objection.filed",
        "objection.answered",
        "enterprise.frozen",
        "enterprise.unfrozen",
        "notice.created",
        "notice.acked",
        "repair.recorded",
        "repair.applied",
        "repair.application_refused",
        "record.withdrawn",
        "federation.joined",
        "relay.sent",
        "relay.received",
        "query.forwarded",
        "query.forward_received",
        "subscription.created",
        "subscription.cancelled",
        "subscription.delivered",
    }
    assert {o.value for o in Outcome} == {"ok", "denied", "rejected", "error"}


def test_details_are_a_private_read_only_copy() -> None:
    details: dict[str, Any] = {"a": [1, 2], "t": (1, "x")}
    e = make(details=details)
    details["a"].append(3)
    details["b"] = 1
    assert dict(e.details) == {"a": [1, 2], "t": [1, "x"]}
    with pytest.raises(TypeError):
        e.details["c"] = 1  # type: ignore[index]
    assert Entry.decode(e.encode()) == e


def test_frozen() -> None:
    e = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.actor = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "overrides",
    [
        {"action": "checkpoint"},
        {"action": "QUERY"},
        {"outcome": "fine"},
        {"time": datetime(2024, 5, 1, 8, 30)},  # naive
        {"time": "2024-05-01T08:30:00.000000Z"},
        {"actor": ""},
        {"actor": None},
        {"actor": "a" * (MAX_FIELD_CHARS + 1)},
        {"actor": "line\nbreak"},
        {"actor_kind": 3},
        {"trace_id": ""},
        {"trace_id": "\x00"},
        {"credit_code": ""},
        {"credit_code": 91330100},
        {"subject": "\ud800"},
        {"details": {"amount": 1.5}},
        {"details": {"n": float("nan")}},
        {"details": {1: "int key"}},
        {"details": {"big": 2**63}},
        {"details": {"small": -(2**63) - 1}},
        {"details": {"set": {1, 2}}},
        {"details": {"bytes": b"x"}},
        {"details": {"s": "\udc00"}},
        {"details": [("a", 1)]},
        {"details": "text"},
    ],
)
def test_invalid_entries_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        make(**overrides)


def test_details_depth_limit() -> None:
    nested: Any = "leaf"
    for _ in range(MAX_DETAILS_DEPTH - 1):
        nested = [nested]
    make(details={"x": nested})  # details + (MAX - 1) levels: allowed
    with pytest.raises(InvalidArgument):
        make(details={"x": [nested]})


def test_int64_bounds_allowed() -> None:
    e = make(details={"max": 2**63 - 1, "min": -(2**63), "flag": False, "none": None})
    assert Entry.decode(e.encode()) == e


def test_size_limit_on_encode_and_decode() -> None:
    base = len(make(details={"pad": ""}).encode())
    fits = make(details={"pad": "x" * (MAX_ENTRY_BYTES - base)})
    assert len(fits.encode()) == MAX_ENTRY_BYTES
    assert Entry.decode(fits.encode()) == fits
    too_big = make(details={"pad": "x" * (MAX_ENTRY_BYTES - base + 1)})
    with pytest.raises(InvalidArgument, match="bytes"):
        too_big.encode()
    with pytest.raises(InvalidArgument, match="bytes"):
        Entry.decode(b" " * (MAX_ENTRY_BYTES + 1))


def _obj() -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(make().encode())
    return obj


def _mutated(**changes: Any) -> bytes:
    obj = _obj()
    for key, value in changes.items():
        if value is _DELETE:
            del obj[key]
        else:
            obj[key] = value
    return canonical_json(obj)


_DELETE = object()


@pytest.mark.parametrize(
    "data",
    [
        _mutated(v=2),
        _mutated(v=0),
        _mutated(v=True),
        _mutated(v="1"),
        _mutated(v=_DELETE),
        _mutated(extra="x"),
        _mutated(details=_DELETE),
        _mutated(credit_code=_DELETE),
        _mutated(action="checkpoint"),
        _mutated(action=1),
        _mutated(outcome=None),
        _mutated(actor=["a"]),
        _mutated(subject=7),
        _mutated(details=[]),
        _mutated(details=None),
        _mutated(time="2024-05-01T08:30:00Z"),  # no microseconds
        _mutated(time="2024-05-01T08:30:00.123456+00:00"),
        _mutated(time="2024-05-01 08:30:00.123456Z"),
        _mutated(time="2024-02-30T08:30:00.123456Z"),
        _mutated(time="2024-05-01T24:00:00.000000Z"),
        _mutated(time="2024-05-01T08:30:60.000000Z"),
        _mutated(time="2024-05-01T08:30:00.123456z"),
        _mutated(time="２０２４-05-01T08:30:00.123456Z"),
        _mutated(time=1714552200),
        b"[]",
        b"null",
        b"",
        b"\xff",
        b"{",
        b'{"v":1.0}',
        b'{"v":NaN}',
        b'{"v":Infinity}',
        b"[" * 20000 + b"]" * 20000,
    ],
)
def test_decode_rejects(data: bytes) -> None:
    with pytest.raises(InvalidArgument):
        Entry.decode(data)


def test_decode_rejects_floats_in_details() -> None:
    data = make().encode().replace(b'"count":3', b'"count":3.0')
    with pytest.raises(InvalidArgument):
        Entry.decode(data)
    data = make().encode().replace(b'"count":3', b'"count":3e0')
    with pytest.raises(InvalidArgument):
        Entry.decode(data)


def test_decode_rejects_non_canonical_bytes() -> None:
    data = make().encode()
    obj = json.loads(data)
    variants = [
        json.dumps(obj, ensure_ascii=False).encode(),  # spaces
        json.dumps(obj, sort_keys=True, separators=(",", ":")).encode(),  # \u escapes
        json.dumps(
            dict(reversed(obj.items())), separators=(",", ":"), ensure_ascii=False
        ).encode(),  # unsorted
        data + b"\n",
        b" " + data,
        data.replace(b'"count":3', b'"count":3,"count":3'),  # duplicate key
        data.replace(b'"count":3', b'"count":03'),
        data.replace(b"\xe7\xba\xb3", b"\\u7eb3"),  # escaped 纳
    ]
    for variant in variants:
        assert variant != data
        with pytest.raises(InvalidArgument):
            Entry.decode(variant)


# --------------------------------------------------------------------------- properties

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=40,
)
_json_leaf = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_times = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)

entries = st.builds(
    Entry,
    action=st.sampled_from(Action),
    time=_times,
    actor=_text,
    actor_kind=_text,
    outcome=st.sampled_from(Outcome),
    trace_id=_text,
    credit_code=st.none() | _text,
    subject=st.none() | _text,
    details=st.dictionaries(st.text(max_size=8), _json, max_size=5),
)


@settings(max_examples=150, deadline=None)
@given(entries)
def test_property_round_trip(e: Entry) -> None:
    data = e.encode()
    back = Entry.decode(data)
    assert back == e
    assert back.encode() == data
    assert data == canonical_json(json.loads(data))


@settings(max_examples=100, deadline=None)
@given(entries, st.data())
def test_property_any_byte_change_is_rejected_or_different(e: Entry, data: st.DataObject) -> None:
    encoded = bytearray(e.encode())
    i = data.draw(st.integers(0, len(encoded) - 1))
    encoded[i] ^= data.draw(st.integers(1, 255))
    try:
        other = Entry.decode(bytes(encoded))
    except InvalidArgument:
        return
    assert other != e
    assert other.encode() == bytes(encoded)


_JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=8),
)
_JSON_VALUES = st.recursive(
    _JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=4), inner, max_size=3),
    ),
    max_leaves=12,
)


@given(details=st.dictionaries(st.text(max_size=6), _JSON_VALUES, max_size=4))
@settings(max_examples=200, deadline=None)
def test_bytes_encoded_once_equal_canonical_json(details: dict[str, Any]) -> None:
    e = make(details=details)
    # encode() returns the bytes computed at construction: canonical JSON of to_json_obj()
    assert e.encode() == canonical_json(e.to_json_obj())
    assert e.encode() is e.encode()
    assert Entry.decode(e.encode()) == e
    assert json.loads(e.encode())["details"] == dict(e.details)
