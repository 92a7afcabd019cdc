"""Enterprise identities: registration by a city platform, key rotation, state, nonces.

An enterprise (named by its 统一社会信用代码) has one registered public key at a time
(Ed25519 or ECDSA P-256). ``enterprise_keys`` keeps every key it ever had with its
validity, so a grant signed under an old key still verifies against the key it names
(``key_version``).

Each operation is a *unit of work* for the group committer (see ``gateway.store.committer``):
it writes and appends its ledger entry in one transaction, and has no side effect outside
the database (it may be retried).

Registration steps::

    (1) the credit code (GB 32100 check character), the name, the key type
    (2) the platform's attestation: how it verified the enterprise's identity, when
    (3) not registered yet (ALREADY_EXISTS otherwise)
    (4) store the enterprise and key version 1; ledger entry enterprise.registered

Rotation steps::

    (1) the enterprise is registered; the new key parses and differs from the current one
    (2) the statement is fresh (issued within KEY_ROTATION_MAX_AGE, not from the future)
    (3) the CURRENT key signed the statement naming the new key's SHA-256
    (4) close the old key's validity, store the new key version; ledger entry
        enterprise.key_rotated

A refused rotation (forged, stale, …) leaves a ``statement.refused`` entry naming the
platform, the reason and the enterprise (``gateway.flows.denials``).

Self-query nonces are remembered in ``self_query_nonces`` for SELF_QUERY_NONCE_TTL, in
the same transaction as the query's ledger entry, so a replayed statement is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    delete,
    insert,
    select,
    update,
)

from audit.entry import Action
from authz import credit_code as uscc
from authz.decision import EnterpriseState
from authz.enterprise_statements import (
    SELF_QUERY_MAX_AGE,
    SELF_QUERY_MAX_CLOCK_SKEW,
    KeyRotation,
    public_key_sha256,
    verify_key_rotation,
)
from authz.statements import (
    MAX_CLOCK_SKEW,
    format_time,
)
from gateway.core import validate
from gateway.core.caller import Caller
from gateway.flows.denials import refuses_statement
from gateway.store import schema
from gateway.store.committer import LedgerTx, Work
from gateway.store.dialect import dialect_of
from gateway.store.timeutil import from_us, to_us
from xinlian import limits
from xinlian.errors import AccessDenied, AlreadyExists, InvalidArgument, NotFound, clip
from xinlian.signing import VerifierKey, load_public_key, public_key_pem

# -- named limits ----------------------------------------------------------------------

MAX_ATTEST_METHOD_LEN = 64
MAX_EVIDENCE_REF_LEN = 200
KEY_ROTATION_MAX_AGE = timedelta(days=1)
SELF_QUERY_NONCE_TTL = SELF_QUERY_MAX_AGE + SELF_QUERY_MAX_CLOCK_SKEW
SELF_QUERY_REPLAY = "SELF_QUERY_REPLAY"
ENTERPRISE_NOT_REGISTERED = "ENTERPRISE_NOT_REGISTERED"

_METHOD_RE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")

# -- values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attestation:
    """How a city platform verified the enterprise's identity."""

    method: str
    evidence_ref: str
    verified_at: datetime

    def check(self, now: datetime) -> Attestation:
        if _METHOD_RE.fullmatch(self.method) is None:
            raise InvalidArgument.field(
                "attestation.method", self.method, "1-64 characters [a-z0-9_.:-]"
            )
        validate.text(
            "attestation.evidence_ref",
            self.evidence_ref,
            max_len=MAX_EVIDENCE_REF_LEN,
            required=False,
        )
        if self.verified_at.tzinfo is None:
            raise InvalidArgument.field("attestation.verified_at", "naive", "an aware time")
        if self.verified_at > now + MAX_CLOCK_SKEW:
            raise InvalidArgument.field(
                "attestation.verified_at",
                format_time(self.verified_at),
                "not later than the gateway clock",
            )
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "evidence_ref": self.evidence_ref,
            "verified_at": format_time(self.verified_at),
        }


@dataclass(frozen=True)
class EnterpriseRecord:
    credit_code: str
    name: str
    public_key_pem: str
    key_version: int
    registered_by: str
    attestation: dict[str, Any]
    registered_at: datetime
    updated_at: datetime
    frozen: bool
    open_objections: int

    @property
    def state(self) -> EnterpriseState:
        return EnterpriseState(self.credit_code, self.frozen, self.open_objections)


@dataclass(frozen=True)
class EnterpriseView:
    """What the query path needs of an enterprise (cached per process, briefly)."""

    state: EnterpriseState
    public_key: VerifierKey | None  # None: not registered
    key_version: int = 0


def _record(row: Any) -> EnterpriseRecord:
    return EnterpriseRecord(
        credit_code=row.credit_code,
        name=row.name,
        public_key_pem=row.public_key_pem,
        key_version=row.key_version,
        registered_by=row.registered_by,
        attestation=json.loads(row.attestation),
        registered_at=from_us(row.registered_at_us),
        updated_at=from_us(row.updated_at_us),
        frozen=bool(row.frozen),
        open_objections=int(row.open_objections),
    )


# -- reads -----------------------------------------------------------------------------


def get_enterprise(conn: Connection, credit_code: str) -> EnterpriseRecord | None:
    row = conn.execute(
        select(schema.enterprises).where(schema.enterprises.c.credit_code == credit_code)
    ).first()
    return None if row is None else _record(row)


def require_enterprise(conn: Connection, credit_code: str) -> EnterpriseRecord:
    record = get_enterprise(conn, credit_code)
    if record is None:
        raise NotFound(
            f"enterprise {clip(credit_code)} is not registered", reason=ENTERPRISE_NOT_REGISTERED
        )
    return record


def read_enterprise_view(conn: Connection, credit_code: str) -> EnterpriseView:
    row = conn.execute(
        select(
            schema.enterprises.c.public_key_pem,
            schema.enterprises.c.key_version,
            schema.enterprises.c.frozen,
            schema.enterprises.c.open_objections,
        ).where(schema.enterprises.c.credit_code == credit_code)
    ).first()
    if row is None:
        return EnterpriseView(EnterpriseState(credit_code), None, 0)
    return EnterpriseView(
        EnterpriseState(credit_code, bool(row.frozen), int(row.open_objections)),
        load_public_key(row.public_key_pem),
        int(row.key_version),
    )


def key_for_version(conn: Connection, credit_code: str, key_version: int) -> VerifierKey:
    """The enterprise key of ``key_version`` (old keys stay, so old signatures verify)."""
    pem = conn.execute(
        select(schema.enterprise_keys.c.public_key_pem).where(
            schema.enterprise_keys.c.credit_code == credit_code,
            schema.enterprise_keys.c.key_version == key_version,
        )
    ).scalar_one_or_none()
    if pem is None:
        raise NotFound(f"enterprise {clip(credit_code)} has no key version {key_version}")
    return load_public_key(pem)


# -- units of work ---------------------------------------------------------------------


def register_enterprise(
    caller: Caller,
    credit_code: str,
    name: str,
    public_key: str,
    attestation: Attestation,
    now: datetime,
    trace_id: str,
) -> Work[EnterpriseRecord]:
    """A city platform registers an enterprise's key, attesting it verified its identity."""
    # (1) credit code, name, key type
    uscc.validate(credit_code)
    validate.text("name", name, max_len=limits.MAX_NAME_LEN)
    key = load_public_key(public_key)
    pem = public_key_pem(key).decode("ascii")
    key_sha = public_key_sha256(key)
    # (2) the attestation
    attestation.check(now)

    def work(conn: Connection, ledger: LedgerTx) -> EnterpriseRecord:
        # (3) not registered yet
        if get_enterprise(conn, credit_code) is not None:
            raise AlreadyExists(
                f"enterprise {clip(credit_code)} is already registered; rotate its key instead",
                reason="ENTERPRISE_EXISTS",
            )
        # (4) store, ledger entry
        us = to_us(now)
        conn.execute(
            insert(schema.enterprises).values(
                credit_code=credit_code,
                name=name,
                public_key_pem=pem,
                key_version=1,
                registered_by=caller.node_id,
                attestation=json.dumps(attestation.to_json(), ensure_ascii=False),
                registered_at_us=us,
                updated_at_us=us,
                frozen=False,
                open_objections=0,
            )
        )
        conn.execute(
            insert(schema.enterprise_keys).values(
                credit_code=credit_code,
                key_version=1,
                public_key_pem=pem,
                valid_from_us=us,
                valid_until_us=None,
            )
        )
        details = {
            "name": name,
            "key_version": 1,
            "public_key_sha256": key_sha,
            "attestation": attestation.to_json(),
        }
        ledger.append(
            caller.entry(
                Action.ENTERPRISE_REGISTERED,
                now,
                trace_id,
                details,
                credit_code=credit_code,
                subject=credit_code,
            )
        )
        return require_enterprise(conn, credit_code)

    return work


@refuses_statement("key_rotation", lambda a: (a["credit_code"], a["credit_code"]))
def rotate_key(
    caller: Caller,
    credit_code: str,
    new_public_key: str,
    issued_at: datetime,
    signature: bytes,
    now: datetime,
    trace_id: str,
) -> Work[EnterpriseRecord]:
    """Replace the enterprise's key; the statement is signed by the current key."""
    uscc.validate(credit_code)
    new_key = load_public_key(new_public_key, field_name="new_public_key_pem")
    new_pem = public_key_pem(new_key).decode("ascii")
    rotation = KeyRotation(credit_code, public_key_sha256(new_key), issued_at)
    # (2) fresh
    if rotation.issued_at > now + MAX_CLOCK_SKEW:
        raise InvalidArgument.field(
            "issued_at", format_time(rotation.issued_at), "not later than the gateway clock"
        )
    if now - rotation.issued_at > KEY_ROTATION_MAX_AGE:
        raise InvalidArgument.field(
            "issued_at",
            format_time(rotation.issued_at),
            f"within {KEY_ROTATION_MAX_AGE.days} day(s) of the gateway clock",
        )

    def work(conn: Connection, ledger: LedgerTx) -> EnterpriseRecord:
        # (1) registered; the new key differs
        record = require_enterprise(conn, credit_code)
        if record.public_key_pem.strip() == new_pem.strip():
            raise InvalidArgument.field("new_public_key_pem", "the current key", "a new key")
        # (3) the current key signed the statement
        verify_key_rotation(rotation, signature, load_public_key(record.public_key_pem), new_key)
        # (4) close the old validity, store the new key
        us = to_us(now)
        version = record.key_version + 1
        conn.execute(
            update(schema.enterprise_keys)
            .where(
                schema.enterprise_keys.c.credit_code == credit_code,
                schema.enterprise_keys.c.key_version == record.key_version,
            )
            .values(valid_until_us=us)
        )
        conn.execute(
            insert(schema.enterprise_keys).values(
                credit_code=credit_code,
                key_version=version,
                public_key_pem=new_pem,
                valid_from_us=us,
                valid_until_us=None,
            )
        )
        conn.execute(
            update(schema.enterprises)
            .where(schema.enterprises.c.credit_code == credit_code)
            .values(public_key_pem=new_pem, key_version=version, updated_at_us=us)
        )
        details = {
            "key_version": version,
            "public_key_sha256": rotation.new_public_key_sha256,
            "statement": rotation.canonical_bytes().decode("utf-8"),
            "signature": signature.hex(),
        }
        ledger.append(
            caller.entry(
                Action.ENTERPRISE_KEY_ROTATED,
                now,
                trace_id,
                details,
                credit_code=credit_code,
                subject=credit_code,
            )
        )
        return require_enterprise(conn, credit_code)

    return work


def remember_nonce(conn: Connection, credit_code: str, nonce: str, now: datetime) -> None:
    """Record a self-query nonce in the caller's transaction; refuse one seen before.

    Expired nonces of the enterprise are deleted first (they can no longer be replayed:
    the statement's freshness check refuses them).
    """
    us = to_us(now)
    conn.execute(
        delete(schema.self_query_nonces).where(
            schema.self_query_nonces.c.credit_code == credit_code,
            schema.self_query_nonces.c.seen_at_us
            < us - int(SELF_QUERY_NONCE_TTL.total_seconds() * 1e6),
        )
    )
    values = {"credit_code": credit_code, "nonce": nonce, "seen_at_us": us}
    if not dialect_of(conn).insert_if_absent(conn, schema.self_query_nonces, values):
        raise AccessDenied(
            "this self-query statement was already used; sign a new one",
            reason=SELF_QUERY_REPLAY,
        )
