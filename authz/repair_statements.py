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
    MAX_RECORD_ID_CHARS,
    SignedStatement,
    check_credit_code_form,
    check_node_id,
    check_pattern,
    check_text,
    normalize_time,
)
from xinlian.errors import InvalidArgument

MAX_BASIS_CHARS = 500  # the repair's basis (修复依据) or the application's reason


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
    TIMES: ClassVar[frozenset[str]] = frozenset({"issued_at"})

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

    @classmethod
    def _read(cls, obj: Mapping[str, Any], key: str) -> Any:
        if key == "kind":
            kind = cls._str(obj, "kind")
            if kind not in {k.value for k in RepairKind}:
                raise InvalidArgument.field("repair.kind", kind, "repair or removal")
            return RepairKind(kind)
        if key == "application_id" and obj[key] is None:
            return None
        return super()._read(obj, key)


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
    TIMES: ClassVar[frozenset[str]] = frozenset({"issued_at"})

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
