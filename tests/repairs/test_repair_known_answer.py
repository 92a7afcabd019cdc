"""Known answers: the exact canonical bytes of a repair statement and of a repair
application. They pin the byte forms that departments and enterprises sign, so that a
refactoring of the statement classes cannot change them unnoticed."""

from __future__ import annotations

from datetime import UTC, datetime

from authz.publicity import RepairKind
from authz.repair_statements import RepairApplication, RepairStatement

CODE = "91110000MA01ABCD2X"
WHEN = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)  # sub-seconds are dropped

REPAIR_BYTES = (
    b'{"application_id":null,"basis":"decision 12","category":"tax",'
    b'"credit_code":"91110000MA01ABCD2X","issued_at":"2026-01-05T09:00:00Z",'
    b'"kind":"repair","record_id":"rec-7","repair_id":"rep-1","signer_node_id":"tax-dept",'
    b'"source_node_id":"tax-dept","type":"credit_repair","v":1}'
)
REMOVAL_BYTES = (
    b'{"application_id":"app-1","basis":"decision 12","category":"tax",'
    b'"credit_code":"91110000MA01ABCD2X","issued_at":"2026-01-05T09:00:00Z",'
    b'"kind":"removal","record_id":"rec-7","repair_id":"rep-2","signer_node_id":"center",'
    b'"source_node_id":"tax-dept","type":"credit_repair","v":1}'
)
APPLICATION_BYTES = (
    b'{"application_id":"app-1","category":"tax","credit_code":"91110000MA01ABCD2X",'
    b'"issued_at":"2026-01-05T09:00:00Z","platform_node_id":"city-1","reason":"paid",'
    b'"record_id":"rec-7","source_node_id":"tax-dept","type":"repair_application","v":1}'
)


def test_repair_statement_canonical_bytes_are_the_known_answer() -> None:
    repair = RepairStatement(
        "rep-1", RepairKind.REPAIR, CODE, "tax-dept", "rec-7", "tax", "decision 12",
        "tax-dept", None, WHEN,
    )  # fmt: skip
    removal = RepairStatement(
        "rep-2", RepairKind.REMOVAL, CODE, "tax-dept", "rec-7", "tax", "decision 12",
        "center", "app-1", WHEN,
    )  # fmt: skip
    assert repair.canonical_bytes() == REPAIR_BYTES
    assert removal.canonical_bytes() == REMOVAL_BYTES
    assert RepairStatement.from_canonical(REPAIR_BYTES) == repair
    assert RepairStatement.from_canonical(REMOVAL_BYTES) == removal


def test_repair_application_canonical_bytes_are_the_known_answer() -> None:
    application = RepairApplication(
        "app-1", CODE, "tax-dept", "rec-7", "tax", "paid", "city-1", WHEN
    )
    assert application.canonical_bytes() == APPLICATION_BYTES
    assert RepairApplication.from_canonical(APPLICATION_BYTES) == application
