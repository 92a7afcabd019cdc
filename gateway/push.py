"""Department push: signed batches checked against the catalog, durable and idempotent.

One ``Push`` stream carries batches of one department agent; the gateway answers each
batch with one response, in order. Each batch goes through these steps:

1. limits: at most ``MAX_BATCH_RECORDS`` records, a well-formed batch id and category
   (else the stream ends with INVALID_ARGUMENT);
2. responsibility: the caller's department must be responsible for the batch's category
   ("谁产生、谁提供、谁负责"), else the whole batch is refused: PERMISSION_DENIED
   ``CATEGORY_NOT_RESPONSIBLE`` (a denial entry is written to the ledger first);
3. signature: the canonical batch bytes (``xinlian.batch``) are rebuilt from the request
   and verified with the public key of the caller's certificate; a batch altered after
   signing is refused whole: PERMISSION_DENIED ``BAD_SIGNATURE`` (denial entry first);
4. records: each record is validated on its own (``authz.records``); a record repeating
   an earlier (record id, version) of the same batch is rejected ``DUPLICATE_IN_BATCH``;
5. one unit of work for the group committer: if this node already sent this batch id
   with the same bytes, nothing is written and the stored batch answers (every valid
   record reports DUPLICATE; a batch id reused for different bytes is refused
   ALREADY_EXISTS ``BATCH_ID_REUSED``); otherwise the batch row is written (canonical
   bytes, signature, signer fingerprint); the stored keys of the valid records are read
   (the committer's lock on the ledger sequencer row serializes this against every
   other writer) and the new ones go in with ONE bulk insert (a record whose (source,
   record id, version) is stored already is a DUPLICATE and changes nothing); ONE ``push.batch``
   ledger entry is appended (category, batch SHA-256, counts, reason counts and the
   per-record outcomes as one letter A/D/R per record in batch order — never a field
   value) and its index and the counts complete the batch row;
6. the response leaves only after that transaction committed.

At most ``MAX_INFLIGHT_BATCHES`` batches of a stream are between "read from the wire"
and "answered": the reader stops reading (and gRPC flow control holds the agent back)
until the oldest one is answered. Batches of a stream are committed and answered in the
order they were sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from grpc import aio
from sqlalchemy import Connection, String, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from audit.entry import Action, Entry, Outcome
from authz.records import (
    DUPLICATE_IN_BATCH,
    RecordValidator,
    RecordVerdict,
    check_event_time_us,
)
from gateway.committer import LedgerTx
from gateway.edge import limits
from gateway.edge.caller import Caller, current_caller
from gateway.pki import fingerprint
from gateway.registry import get_node
from gateway.runtime import Runtime, new_trace_id
from gateway.store import schema
from gateway.store.timeutil import to_us
from xinlian.batch import BATCH_VERSION, format_time
from xinlian.errors import (
    AlreadyExists,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from xinlian.signing import VerifierKey, verify
from xinlian.v1 import exchange_pb2 as pb

MAX_BATCH_RECORDS = limits.MAX_BATCH_RECORDS
MAX_INFLIGHT_BATCHES = limits.MAX_INFLIGHT_BATCHES_PER_STREAM
MAX_BATCH_ID_LEN = limits.MAX_BATCH_ID_LEN
MAX_CATEGORY_LEN = 64
MAX_KEY_CACHE = 1024
BATCH_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")

OUTCOME_LETTER = {"accepted": "A", "duplicate": "D", "rejected": "R"}
_PB_OUTCOME = {
    "accepted": pb.RECORD_OUTCOME_ACCEPTED,
    "duplicate": pb.RECORD_OUTCOME_DUPLICATE,
    "rejected": pb.RECORD_OUTCOME_REJECTED,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)


def canonical_bytes(obj: Any) -> bytes:
    """``xinlian.signing.canonical_json`` for values known to hold only str/int/dict/list.

    The request's records hold nothing else (protobuf strings and int64), so the float
    walk of ``canonical_json`` is skipped; tests check both give the same bytes.
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True)
class _Session:
    caller: Caller
    categories: frozenset[str]
    key: VerifierKey


@dataclass
class _Item:
    record_id: str
    version: int
    verdict: RecordVerdict
    row: dict[str, Any] | None  # the records row for a valid record


@dataclass
class PreparedBatch:
    """A batch that passed steps (1)–(4), ready for its unit of work."""

    node_id: str
    batch_id: str
    category: str
    canonical: bytes
    digest: str
    signature: bytes
    signer_fingerprint: str
    received_at_us: int
    trace_id: str
    items: list[_Item] = field(default_factory=list)


@dataclass(frozen=True)
class BatchOutcome:
    batch_id: str
    outcomes: tuple[str, ...]  # "accepted" | "duplicate" | "rejected", per record
    ledger_index: int
    replay: bool  # the batch id was already stored: nothing was written


class PushHandler:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.validator = RecordValidator(rt.catalog)
        self._keys: dict[str, VerifierKey] = {}

    # -- the stream ---------------------------------------------------------------------
    async def push(
        self, requests: AsyncIterator[pb.PushRequest], context: aio.ServicerContext
    ) -> AsyncIterator[pb.PushResponse]:
        session = await self._session(current_caller(), context)
        pending: asyncio.Queue[
            tuple[PreparedBatch, asyncio.Task[BatchOutcome]] | BaseException | None
        ]
        pending = asyncio.Queue(maxsize=MAX_INFLIGHT_BATCHES - 1)

        async def read() -> None:
            try:
                async for request in requests:
                    prepared = await self._prepare(session, request.batch)
                    task = asyncio.ensure_future(self.rt.commit(self._work(prepared)))
                    await pending.put((prepared, task))
                await pending.put(None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # handed to the writer, which raises it in order
                await pending.put(exc)

        reader = asyncio.ensure_future(read())
        try:
            while True:
                item = await pending.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                prepared, task = item
                # (6) answer only after the unit of work committed
                outcome = await task
                yield self._response(prepared, outcome)
        finally:
            reader.cancel()
            while not pending.empty():
                left = pending.get_nowait()
                if isinstance(left, tuple):
                    left[1].add_done_callback(_consume)

    async def _session(self, caller: Caller, context: aio.ServicerContext) -> _Session:
        node = await self.rt.read(lambda conn: get_node(conn, caller.node_id))
        if node is None:
            raise Unauthenticated("certificate does not match the registry", reason="UNKNOWN_NODE")
        return _Session(caller, frozenset(node.categories), self._peer_key(caller, context))

    def _peer_key(self, caller: Caller, context: aio.ServicerContext) -> VerifierKey:
        """The public key of the certificate the caller presented (TLS verified it and the
        edge checked it against the registry); cached by fingerprint."""
        key = self._keys.get(caller.fingerprint)
        if key is not None:
            return key
        values = list(context.auth_context().get("x509_pem_cert") or ())
        if not values:
            raise Unauthenticated("no client certificate", reason="NO_CLIENT_CERTIFICATE")
        cert = x509.load_pem_x509_certificate(bytes(values[0]))
        if fingerprint(cert) != caller.fingerprint:
            raise Unauthenticated("certificate changed during the call", reason="UNKNOWN_NODE")
        public = cert.public_key()
        if not (
            isinstance(public, ed25519.Ed25519PublicKey)
            or (
                isinstance(public, ec.EllipticCurvePublicKey)
                and isinstance(public.curve, ec.SECP256R1)
            )
        ):
            raise PermissionDenied("certificate key type not accepted", reason="BAD_KEY_TYPE")
        if len(self._keys) >= MAX_KEY_CACHE:
            self._keys.clear()
        self._keys[caller.fingerprint] = public
        return public

    # -- steps (1)–(4) ------------------------------------------------------------------
    async def _prepare(self, session: _Session, batch: pb.Batch) -> PreparedBatch:
        caller = session.caller
        # (1) limits
        count = len(batch.records)
        if count > MAX_BATCH_RECORDS:
            raise InvalidArgument.field(
                "batch.records", f"{count} records", f"≤ {MAX_BATCH_RECORDS}"
            )
        if count == 0:
            raise InvalidArgument.field("batch.records", "no records", "at least one record")
        batch_id = batch.batch_id
        if len(batch_id) > MAX_BATCH_ID_LEN or BATCH_ID_RE.fullmatch(batch_id) is None:
            raise InvalidArgument.field(
                "batch.batch_id", batch_id, f"1..{MAX_BATCH_ID_LEN} characters of [A-Za-z0-9._:-]"
            )
        category = batch.category
        if not category or len(category) > MAX_CATEGORY_LEN:
            raise InvalidArgument.field("batch.category", category, "a catalog category id")
        # (3, first half) the canonical bytes, which the denial entries name too
        parsed = [_parse_record(r) for r in batch.records]
        canonical = canonical_batch_bytes(caller.node_id, batch_id, category, parsed)
        digest = hashlib.sha256(canonical).hexdigest()
        trace_id = new_trace_id()
        # (2) responsibility for the category
        known = self.rt.catalog.get(category) is not None
        if known and category not in session.categories:
            await self._deny(
                caller, batch_id, category, digest, "CATEGORY_NOT_RESPONSIBLE", trace_id
            )
            raise PermissionDenied(
                f"department {caller.node_id} is not responsible for category {category}",
                reason="CATEGORY_NOT_RESPONSIBLE",
            )
        # (3, second half) the signature over those bytes
        try:
            verify(session.key, canonical, batch.signature, what=f"batch {batch_id}")
        except PermissionDenied:
            await self._deny(caller, batch_id, category, digest, "BAD_SIGNATURE", trace_id)
            raise
        # (4) records, each on its own
        now_us = to_us(self.rt.clock.now())
        check = self.validator.check
        seen: set[tuple[str, int]] = set()
        items: list[_Item] = []
        append = items.append
        node_id = caller.node_id
        for p in parsed:
            record_id, version = p.record_id, p.version
            verdict = check(category, p.credit_code, record_id, version, p.fields)
            if verdict.ok:
                verdict = check_event_time_us(p.event_time_us, now_us)
            if verdict.ok:
                key = (record_id, version)
                if key in seen:
                    verdict = RecordVerdict.reject(
                        DUPLICATE_IN_BATCH,
                        f"record_id: got ({record_id!r}, version {version}) again, "
                        "want each (record id, version) once per batch",
                    )
                else:
                    seen.add(key)
            row = None
            if verdict.ok:
                row = {
                    "source_node_id": node_id,
                    "record_id": record_id,
                    "version": version,
                    "credit_code": p.credit_code,
                    "category": category,
                    "event_time_us": p.event_time_us,
                    "fields": p.fields_json,
                    "batch_pk": 0,
                    "received_at_us": now_us,
                }
            append(_Item(record_id, version, verdict, row))
        return PreparedBatch(
            node_id=node_id,
            batch_id=batch_id,
            category=category,
            canonical=canonical,
            digest=digest,
            signature=bytes(batch.signature),
            signer_fingerprint=caller.fingerprint,
            received_at_us=now_us,
            trace_id=trace_id,
            items=items,
        )

    async def _deny(
        self, caller: Caller, batch_id: str, category: str, digest: str, reason: str, trace_id: str
    ) -> None:
        """Record a refused batch in the ledger before the refusal is answered."""
        entry = Entry(
            action=Action.PUSH_BATCH,
            time=self.rt.clock.now(),
            actor=caller.node_id,
            actor_kind=caller.kind,
            outcome=Outcome.DENIED,
            trace_id=trace_id,
            subject=batch_id,
            details={"category": category, "batch_sha256": digest, "reason": reason},
        )

        def work(conn: Connection, ledger: LedgerTx) -> int:
            return ledger.append(entry)

        await self.rt.commit(work)

    # -- step (5): the unit of work -----------------------------------------------------
    def _work(self, batch: PreparedBatch) -> Callable[[Connection, LedgerTx], BatchOutcome]:
        clock = self.rt.clock

        def work(conn: Connection, ledger: LedgerTx) -> BatchOutcome:
            # (5a) the same batch id again: answer from the stored batch, write nothing
            prior = conn.execute(
                select(schema.batches.c.canonical, schema.batches.c.ledger_index).where(
                    schema.batches.c.node_id == batch.node_id,
                    schema.batches.c.batch_id == batch.batch_id,
                )
            ).first()
            if prior is not None:
                if hashlib.sha256(prior.canonical).hexdigest() != batch.digest:
                    raise AlreadyExists(
                        f"batch id {batch.batch_id} was already used for a different batch",
                        reason="BATCH_ID_REUSED",
                    )
                replayed = tuple(
                    "duplicate" if item.verdict.ok else "rejected" for item in batch.items
                )
                return BatchOutcome(batch.batch_id, replayed, int(prior.ledger_index or 0), True)
            # (5b) the batch row, with its provenance (counts and ledger index follow)
            batches = schema.batches
            batch_pk: int = conn.execute(
                insert(batches).values(
                    node_id=batch.node_id,
                    batch_id=batch.batch_id,
                    category=batch.category,
                    canonical=batch.canonical,
                    signature=batch.signature,
                    signer_fingerprint=batch.signer_fingerprint,
                    received_at_us=batch.received_at_us,
                    ledger_index=None,
                    record_count=len(batch.items),
                    accepted=0,
                    duplicates=0,
                    rejected=0,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            # (5c) the valid records not stored yet, in one bulk insert; those whose
            # (source, record id, version) is stored already are duplicates, left alone
            valid = [item for item in batch.items if item.row is not None]
            stored = _stored_keys(conn, batch.node_id, [item.record_id for item in valid])
            rows: list[dict[str, Any]] = []
            outcomes: list[str] = []
            reasons: dict[str, int] = {}
            for item in batch.items:
                if item.row is None:
                    outcomes.append("rejected")
                    code = item.verdict.reason_code
                    reasons[code] = reasons.get(code, 0) + 1
                elif (item.record_id, item.version) in stored:
                    outcomes.append("duplicate")
                else:
                    outcomes.append("accepted")
                    item.row["batch_pk"] = batch_pk
                    rows.append(item.row)
            if rows:
                conn.execute(insert(schema.records), rows)
            accepted = len(rows)
            rejected = sum(reasons.values())
            duplicates = len(outcomes) - accepted - rejected
            # (5d) one ledger entry for the batch; its index goes into the batch row
            index = ledger.append(
                Entry(
                    action=Action.PUSH_BATCH,
                    time=clock.now(),
                    actor=batch.node_id,
                    actor_kind="department",
                    outcome=Outcome.OK,
                    trace_id=batch.trace_id,
                    subject=batch.batch_id,
                    details={
                        "category": batch.category,
                        "batch_sha256": batch.digest,
                        "signer": batch.signer_fingerprint,
                        "records": len(outcomes),
                        "accepted": accepted,
                        "duplicates": duplicates,
                        "rejected": rejected,
                        "outcomes": "".join(OUTCOME_LETTER[o] for o in outcomes),
                        "reasons": reasons,
                    },
                )
            )
            conn.execute(
                update(batches)
                .where(batches.c.id == batch_pk)
                .values(
                    ledger_index=index,
                    accepted=accepted,
                    duplicates=duplicates,
                    rejected=rejected,
                )
            )
            return BatchOutcome(batch.batch_id, tuple(outcomes), index, False)

        return work

    @staticmethod
    def _response(batch: PreparedBatch, outcome: BatchOutcome) -> pb.PushResponse:
        results = []
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for item, result in zip(batch.items, outcome.outcomes, strict=True):
            counts[result] += 1
            if result == "rejected":
                results.append(
                    pb.RecordResult(
                        record_id=item.record_id,
                        version=item.version,
                        outcome=pb.RECORD_OUTCOME_REJECTED,
                        reason_code=item.verdict.reason_code,
                        message=item.verdict.message,
                    )
                )
            else:
                results.append(
                    pb.RecordResult(
                        record_id=item.record_id, version=item.version, outcome=_PB_OUTCOME[result]
                    )
                )
        return pb.PushResponse(
            batch_id=batch.batch_id,
            results=results,
            accepted=counts["accepted"],
            duplicates=counts["duplicate"],
            rejected=counts["rejected"],
            ledger_index=outcome.ledger_index,
        )


def _stored_keys(conn: Connection, node_id: str, record_ids: list[str]) -> set[tuple[str, int]]:
    """The (record id, version) pairs of ``node_id`` already stored, for these record ids.

    Runs inside the group transaction, after the committer locked the ledger sequencer
    row, so no other writer can insert the same keys before this unit commits. The ids
    travel as ONE parameter (PostgreSQL: an array; SQLite: a JSON array read with
    ``json_each``): a long ``IN`` list costs a compile per batch and plans badly once
    psycopg prepares the statement.
    """
    records = schema.records
    unique = list(dict.fromkeys(record_ids))
    if conn.dialect.name == "postgresql":
        wanted: Any = records.c.record_id == any_(
            bindparam("ids", value=unique, type_=ARRAY(String))
        )
    else:
        ids = func.json_each(bindparam("ids", value=json.dumps(unique))).table_valued("value")
        wanted = records.c.record_id.in_(select(ids.c.value))
    rows = conn.execute(
        select(records.c.record_id, records.c.version).where(
            records.c.source_node_id == node_id, wanted
        )
    )
    return {(row[0], row[1]) for row in rows}


@dataclass(frozen=True, slots=True)
class _Parsed:
    credit_code: str
    record_id: str
    version: int
    event_time_us: int
    event_time: str  # as in the canonical encoding
    fields: dict[str, str]
    fields_json: str  # canonical JSON of ``fields``


def _parse_record(r: pb.Record) -> _Parsed:
    ts = r.event_time
    us = ts.seconds * 1_000_000 + ts.nanos // 1000
    fields = dict(r.fields)
    return _Parsed(
        r.credit_code, r.record_id, r.version, us, _time_text(us), fields, _encode_fields(fields)
    )


def _time_text(us: int) -> str:
    """``xinlian.batch.format_time`` of the instant ``us`` microseconds after the epoch."""
    try:
        when = _EPOCH_NAIVE + timedelta(microseconds=us)
    except OverflowError:
        raise InvalidArgument.field(
            "batch.records.event_time", "out of range", "an instant in years 1..9999"
        ) from None
    if when.year < 1000:  # strftime does not pad such years; keep exactly its output
        return format_time(when.replace(tzinfo=UTC))
    return when.isoformat(timespec="microseconds") + "Z"


_encode_str = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) writes
_encode_fields = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_batch_bytes(
    node_id: str, batch_id: str, category: str, records: list[_Parsed]
) -> bytes:
    """``xinlian.batch.canonical_batch`` assembled from each record's canonical parts.

    Keys in sorted order at both levels; strings as ``json.dumps(ensure_ascii=False)``
    writes them; integers as ``int.__repr__``. tests/push/test_record_validation.py
    checks the result equals ``canonical_batch`` byte for byte.
    """
    enc = _encode_str
    parts = [
        '{"credit_code":'
        + enc(p.credit_code)
        + ',"event_time":"'
        + p.event_time
        + '","fields":'
        + p.fields_json
        + ',"record_id":'
        + enc(p.record_id)
        + ',"version":'
        + str(p.version)
        + "}"
        for p in records
    ]
    text = (
        '{"batch_id":'
        + enc(batch_id)
        + ',"category":'
        + enc(category)
        + ',"node_id":'
        + enc(node_id)
        + ',"records":['
        + ",".join(parts)
        + '],"type":"batch","v":'
        + str(BATCH_VERSION)
        + "}"
    )
    return text.encode("utf-8")


def _consume(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


__all__ = ["MAX_BATCH_RECORDS", "MAX_INFLIGHT_BATCHES", "BatchOutcome", "PushHandler"]
