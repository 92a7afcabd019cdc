"""Batches that carry the signed canonical bytes themselves (``Batch.signed_content``):
the signature is checked over exactly those bytes, which must be canonical and name
this node, batch id and category; per-record results as with structured records."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from support.harness import Gateway

from audit.checkpoint import NoteVerifier
from authz.catalog import Catalog
from authz.records import RecordValidator
from gateway.store import schema
from gateway.store.batch_bytes import decode_signed_content
from gateway.verify import verify_store
from node_agent.push import Pusher, load_signing_key
from xinlian.batch import BatchRecord, canonical_batch
from xinlian.errors import InvalidArgument, PermissionDenied
from xinlian.identity import Identity
from xinlian.signing import canonical_json, sign
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc
from xinlian_samples.generator import generate_enterprises, generate_records

CATALOG = Catalog.default()
A, D, R = pb.RECORD_OUTCOME_ACCEPTED, pb.RECORD_OUTCOME_DUPLICATE, pb.RECORD_OUTCOME_REJECTED


def tax_records(n_enterprises: int = 3, per: int = 2, seed: int = 5) -> list[BatchRecord]:
    tax = CATALOG.categories["tax"]
    return [
        BatchRecord(s.credit_code, s.record_id, s.version, s.event_time, dict(s.fields))
        for e in generate_enterprises(n_enterprises, seed)
        for s in generate_records(e, tax, per, seed)
    ]


def _reason(err: grpc.RpcError) -> str:
    metadata: Any = err.trailing_metadata() or ()
    return next((str(value) for key, value in metadata if key == "xinlian-reason"), "")


def push(identity: Identity, requests: list[pb.PushRequest]) -> list[pb.PushResponse]:
    with identity.channel() as channel:
        stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
        return list(stub.Push(iter(requests), timeout=60))


def signed_request(identity: Identity, batch_id: str, category: str, data: bytes) -> pb.PushRequest:
    """A request whose signed content is ``data``, validly signed by ``identity``."""
    signature = sign(load_signing_key(identity), data)
    return pb.PushRequest(
        batch=pb.Batch(
            batch_id=batch_id, category=category, signed_content=data, signature=signature
        )
    )


def count(gateway: Gateway, table: Any) -> int:
    return int(
        gateway.runtime.store.read(
            lambda conn: conn.execute(select(func.count()).select_from(table)).scalar_one()
        )
    )


# -- pure: decoding signed content -------------------------------------------------------


def _canonical(records: list[BatchRecord], batch_id: str = "b-1") -> bytes:
    return canonical_batch("tax-1", batch_id, "tax", records)


def test_decode_returns_what_was_signed() -> None:
    records = tax_records()
    decoded = decode_signed_content(_canonical(records), "tax-1", "b-1", "tax")
    assert [(d[0], d[1], d[2], d[4]) for d in decoded] == [
        (r.credit_code, r.record_id, r.version, dict(r.fields)) for r in records
    ]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert [d[3] for d in decoded] == [(r.event_time - epoch) // _US for r in records]
    assert [json.loads(d[5]) for d in decoded] == [dict(r.fields) for r in records]


_US = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


@given(
    st.lists(
        st.tuples(
            st.text(max_size=12),
            st.text(max_size=12),
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=4),
            st.datetimes(
                min_value=datetime(1, 1, 2),
                max_value=datetime(9999, 12, 30),
                timezones=st.just(UTC),
            ),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_decode_accepts_every_canonical_batch(
    raw: list[tuple[str, str, int, dict[str, str], datetime]],
) -> None:
    records = [BatchRecord(c, i, v, when, f) for c, i, v, f, when in raw]
    decoded = decode_signed_content(_canonical(records), "tax-1", "b-1", "tax")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert [(d[0], d[1], d[2], d[3], d[4]) for d in decoded] == [
        (r.credit_code, r.record_id, r.version, (r.event_time - epoch) // _US, dict(r.fields))
        for r in records
    ]
    # the fields JSON the store keeps is the canonical JSON of the signed fields
    assert [d[5] for d in decoded] == [canonical_json(dict(r.fields)).decode() for r in records]


def _variants(records: list[BatchRecord]) -> dict[str, bytes]:
    """Bytes a JSON reader takes for (nearly) the same batch, none of them canonical."""
    good = _canonical(records).decode()
    first = json.dumps(records[0].fields, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    name = sorted(records[0].fields)[0]
    dup = first[:-1] + "," + json.dumps(name) + ':"999.00"}'
    unsorted = json.dumps(dict(reversed(list(records[0].fields.items()))), ensure_ascii=False)
    unsorted = unsorted.replace(", ", ",").replace(": ", ":")
    version = f'"version":{records[0].version}'
    return {
        "duplicate key": good.replace(first, dup, 1).encode(),
        "unsorted keys": good.replace(first, unsorted, 1).encode(),
        "spacing": good.replace('"records":[', '"records": [', 1).encode(),
        "escaped text": good.replace('"tax"', '"\\u0074ax"', 1).encode(),
        "float version": good.replace(version, version + ".0", 1).encode(),
        "text version": good.replace(version, f'"version":"{records[0].version}"', 1).encode(),
        "number value": good.replace(first, '{"total_tax_paid":12}', 1).encode(),
        "extra member": good.replace('"type":"batch"', '"type":"batch","x":1', 1).encode(),
        "event time": good.replace(".000000Z", "Z", 1).encode(),
        "not json": b"{" + good.encode()[1:-1],
        "not utf-8": good.encode().replace(b"tax", b"t\xffx", 1),
    }


@pytest.mark.parametrize(
    "variant",
    [
        "duplicate key",
        "unsorted keys",
        "spacing",
        "escaped text",
        "float version",
        "text version",
        "number value",
        "extra member",
        "event time",
        "not json",
        "not utf-8",
    ],
)
@pytest.mark.parametrize("escapes", [False, True], ids=["plain", "with-escapes"])
def test_decode_refuses_non_canonical_bytes(variant: str, escapes: bool) -> None:
    """Both roads of the canonical check: texts without a backslash (length and order
    check) and texts with escapes (re-encoding check)."""
    records = tax_records(1, 2)
    if escapes:
        records[1] = replace(records[1], fields={**records[1].fields, "taxpayer_type": 'a\\"b\tc'})
    data = _variants(records)[variant]
    assert data != _canonical(records)
    with pytest.raises(InvalidArgument) as err:
        decode_signed_content(data, "tax-1", "b-1", "tax")
    assert err.value.reason == "NOT_CANONICAL"


@pytest.mark.parametrize(
    ("node_id", "batch_id", "category"),
    [("tax-2", "b-1", "tax"), ("tax-1", "b-2", "tax"), ("tax-1", "b-1", "judicial")],
)
def test_decode_refuses_content_signed_for_another_batch(
    node_id: str, batch_id: str, category: str
) -> None:
    with pytest.raises(PermissionDenied) as err:
        decode_signed_content(_canonical(tax_records(1, 1)), node_id, batch_id, category)
    assert err.value.reason == "BAD_SIGNATURE"


def test_decode_keeps_years_before_1000_for_the_validator() -> None:
    old = replace(tax_records(1, 1)[0], event_time=datetime(999, 5, 6, 7, 8, 9, 10, tzinfo=UTC))
    [decoded] = decode_signed_content(_canonical([old]), "tax-1", "b-1", "tax")
    assert decoded[3] == (old.event_time - datetime(1970, 1, 1, tzinfo=UTC)) // _US


# -- pure: the compiled validator agrees with the full one --------------------------------

_VALUES = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"-?[0-9]{1,22}(\.[0-9]{0,8})?", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.sampled_from(["true", "false", "", " 1", "1 ", "２", "٣", "2025-02-29", "\x00", "a\tb"]),
)


@given(
    st.sampled_from(sorted(CATALOG.categories)),
    st.dictionaries(st.text(max_size=3), _VALUES, max_size=3),
    st.text(max_size=6),
    st.integers(min_value=-2, max_value=2**63),
    st.data(),
)
def test_compiled_validator_agrees_with_check(
    category: str, extra: dict[str, str], record_id: str, version: int, data: st.DataObject
) -> None:
    validator = RecordValidator(CATALOG)
    spec = CATALOG.categories[category]
    fields = {
        f.name: data.draw(_VALUES) for f in spec.fields if data.draw(st.booleans(), label=f.name)
    }
    fields.update(extra)
    code = generate_enterprises(1, 3)[0].credit_code
    for rid in (record_id, "r-1"):
        compiled = validator.compiled(category)
        assert compiled is not None
        assert compiled(code, rid, version, fields) == validator.check(
            category, code, rid, version, fields
        )


# -- over gRPC ----------------------------------------------------------------------------


@pytest.mark.integration
def test_tampered_signed_content_refused_whole(gateway_any: Gateway) -> None:
    tax = gateway_any.enroll_node("department", "tax-fj", categories=("tax",))
    request = Pusher(tax).make_request("b-t", "tax", tax_records())
    content = request.batch.signed_content
    request.batch.signed_content = content.replace(b'"version":1', b'"version":2', 1)
    with pytest.raises(grpc.RpcError) as err:
        push(tax, [request])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _reason(err.value) == "BAD_SIGNATURE"
    assert count(gateway_any, schema.records) == 0
    assert count(gateway_any, schema.batches) == 0


@pytest.mark.integration
def test_non_canonical_signed_content_refused_whole(gateway: Gateway) -> None:
    tax = gateway.enroll_node("department", "tax-fj", categories=("tax",))
    records = tax_records(1, 2)
    data = canonical_batch(tax.node_id, "b-n", "tax", records).decode()
    first = json.dumps(records[0].fields, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    name = sorted(records[0].fields)[0]
    duplicate = first[:-1] + "," + json.dumps(name) + ':"x"}'
    request = signed_request(tax, "b-n", "tax", data.replace(first, duplicate, 1).encode())
    with pytest.raises(grpc.RpcError) as err:
        push(tax, [request])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _reason(err.value) == "NOT_CANONICAL"
    assert count(gateway, schema.records) == 0
    assert count(gateway, schema.batches) == 0


@pytest.mark.integration
def test_signed_content_for_another_batch_refused(gateway: Gateway) -> None:
    tax = gateway.enroll_node("department", "tax-fj", categories=("tax",))
    data = canonical_batch(tax.node_id, "b-other", "tax", tax_records(1, 1))
    with pytest.raises(grpc.RpcError) as err:
        push(tax, [signed_request(tax, "b-this", "tax", data)])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _reason(err.value) == "BAD_SIGNATURE"
    assert count(gateway, schema.batches) == 0


@pytest.mark.integration
def test_both_forms_at_once_refused(gateway: Gateway) -> None:
    tax = gateway.enroll_node("department", "tax-fj", categories=("tax",))
    records = tax_records(1, 1)
    request = Pusher(tax).make_request("b-2", "tax", records, structured=True)
    request.batch.signed_content = canonical_batch(tax.node_id, "b-2", "tax", records)
    with pytest.raises(grpc.RpcError) as err:
        push(tax, [request])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.integration
def test_both_forms_give_the_same_results_and_verify(gateway_any: Gateway) -> None:
    """Mixed good and bad records, a duplicate and a resend, in both wire forms; the
    stored batches pass ``xinlian audit verify``'s batch and record checks."""
    tax = gateway_any.enroll_node("department", "tax-fj", categories=("tax",))
    pusher = Pusher(tax)
    good = tax_records(4, 2)
    bad_code = replace(good[0], record_id="bad-code", credit_code=good[0].credit_code[:17] + "!")
    wrong = replace(good[1], record_id="wrong", fields={**good[1].fields, "total_tax_paid": "x"})
    first = [good[0], bad_code, good[1], wrong, *good[2:4]]
    second = [good[3], wrong, *good[4:]]  # good[3] stored already
    responses = push(
        tax,
        [
            pusher.make_request("s-1", "tax", first),
            pusher.make_request("p-1", "tax", first, structured=True),  # all stored already
            pusher.make_request("p-2", "tax", second, structured=True),
            pusher.make_request("s-1", "tax", first),  # a resend
        ],
    )
    outcomes = [[(r.outcome, r.reason_code) for r in resp.results] for resp in responses]
    bad = [(R, "BAD_CREDIT_CODE"), (R, "WRONG_TYPE")]
    assert outcomes[0] == [(A, ""), bad[0], (A, ""), bad[1], (A, ""), (A, "")]
    assert outcomes[1] == [(D, ""), bad[0], (D, ""), bad[1], (D, ""), (D, "")]
    assert outcomes[2] == [(D, ""), bad[1]] + [(A, "")] * len(good[4:])
    assert outcomes[3] == outcomes[1]
    assert responses[3].ledger_index == responses[0].ledger_index
    assert count(gateway_any, schema.records) == len(good)
    assert count(gateway_any, schema.batches) == 3

    config = gateway_any.config
    verifier = NoteVerifier.from_key_string(config.ledger_verifier_key.read_text().strip())
    report = verify_store(gateway_any.runtime.store, verifier, config.origin)
    assert [p for p in report.problems if p.kind in ("batch", "record")] == []
    assert report.batches == 3 and report.records == len(good)
