"""Department push over real gRPC with mTLS: per-record results, signatures, idempotency,
versions and provenance (issue 3, points 2, 3 and 6)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace

import grpc
import pytest
from cryptography import x509
from sqlalchemy import func, select
from support.harness import Gateway

from authz.catalog import Catalog
from gateway.store import schema
from gateway.store.batch_storage import unpack
from gateway.store.query_reads import latest_records  # the read the query path uses
from gateway.store.records import provenance, record_versions
from node_agent.push import Pusher
from xinlian.batch import BatchRecord, canonical_batch, decode_batch
from xinlian.identity import Identity
from xinlian.signing import verify
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc
from xinlian_samples.generator import generate_enterprises, generate_records

pytestmark = pytest.mark.integration

CATALOG = Catalog.default()
A, D, R = pb.RECORD_OUTCOME_ACCEPTED, pb.RECORD_OUTCOME_DUPLICATE, pb.RECORD_OUTCOME_REJECTED


def _reason(err: grpc.RpcError) -> str:
    return dict(err.trailing_metadata() or ()).get("xinlian-reason", "")


def tax_records(n_enterprises: int = 3, per: int = 2, seed: int = 7) -> list[BatchRecord]:
    tax = CATALOG.categories["tax"]
    return [
        BatchRecord(s.credit_code, s.record_id, s.version, s.event_time, dict(s.fields))
        for e in generate_enterprises(n_enterprises, seed)
        for s in generate_records(e, tax, per, seed)
    ]


def push(identity: Identity, requests: Iterable[pb.PushRequest]) -> list[pb.PushResponse]:
    with identity.channel() as channel:
        stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
        return list(stub.Push(iter(list(requests)), timeout=60))


def count(gateway: Gateway, table: object) -> int:
    return int(
        gateway.runtime.store.read(
            lambda conn: conn.execute(select(func.count()).select_from(table)).scalar_one()
        )
    )


def ledger_rows(gateway: Gateway) -> list[tuple[str, str, str | None]]:
    t = schema.ledger_entries
    return gateway.runtime.store.read(
        lambda conn: [
            (row.action, row.outcome, row.subject)
            for row in conn.execute(select(t.c.action, t.c.outcome, t.c.subject).order_by(t.c.idx))
        ]
    )


@pytest.fixture
def tax_dept(gateway_any: Gateway) -> Identity:
    return gateway_any.enroll_node("department", "tax-fj", categories=("tax",))


def test_per_record_results_and_neighbours_kept(gateway_any: Gateway, tax_dept: Identity) -> None:
    good = tax_records()
    bad_code = replace(
        good[0],
        record_id="bad-code",
        credit_code=good[0].credit_code[:17] + ("0" if good[0].credit_code[17] != "0" else "1"),
    )
    unknown_field = replace(good[1], record_id="unknown-field", fields={**good[1].fields, "x": "1"})
    wrong_type = replace(
        good[2], record_id="wrong-type", fields={**good[2].fields, "total_tax_paid": "12,5"}
    )
    missing = dict(good[3].fields)
    missing.pop("tax_credit_rating")
    missing_field = replace(good[3], record_id="missing", fields=missing)
    batch = [
        good[0],
        bad_code,
        good[1],
        unknown_field,
        good[2],
        wrong_type,
        missing_field,
        *good[3:],
    ]
    pusher = Pusher(tax_dept)
    [response] = push(tax_dept, [pusher.make_request("b-1", "tax", batch)])

    outcomes = {r.record_id: (r.outcome, r.reason_code) for r in response.results}
    assert [r.record_id for r in response.results] == [r.record_id for r in batch]
    assert outcomes["bad-code"] == (R, "BAD_CREDIT_CODE")
    assert outcomes["unknown-field"] == (R, "UNKNOWN_FIELD")
    assert outcomes["wrong-type"] == (R, "WRONG_TYPE")
    assert outcomes["missing"] == (R, "MISSING_FIELD")
    for record in good:
        assert outcomes[record.record_id] == (A, "")
    bad = next(r for r in response.results if r.record_id == "bad-code")
    assert "credit_code" in bad.message and "want" in bad.message
    wrong = next(r for r in response.results if r.record_id == "wrong-type")
    # tax is not public: the value itself never appears in the message
    assert wrong.message.startswith("fields.total_tax_paid: got a 4-character value, want")
    assert (response.accepted, response.duplicates, response.rejected) == (len(good), 0, 4)

    # the good neighbours are stored, the bad ones are not
    assert count(gateway_any, schema.records) == len(good)
    stored = gateway_any.runtime.store.read(
        lambda conn: latest_records(conn, good[0].credit_code, ["tax"])
    )
    assert {s.record_id for s in stored} == {
        r.record_id for r in good if r.credit_code == good[0].credit_code
    }
    assert stored[0].fields == next(r for r in good if r.record_id == stored[0].record_id).fields
    # one ledger entry for the batch, its index in the response
    assert ledger_rows(gateway_any)[response.ledger_index] == ("push.batch", "ok", "b-1")


def test_altered_after_signing_refused_whole(gateway_any: Gateway, tax_dept: Identity) -> None:
    records = tax_records()
    request = Pusher(tax_dept).make_request("b-altered", "tax", records, structured=True)
    request.batch.records[2].fields["total_tax_paid"] = "999999.00"  # changed after signing
    with pytest.raises(grpc.RpcError) as err:
        push(tax_dept, [request])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _reason(err.value) == "BAD_SIGNATURE"
    assert count(gateway_any, schema.records) == 0
    assert count(gateway_any, schema.batches) == 0
    assert ledger_rows(gateway_any)[-1] == ("push.batch", "denied", "b-altered")


def test_signature_by_another_node_refused(gateway: Gateway) -> None:
    tax = gateway.enroll_node("department", "tax-a", categories=("tax",))
    other = gateway.enroll_node("department", "tax-b", categories=("tax",))
    request = Pusher(other).make_request("b-x", "tax", tax_records())
    with pytest.raises(grpc.RpcError) as err:
        push(tax, [request])
    assert _reason(err.value) == "BAD_SIGNATURE"


def test_other_departments_category_refused(gateway: Gateway) -> None:
    tax = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    judicial = CATALOG.categories["judicial"]
    records = [
        BatchRecord(s.credit_code, s.record_id, s.version, s.event_time, dict(s.fields))
        for e in generate_enterprises(2, 3)
        for s in generate_records(e, judicial, 2, 3)
    ]
    with pytest.raises(grpc.RpcError) as err:
        push(tax, [Pusher(tax).make_request("b-j", "judicial", records)])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _reason(err.value) == "CATEGORY_NOT_RESPONSIBLE"
    assert count(gateway, schema.records) == 0
    assert ledger_rows(gateway)[-1] == ("push.batch", "denied", "b-j")


def test_earlier_batches_of_the_stream_kept_when_a_later_one_is_refused(gateway: Gateway) -> None:
    tax = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    pusher = Pusher(tax)
    records = tax_records()
    ok = pusher.make_request("b-ok", "tax", records[:3])
    altered = pusher.make_request("b-bad", "tax", records[3:], structured=True)
    altered.batch.records[0].version += 1
    responses: list[pb.PushResponse] = []
    with tax.channel() as channel, pytest.raises(grpc.RpcError) as err:
        for response in exchange_pb2_grpc.ExchangeServiceStub(channel).Push(
            iter([ok, altered]), timeout=30
        ):
            responses.append(response)
    assert [r.batch_id for r in responses] == ["b-ok"]
    assert _reason(err.value) == "BAD_SIGNATURE"
    assert count(gateway, schema.records) == 3


def test_resend_is_idempotent(gateway_any: Gateway, tax_dept: Identity) -> None:
    pusher = Pusher(tax_dept)
    records = tax_records()
    request = pusher.make_request("b-1", "tax", records)
    [first] = push(tax_dept, [request])
    ledger_size = len(ledger_rows(gateway_any))
    [again] = push(tax_dept, [request])  # the same batch again, on a new stream
    assert [r.outcome for r in again.results] == [D] * len(records)
    assert (again.accepted, again.duplicates, again.rejected) == (0, len(records), 0)
    assert again.ledger_index == first.ledger_index
    assert len(ledger_rows(gateway_any)) == ledger_size  # nothing changed
    assert count(gateway_any, schema.batches) == 1
    assert count(gateway_any, schema.records) == len(records)

    # the same records in a new batch: duplicates, recorded as a batch of its own
    [other] = push(
        tax_dept,
        [
            pusher.make_request(
                "b-2", "tax", [*records[:2], replace(records[2], record_id="new-one")]
            )
        ],
    )
    assert [r.outcome for r in other.results] == [D, D, A]
    assert count(gateway_any, schema.batches) == 2
    assert count(gateway_any, schema.records) == len(records) + 1

    # a batch id reused for different content is refused
    with pytest.raises(grpc.RpcError) as err:
        push(tax_dept, [pusher.make_request("b-1", "tax", records[:1])])
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert _reason(err.value) == "BATCH_ID_REUSED"


def test_duplicate_inside_one_batch(gateway: Gateway) -> None:
    tax = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    records = tax_records()
    [response] = push(tax, [Pusher(tax).make_request("b-1", "tax", [*records, records[0]])])
    assert response.results[-1].outcome == R
    assert response.results[-1].reason_code == "DUPLICATE_IN_BATCH"
    assert response.accepted == len(records)


def test_many_batches_in_one_stream_answered_in_order(gateway: Gateway) -> None:
    tax = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    pusher = Pusher(tax)
    records = tax_records(10, 3)
    requests = [pusher.make_request(f"b-{i}", "tax", records[i * 3 : i * 3 + 3]) for i in range(10)]
    responses = push(tax, requests)
    assert [r.batch_id for r in responses] == [f"b-{i}" for i in range(10)]
    assert all(r.accepted == 3 for r in responses)
    indexes = [r.ledger_index for r in responses]
    assert indexes == sorted(indexes) and len(set(indexes)) == 10


def test_newer_version_supersedes_older_kept_for_trace(
    gateway_any: Gateway, tax_dept: Identity
) -> None:
    pusher = Pusher(tax_dept)
    records = tax_records(1, 2)
    push(tax_dept, [pusher.make_request("v1", "tax", records)])
    corrected = replace(
        records[0], version=2, fields={**records[0].fields, "tax_credit_rating": "B"}
    )
    [response] = push(tax_dept, [pusher.make_request("v2", "tax", [corrected])])
    assert response.results[0].outcome == A
    code = records[0].credit_code

    def read(conn):  # type: ignore[no-untyped-def]
        return (
            latest_records(conn, code, ["tax"]),
            record_versions(conn, tax_dept.node_id, records[0].record_id),
            latest_records(conn, code, ["judicial"]),
            latest_records(conn, code, list(Catalog.default().categories)),
        )

    latest, versions, none, every = gateway_any.runtime.store.read(read)
    by_id = {s.record_id: s for s in latest}
    assert len(latest) == 2 and len(every) == 2 and none == []
    assert by_id[records[0].record_id].version == 2
    assert by_id[records[0].record_id].fields["tax_credit_rating"] == "B"
    assert by_id[records[1].record_id].version == 1
    assert [v.version for v in versions] == [1, 2]


def test_correction_moving_a_record_to_another_enterprise_hides_the_old_version(
    gateway_any: Gateway, tax_dept: Identity
) -> None:
    """A higher version attributed to another enterprise supersedes the old one there too."""
    pusher = Pusher(tax_dept)
    first, other = tax_records(2, 1)
    push(tax_dept, [pusher.make_request("m1", "tax", [first])])
    moved = replace(first, version=2, credit_code=other.credit_code)
    [response] = push(tax_dept, [pusher.make_request("m2", "tax", [moved])])
    assert response.results[0].outcome == A

    def read(conn):  # type: ignore[no-untyped-def]
        return (
            latest_records(conn, first.credit_code, ["tax"]),
            latest_records(conn, other.credit_code, ["tax"]),
        )

    old_owner, new_owner = gateway_any.runtime.store.read(read)
    assert old_owner == []
    assert [(r.record_id, r.version) for r in new_owner] == [(first.record_id, 2)]


def test_provenance_names_node_batch_signature_and_ledger(
    gateway_any: Gateway, tax_dept: Identity
) -> None:
    pusher = Pusher(tax_dept)
    records = tax_records(1, 1)
    [response] = push(tax_dept, [pusher.make_request("b-prov", "tax", records)])
    [prov] = gateway_any.runtime.store.read(lambda conn: provenance(conn, records[0].record_id))
    assert prov.source_node_id == tax_dept.node_id
    assert prov.batch_id == "b-prov"
    assert prov.ledger_index == response.ledger_index
    assert prov.version == 1 and prov.category == "tax" and not prov.superseded
    assert prov.credit_code == records[0].credit_code
    # the stored signature verifies over the stored canonical bytes with the node's key
    row = gateway_any.runtime.store.read(
        lambda conn: conn.execute(
            select(schema.batches.c.canonical, schema.batches.c.canonical_encoding).where(
                schema.batches.c.batch_id == "b-prov"
            )
        ).one()
    )
    # kept compressed (a seventh of the size), unpacked to exactly the signed bytes
    assert row.canonical_encoding == "zlib"
    assert len(row.canonical) < len(canonical_batch(tax_dept.node_id, "b-prov", "tax", records))
    canonical = unpack(bytes(row.canonical), row.canonical_encoding)
    assert canonical == canonical_batch(tax_dept.node_id, "b-prov", "tax", records)
    assert decode_batch(canonical)["records"][0]["record_id"] == records[0].record_id
    cert = x509.load_pem_x509_certificate(tax_dept.files.cert.read_bytes())
    verify(cert.public_key(), canonical, prov.signature, what="stored batch")  # type: ignore[arg-type]
    assert (
        prov.signer_fingerprint
        == hashlib.sha256(
            cert.public_bytes(
                __import__("cryptography").hazmat.primitives.serialization.Encoding.DER
            )
        ).hexdigest()
    )


def test_institution_cannot_push(gateway: Gateway) -> None:
    bank = gateway.enroll_node("institution", "bank-1")
    tax = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    request = Pusher(tax).make_request("b-1", "tax", tax_records())
    with pytest.raises(grpc.RpcError) as err:
        push(bank, [request])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _reason(err.value) == "KIND_NOT_ALLOWED"
    assert count(gateway, schema.records) == 0


def test_oversized_batch_refused(gateway: Gateway) -> None:
    from gateway.flows.push import MAX_BATCH_RECORDS

    tax = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    record = tax_records(1, 1)[0]
    many = [replace(record, record_id=f"r-{i}") for i in range(MAX_BATCH_RECORDS + 1)]
    with pytest.raises(grpc.RpcError) as err:
        push(tax, [Pusher(tax).make_request("b-big", "tax", many)])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "batch.records" in (err.value.details() or "")
