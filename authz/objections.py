"""Objections (异议): an enterprise disputes a stored record; pure, no I/O.

The statement the enterprise signs with its registered key (canonical form as in
``authz.statements``)::

    objection {"v":1,"type":"objection","objection_id","credit_code","source_node_id",
               "record_id","version","fields","claim","evidence_sha256","issued_at"}

``fields`` are the disputed field names (sorted, at least one), ``evidence_sha256`` the
SHA-256 (lowercase hex, sorted) of each evidence file the enterprise hands its platform.

The city platform that received it countersigns, with its node key (the key of its mTLS
certificate), the receipt::

    objection_receipt {"v":1,"type":"objection_receipt","platform_node_id",
                       "received_at","statement_sha256"}

where ``statement_sha256`` is the SHA-256 of the statement's canonical bytes: the
countersignature binds the platform, the moment it received the objection and exactly
that statement.

States: ``open`` until the department that pushed the record answers with one of
``upheld`` (the record stands, with a reason; the annotation goes), ``corrected`` (a
newer version of the record names the objection), ``withdrawn`` (the record is
retracted) or ``unconfirmable`` (the objection and the finding stay attached to the
record and are shown with it, 征信业管理条例 第二十五条). Every answer is final.

While an objection is open a category's ``objection_rule`` says what consumers get:
``annotate`` (the record, marked 异议处理中 with the objection's id and date) or
``withhold`` (not the record). The enterprise itself always sees its records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from authz.statements import (
    GRANT_ID_RE,
    MAX_CLOCK_SKEW,
    MAX_REASON_CHARS,
    MAX_RECORD_ID_CHARS,
    SHA256_HEX_RE,
    SignedStatement,
    check_credit_code_form,
    check_node_id,
    check_pattern,
    check_text,
    format_time,
    normalize_time,
    require_aware,
)
from xinlian.errors import FailedPrecondition, InvalidArgument
from xinlian.signing import VerifierKey

# -- named limits ----------------------------------------------------------------------

MAX_CLAIM_CHARS = 2000
MAX_DISPUTED_FIELDS = 64
MAX_EVIDENCE_FILES = 32
FORWARD_WORKDAYS = 2  # the platform forwards within 2 working days of its receipt
DEFAULT_ANSWER_DAYS = 20  # 征信业管理条例 第二十五条: verify within 20 days
MAX_STATEMENT_AGE = timedelta(days=30)  # how old a statement may be when it is filed
ANNOTATION_ZH = "异议处理中"
UNCONFIRMABLE_ZH = "异议无法核实"

OBJECTION_STATE_CONFLICT = "OBJECTION_STATE_CONFLICT"
OBJECTION_RECEIPT_MISMATCH = "OBJECTION_RECEIPT_MISMATCH"
OBJECTION_STALE = "OBJECTION_STALE"


class ObjectionState(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    CORRECTED = "corrected"
    WITHDRAWN = "withdrawn"
    UNCONFIRMABLE = "unconfirmable"

    @property
    def attached(self) -> bool:
        """Shown with the record (open: 异议处理中; unconfirmable: the finding)."""
        return self in (ObjectionState.OPEN, ObjectionState.UNCONFIRMABLE)


ANSWERS = frozenset(s for s in ObjectionState if s is not ObjectionState.OPEN)


class ObjectionRule(StrEnum):
    ANNOTATE = "annotate"
    WITHHOLD = "withhold"


def parse_rule(value: object, *, field_name: str = "objection_rule") -> ObjectionRule:
    try:
        return ObjectionRule(str(value))
    except ValueError:
        raise InvalidArgument.field(field_name, value, "annotate or withhold") from None


def withheld(rule: ObjectionRule, state: ObjectionState, *, own_query: bool) -> bool:
    """Whether a consumer gets no record while this objection is attached to it."""
    return rule is ObjectionRule.WITHHOLD and state is ObjectionState.OPEN and not own_query


@dataclass(frozen=True)
class Note:
    """An objection attached to a record, as consumers see it with the record."""

    objection_id: str
    state: ObjectionState
    filed_at: datetime
    finding: str  # the department's finding (unconfirmable); "" while open

    @property
    def label_zh(self) -> str:
        return ANNOTATION_ZH if self.state is ObjectionState.OPEN else UNCONFIRMABLE_ZH


def notes_for(
    rule: ObjectionRule, notes: tuple[Note, ...], *, own_query: bool
) -> tuple[Note, ...] | None:
    """What a query shows of a record with these attached notes: the notes to show with
    it, or None when the record is withheld."""
    if any(withheld(rule, n.state, own_query=own_query) for n in notes):
        return None
    return notes


# -- the enterprise's statement ---------------------------------------------------------


@dataclass(frozen=True)
class Objection(SignedStatement):
    KIND: ClassVar[str] = "objection"
    WHAT: ClassVar[str] = "objection"
    KEYS: ClassVar[tuple[str, ...]] = (
        "objection_id",
        "credit_code",
        "source_node_id",
        "record_id",
        "version",
        "fields",
        "claim",
        "evidence_sha256",
        "issued_at",
    )
    TIMES: ClassVar[frozenset[str]] = frozenset({"issued_at"})
    LISTS: ClassVar[frozenset[str]] = frozenset({"fields", "evidence_sha256"})

    objection_id: str
    credit_code: str
    source_node_id: str
    record_id: str
    version: int
    fields: tuple[str, ...]
    claim: str
    evidence_sha256: tuple[str, ...]
    issued_at: datetime

    def __post_init__(self) -> None:
        check_pattern(
            self.objection_id, GRANT_ID_RE, "objection.objection_id", "1-64 [A-Za-z0-9_-]"
        )
        check_credit_code_form(self.credit_code, field_name="objection.credit_code")
        check_node_id(self.source_node_id, field_name="objection.source_node_id")
        check_text(self.record_id, "objection.record_id", max_chars=MAX_RECORD_ID_CHARS)
        if not self.record_id:
            raise InvalidArgument.field("objection.record_id", "", "a record id")
        if type(self.version) is not int or self.version < 1:
            raise InvalidArgument.field("objection.version", self.version, "an integer >= 1")
        fields = tuple(sorted(set(self.fields)))
        if not 1 <= len(fields) <= MAX_DISPUTED_FIELDS:
            raise InvalidArgument.field(
                "objection.fields", len(fields), f"1-{MAX_DISPUTED_FIELDS} field names"
            )
        for name in fields:
            check_text(name, "objection.fields", max_chars=64)
        check_text(self.claim, "objection.claim", max_chars=MAX_CLAIM_CHARS)
        if not self.claim.strip():
            raise InvalidArgument.field("objection.claim", "", "the enterprise's claim")
        evidence = tuple(sorted(set(self.evidence_sha256)))
        if len(evidence) > MAX_EVIDENCE_FILES:
            raise InvalidArgument.field(
                "objection.evidence_sha256", len(evidence), f"≤ {MAX_EVIDENCE_FILES} hashes"
            )
        for digest in evidence:
            check_pattern(digest, SHA256_HEX_RE, "objection.evidence_sha256", "64 hex digits")
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "evidence_sha256", evidence)
        object.__setattr__(self, "issued_at", normalize_time(self.issued_at, "objection.issued_at"))

    @classmethod
    def _read(cls, obj: Mapping[str, Any], key: str) -> Any:
        if key == "version":
            if type(obj[key]) is not int:
                raise InvalidArgument.field("objection.version", obj[key], "an integer")
            return obj[key]
        return super()._read(obj, key)


# -- the platform's receipt ------------------------------------------------------------


@dataclass(frozen=True)
class ObjectionReceipt(SignedStatement):
    """What the city platform countersigns (with its node key): when it received which
    statement."""

    KIND: ClassVar[str] = "objection_receipt"
    WHAT: ClassVar[str] = "objection_receipt"
    KEYS: ClassVar[tuple[str, ...]] = ("platform_node_id", "received_at", "statement_sha256")
    TIMES: ClassVar[frozenset[str]] = frozenset({"received_at"})

    platform_node_id: str
    received_at: datetime
    statement_sha256: str

    def __post_init__(self) -> None:
        check_node_id(self.platform_node_id, field_name="objection_receipt.platform_node_id")
        check_pattern(
            self.statement_sha256, SHA256_HEX_RE, "objection_receipt.statement_sha256", "hex"
        )
        object.__setattr__(
            self, "received_at", normalize_time(self.received_at, "objection_receipt.received_at")
        )

    @classmethod
    def of(
        cls, objection: Objection, platform_node_id: str, received_at: datetime
    ) -> ObjectionReceipt:
        return cls(platform_node_id, received_at, objection.fingerprint())


def verify_filing(
    objection: Objection,
    signature: bytes,
    enterprise_key: VerifierKey,
    receipt: ObjectionReceipt,
    countersignature: bytes,
    platform_key: VerifierKey,
    *,
    now: datetime,
) -> None:
    """The checks of a filing that need no store (numbered as in gateway.flows.objections)."""
    require_aware(now, "now")
    # (a) the receipt names this statement
    if receipt.statement_sha256 != objection.fingerprint():
        raise FailedPrecondition(
            "the platform's receipt names another statement", reason=OBJECTION_RECEIPT_MISMATCH
        )
    # (b) times: signed before received, received before now (within the clock skew),
    # and not older than MAX_STATEMENT_AGE
    if receipt.received_at > now + MAX_CLOCK_SKEW:
        raise InvalidArgument.field(
            "received_at", format_time(receipt.received_at), "not later than the gateway clock"
        )
    if objection.issued_at > receipt.received_at + MAX_CLOCK_SKEW:
        raise InvalidArgument.field(
            "objection.issued_at", format_time(objection.issued_at), "before the platform's receipt"
        )
    if now - objection.issued_at > MAX_STATEMENT_AGE:
        raise FailedPrecondition(
            f"objection signed at {format_time(objection.issued_at)} is older than "
            f"{MAX_STATEMENT_AGE.days} days",
            reason=OBJECTION_STALE,
        )
    # (c) the enterprise signed the statement; (d) the platform signed the receipt
    objection.verify_signature(signature, enterprise_key, what="objection")
    receipt.verify_signature(countersignature, platform_key, what="objection receipt")


def check_answer(state: ObjectionState, answer: ObjectionState, reason: str) -> None:
    """An open objection takes one final answer; upheld and unconfirmable need a reason."""
    if answer not in ANSWERS:
        raise InvalidArgument.field(
            "answer", answer.value, "upheld, corrected, withdrawn or unconfirmable"
        )
    check_text(reason, "reason", max_chars=MAX_REASON_CHARS)
    if answer in (ObjectionState.UPHELD, ObjectionState.UNCONFIRMABLE) and not reason.strip():
        raise InvalidArgument.field("reason", "", f"the department's reason for {answer.value}")
    if state is not ObjectionState.OPEN:
        raise FailedPrecondition(
            f"the objection was already answered ({state.value})", reason=OBJECTION_STATE_CONFLICT
        )
