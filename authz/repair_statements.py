"""The two signed statements of credit repair (信用修复): pure.

* ``RepairStatement`` (type ``credit_repair``): a department, or an administrator node
  acting as the credit center, states that one record (source node, record id) is
  repaired, or removed from its list, on a stated basis. It is signed with the key of the
  node's own mTLS certificate (the key a department signs its push batches with), and
  ``signer_node_id`` must be the caller.
* ``RepairApplication`` (type ``repair_application``): an enterprise applies for the
  repair of one of its records, through its city platform. It is signed with the
  enterprise's registered key, like a grant.

Both share the canonical encoding of ``authz.statements`` (one byte form per statement,
strict parsing, whole-second UTC times).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from authz.publicity import RepairKind
from authz.statements import (
    CATEGORY_ID_RE,
    GRANT_ID_RE,
    SignedStatement,
    check_credit_code_form,
    check_node_id,
    check_pattern,
    check_text,
    format_time,
    normalize_time,
)
from xinlian.errors import InvalidArgument

MAX_BASIS_CHARS = 500  # the repair's basis (修复依据) or the application's reason
MAX_RECORD_ID_CHARS = 128  # as records.record_id


def _check_record(what: str, credit_code: str, source: str, record_id: str, category: str) -> None:
    check_credit_code_form(credit_code, field_name=f"{what}.credit_code")
    check_node_id(source, field_name=f"{what}.source_node_id")
    if not isinstance(record_id, str) or not record_id or record_id != record_id.strip():
        raise InvalidArgument.field(f"{what}.record_id", record_id, "a record id")
    check_text(record_id, f"{what}.record_id", max_chars=MAX_RECORD_ID_CHARS)
    check_pattern(category, CATEGORY_ID_RE, f"{what}.category", "a category id")


def _check_reason(what: str, key: str, value: str) -> None:
    check_text(value, f"{what}.{key}", max_chars=MAX_BASIS_CHARS)
    if not value.strip():
        raise InvalidArgument.field(f"{what}.{key}", value, "a non-empty text")


@dataclass(frozen=True)
class RepairStatement(SignedStatement):
    """A department's (or the credit center's) signed repair or removal of one record."""

    KIND: ClassVar[str] = "credit_repair"
    WHAT: ClassVar[str] = "repair"
    KEYS: ClassVar[tuple[str, ...]] = (
        "repair_id",
        "kind",
        "credit_code",
        "source_node_id",
        "record_id",
        "category",
        "basis",
        "signer_node_id",
        "application_id",
        "issued_at",
    )

    repair_id: str
    kind: RepairKind
    credit_code: str
    source_node_id: str
    record_id: str
    category: str
    basis: str  # 修复依据: the decision or document the repair rests on
    signer_node_id: str
    application_id: str | None
    issued_at: datetime

    def __post_init__(self) -> None:
        check_pattern(self.repair_id, GRANT_ID_RE, "repair.repair_id", "1-64 [A-Za-z0-9_-]")
        if not isinstance(self.kind, RepairKind):
            raise InvalidArgument.field("repair.kind", self.kind, "repair or removal")
        _check_record(
            "repair", self.credit_code, self.source_node_id, self.record_id, self.category
        )
        _check_reason("repair", "basis", self.basis)
        check_node_id(self.signer_node_id, field_name="repair.signer_node_id")
        if self.application_id is not None:
            check_pattern(
                self.application_id, GRANT_ID_RE, "repair.application_id", "1-64 [A-Za-z0-9_-]"
            )
        object.__setattr__(self, "issued_at", normalize_time(self.issued_at, "repair.issued_at"))

    def _body(self) -> dict[str, Any]:
        return {
            "repair_id": self.repair_id,
            "kind": self.kind.value,
            "credit_code": self.credit_code,
            "source_node_id": self.source_node_id,
            "record_id": self.record_id,
            "category": self.category,
            "basis": self.basis,
            "signer_node_id": self.signer_node_id,
            "application_id": self.application_id,
            "issued_at": format_time(self.issued_at),
        }

    @classmethod
    def _from_body(cls, obj: Mapping[str, Any]) -> RepairStatement:
        kind = cls._str(obj, "kind")
        if kind not in {k.value for k in RepairKind}:
            raise InvalidArgument.field("repair.kind", kind, "repair or removal")
        application = obj["application_id"]
        return cls(
            repair_id=cls._str(obj, "repair_id"),
            kind=RepairKind(kind),
            credit_code=cls._str(obj, "credit_code"),
            source_node_id=cls._str(obj, "source_node_id"),
            record_id=cls._str(obj, "record_id"),
            category=cls._str(obj, "category"),
            basis=cls._str(obj, "basis"),
            signer_node_id=cls._str(obj, "signer_node_id"),
            application_id=None if application is None else cls._str(obj, "application_id"),
            issued_at=cls._time(obj, "issued_at"),
        )


@dataclass(frozen=True)
class RepairApplication(SignedStatement):
    """An enterprise's signed application for the repair of one of its records."""

    KIND: ClassVar[str] = "repair_application"
    WHAT: ClassVar[str] = "repair_application"
    KEYS: ClassVar[tuple[str, ...]] = (
        "application_id",
        "credit_code",
        "source_node_id",
        "record_id",
        "category",
        "reason",
        "platform_node_id",
        "issued_at",
    )

    application_id: str
    credit_code: str
    source_node_id: str
    record_id: str
    category: str
    reason: str  # what the enterprise did to correct the conduct (纠正失信行为)
    platform_node_id: str
    issued_at: datetime

    def __post_init__(self) -> None:
        check_pattern(
            self.application_id, GRANT_ID_RE, "repair_application.application_id", "1-64 ids"
        )
        _check_record(
            "repair_application",
            self.credit_code,
            self.source_node_id,
            self.record_id,
            self.category,
        )
        _check_reason("repair_application", "reason", self.reason)
        check_node_id(self.platform_node_id, field_name="repair_application.platform_node_id")
        object.__setattr__(
            self, "issued_at", normalize_time(self.issued_at, "repair_application.issued_at")
        )

    def _body(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "credit_code": self.credit_code,
            "source_node_id": self.source_node_id,
            "record_id": self.record_id,
            "category": self.category,
            "reason": self.reason,
            "platform_node_id": self.platform_node_id,
            "issued_at": format_time(self.issued_at),
        }

    @classmethod
    def _from_body(cls, obj: Mapping[str, Any]) -> RepairApplication:
        return cls(
            application_id=cls._str(obj, "application_id"),
            credit_code=cls._str(obj, "credit_code"),
            source_node_id=cls._str(obj, "source_node_id"),
            record_id=cls._str(obj, "record_id"),
            category=cls._str(obj, "category"),
            reason=cls._str(obj, "reason"),
            platform_node_id=cls._str(obj, "platform_node_id"),
            issued_at=cls._time(obj, "issued_at"),
        )
