"""Known answers: the exact canonical bytes of an objection and of its receipt. They pin
the byte forms that enterprises and platforms sign, so that a refactoring of the
statement classes cannot change them unnoticed."""

from __future__ import annotations

from datetime import UTC, datetime

from authz.objections import Objection, ObjectionReceipt

CODE = "91110000MA01ABCD2X"
WHEN = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)  # sub-seconds are dropped

OBJECTION_BYTES = (
    b'{"claim":"wrong amount","credit_code":"91110000MA01ABCD2X","evidence_sha256":'
    b'["' + b"0" * 64 + b'","' + b"f" * 64 + b'"],"fields":["a","b"],'
    b'"issued_at":"2026-01-05T09:00:00Z","objection_id":"obj-1","record_id":"rec-7",'
    b'"source_node_id":"tax-dept","type":"objection","v":1,"version":2}'
)
OBJECTION_SHA256 = "e3e045248d3f2627e9ab39014b6197a8ce09cb7eec2580ce5bb6aabfdc2f1a0e"
RECEIPT_BYTES = (
    b'{"platform_node_id":"city-1","received_at":"2026-01-05T09:00:00Z",'
    b'"statement_sha256":"' + OBJECTION_SHA256.encode() + b'",'
    b'"type":"objection_receipt","v":1}'
)


def _objection() -> Objection:
    return Objection(
        "obj-1", CODE, "tax-dept", "rec-7", 2, ("b", "a"), "wrong amount",
        ("f" * 64, "0" * 64), WHEN,
    )  # fmt: skip


def test_objection_canonical_bytes_are_the_known_answer() -> None:
    objection = _objection()
    assert objection.canonical_bytes() == OBJECTION_BYTES
    assert objection.fingerprint() == OBJECTION_SHA256
    assert Objection.from_canonical(OBJECTION_BYTES) == objection


def test_receipt_canonical_bytes_are_the_known_answer() -> None:
    receipt = ObjectionReceipt.of(_objection(), "city-1", WHEN)
    assert receipt.canonical_bytes() == RECEIPT_BYTES
    assert ObjectionReceipt.from_canonical(RECEIPT_BYTES) == receipt
