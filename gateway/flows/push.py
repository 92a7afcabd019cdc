"""Department push: signed batches checked against the catalog, durable and idempotent.

One ``Push`` stream carries batches of one department agent; the gateway answers each
batch with one response, in order. A batch carries its records in one of two forms:
``signed_content`` (the canonical bytes of ``xinlian.batch``, exactly as the agent signed
them: the preferred form) or ``records`` (structured; the gateway rebuilds the canonical
bytes from them). Each batch goes through these steps:

1. limits: at most ``MAX_BATCH_RECORDS`` records (``MAX_SIGNED_CONTENT_BYTES`` of signed
   content), a well-formed batch id and category, exactly one of the two forms (else
   the stream ends with INVALID_ARGUMENT);
2. responsibility: the caller's department must be responsible for the batch's category
   ("谁产生、谁提供、谁负责"), else the whole batch is refused: PERMISSION_DENIED
   ``CATEGORY_NOT_RESPONSIBLE`` (a denial entry is written to the ledger first);
3. signature, verified with the public key of the caller's certificate over the
   canonical bytes: the received ``signed_content`` as is, or the bytes rebuilt from
   ``records``. A batch altered after signing is refused whole: PERMISSION_DENIED
   ``BAD_SIGNATURE`` (denial entry first). Signed content is then parsed (C ``json``)
   and must (a) name this node, batch id and category — else it is not a signature
   over this batch: ``BAD_SIGNATURE`` as well — and (b) be exactly the canonical
   encoding of what it parses to, record by record (no duplicate keys, no other key
   order, spacing or escaping, integers as integers, texts as texts) — else
   INVALID_ARGUMENT ``NOT_CANONICAL``. So the stored bytes, the signature over them
   and the stored records say the same thing to any JSON reader;
4. records: each record is validated on its own (``authz.records``, compiled per
   category); a record repeating an earlier (record id, version) of the same batch is
   rejected ``DUPLICATE_IN_BATCH``;
5. one unit of work for the group committer: if this node already sent this batch id
   with the same bytes, nothing is written and the stored batch answers (every valid
   record reports DUPLICATE; a batch id reused for different bytes is refused
   ALREADY_EXISTS ``BATCH_ID_REUSED``; bytes that retention erased are compared by
   their kept SHA-256); otherwise the batch row is written (canonical bytes,
   signature, signer fingerprint); the valid records go in with ONE bulk write
   that leaves a stored (source, record id, version) alone (``_insert_records``: SQLite
   ``INSERT … ON CONFLICT DO NOTHING`` counted; PostgreSQL ``COPY`` in a savepoint,
   redone without the stored keys if one is there — the committer's lock on the ledger
   sequencer row serializes this against every other writer); a record already stored
   is a DUPLICATE and changes nothing; ONE ``push.batch`` ledger entry is appended
   (category, batch SHA-256, counts, reason counts and the per-record outcomes as one
   letter A/D/R per record in batch order — never a field value) and its index and the
   counts complete the batch row;
6. the response leaves only after that transaction committed.

At most ``MAX_INFLIGHT_BATCHES`` batches of a stream are between "read from the wire"
and "answered": the reader stops reading (and gRPC flow control holds the agent back)
until the oldest one is answered. Batches of a stream are committed and answered in the
order they were sent.

The stream itself (reading ``PushRequest`` messages, writing ``PushResponse`` messages) is
``gateway.services.push_service``; this module takes each batch's fields as plain values
(``WireBatch``) and answers with a ``BatchOutcome``. The SQL of step (5) is
``gateway.store.batch_writes``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from sqlalchemy import Connection

from audit.entry import Action, Entry, Outcome
from authz.records import (
    DUPLICATE_IN_BATCH,
    EARLIEST_EVENT_US,
    MAX_FUTURE_SKEW_US,
    RecordCheck,
    RecordValidator,
    RecordVerdict,
    check_event_time_us,
)
from gateway.core.caller import Caller
from gateway.flows import change_log
from gateway.flows.caller_key import signing_key
from gateway.flows.registry import get_node
from gateway.flows.runtime import Runtime, new_trace_id
from gateway.store import batch_storage, batch_writes
from gateway.store.batch_bytes import (
    SIGNED_FIELD,
    DecodedRecord,
    ParsedRecord,
    canonical_batch_bytes,
    decode_signed_content,
)
from gateway.store.batch_writes import Row
from gateway.store.committer import LedgerTx
from gateway.store.timeutil import from_us, to_us
from xinlian import limits
from xinlian.errors import (
    AlreadyExists,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from xinlian.signing import VerifierKey, verify

MAX_BATCH_RECORDS = limits.MAX_BATCH_RECORDS
MAX_INFLIGHT_BATCHES = limits.MAX_INFLIGHT_BATCHES_PER_STREAM
MAX_BATCH_ID_LEN = limits.MAX_BATCH_ID_LEN
MAX_SIGNED_CONTENT_BYTES = limits.MAX_MESSAGE_BYTES
MAX_CATEGORY_LEN = 64
BATCH_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")

OUTCOME_LETTER = {"accepted": "A", "duplicate": "D", "rejected": "R"}
_OUTCOME_NAME = {letter: name for name, letter in OUTCOME_LETTER.items()}


@dataclass(frozen=True, slots=True)
class WireBatch:
    """One batch's fields as read from the wire (``gateway.services.push_service``)."""

    batch_id: str
    category: str
    signed_content: bytes  # the signed form: the canonical bytes as received (not copied)
    signature: bytes
    record_count: int  # the structured form: how many records ...
    parse_records: Callable[[], list[ParsedRecord]]  # ... parsed only once step (1) passed


@dataclass(frozen=True)
class Session:
    """One stream's caller, the categories its department answers for, and the public
    key of the certificate it presented."""

    caller: Caller
    categories: frozenset[str]
    key: VerifierKey


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
    keys: list[tuple[str, int]] = field(default_factory=list)  # (record id, version)
    verdicts: list[RecordVerdict] = field(default_factory=list)  # per record
    rows: list[Row] = field(default_factory=list)  # the valid records
    positions: list[int] = field(default_factory=list)  # batch position of each row
    rows_flat: list[str | int] = field(default_factory=list)  # ``rows``, flattened
    letters: str = ""  # the outcome letters if no valid record is stored already
    entry: Entry | None = None  # the ledger entry of that outcome
    earliest_event_us: int | None = None  # of every signed record, valid or not
    stored: bytes = b""  # ``canonical`` as the batch row keeps it (gateway.store.batch_storage)
    stored_encoding: str = ""


@dataclass(frozen=True)
class BatchOutcome:
    """The answer to one batch: per record (in batch order) its key, its verdict and
    its outcome letter, and the ledger index of the batch's entry."""

    batch_id: str
    letters: str  # "A" accepted | "D" duplicate | "R" rejected, one per record
    ledger_index: int
    replay: bool  # the batch id was already stored: nothing was written
    keys: Sequence[tuple[str, int]] = field(default=(), repr=False, compare=False)
    verdicts: Sequence[RecordVerdict] = field(default=(), repr=False, compare=False)

    @property
    def outcomes(self) -> tuple[str, ...]:
        """The outcome per record: "accepted", "duplicate" or "rejected"."""
        return tuple(_OUTCOME_NAME[letter] for letter in self.letters)


class PushHandler:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.validator = RecordValidator(rt.catalog)

    # -- the stream's caller ------------------------------------------------------------
    async def session(self, caller: Caller) -> Session:
        """The stream's session: the caller's department, its categories, and the key of
        the certificate it presented (TLS verified it, the edge's gate checked it against
        the registry and put its public key in ``caller``)."""
        node = await self.rt.read(lambda conn: get_node(conn, caller.node_id))
        if node is None:
            raise Unauthenticated("certificate does not match the registry", reason="UNKNOWN_NODE")
        return Session(caller, frozenset(node.categories), signing_key(caller))

    # -- steps (1)–(4) ------------------------------------------------------------------
    async def prepare(self, session: Session, batch: WireBatch) -> PreparedBatch:
        caller = session.caller
        node_id = caller.node_id
        # (1) limits
        signed = batch.signed_content
        count = batch.record_count
        if signed and count:
            raise InvalidArgument.field(
                "batch.records", f"{count} records and signed content", "one form, not both"
            )
        if len(signed) > MAX_SIGNED_CONTENT_BYTES:
            raise InvalidArgument.field(
                SIGNED_FIELD, f"{len(signed)} bytes", f"≤ {MAX_SIGNED_CONTENT_BYTES}"
            )
        if count > MAX_BATCH_RECORDS:
            raise InvalidArgument.field(
                "batch.records", f"{count} records", f"≤ {MAX_BATCH_RECORDS}"
            )
        if count == 0 and not signed:
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
        decoded: list[DecodedRecord] | None = None
        if signed:
            canonical = bytes(signed)
        else:
            parsed = batch.parse_records()
            canonical = canonical_batch_bytes(node_id, batch_id, category, parsed)
            decoded = [
                (p.credit_code, p.record_id, p.version, p.event_time_us, p.fields, p.fields_json)
                for p in parsed
            ]
        digest = hashlib.sha256(canonical).hexdigest()
        trace_id = new_trace_id()
        # (2) responsibility for the category
        known = self.rt.catalog.get(category) is not None
        if known and category not in session.categories:
            await self._deny(
                caller, batch_id, category, digest, "CATEGORY_NOT_RESPONSIBLE", trace_id
            )
            raise PermissionDenied(
                f"department {node_id} is not responsible for category {category}",
                reason="CATEGORY_NOT_RESPONSIBLE",
            )
        prepared = PreparedBatch(
            node_id=node_id,
            batch_id=batch_id,
            category=category,
            canonical=canonical,
            digest=digest,
            signature=bytes(batch.signature),
            signer_fingerprint=caller.fingerprint,
            received_at_us=to_us(self.rt.clock.now()),
            trace_id=trace_id,
        )
        try:
            # (3, second half) the signature over exactly those bytes
            verify(session.key, canonical, batch.signature, what=f"batch {batch_id}")
            if decoded is None:
                # (3a, 3b) signed content: this batch's header; canonical, record by record
                decoded = decode_signed_content(canonical, node_id, batch_id, category)
        except PermissionDenied:
            await self._deny(caller, batch_id, category, digest, "BAD_SIGNATURE", trace_id)
            raise
        # (4) records, each on its own
        check_records(self.validator, prepared, decoded)
        prepared.earliest_event_us = min((record[3] for record in decoded), default=None)
        prepared.stored, prepared.stored_encoding = batch_storage.pack(canonical)
        if prepared.rows:  # the bulk write's values, made here, outside the write lock
            prepared.rows_flat = batch_writes.flat_rows(prepared.rows)
        # (5, prepared here, outside the write lock) the outcome and entry if every valid
        # record is new
        prepared.letters = _letters(prepared, frozenset())
        prepared.entry = _batch_entry(prepared, prepared.letters, 0)
        return prepared

    async def _deny(
        self, caller: Caller, batch_id: str, category: str, digest: str, reason: str, trace_id: str
    ) -> None:
        """Record a refused batch in the ledger before the refusal is answered."""
        entry = caller.entry(
            Action.PUSH_BATCH,
            self.rt.clock.now(),
            trace_id,
            {"category": category, "batch_sha256": digest, "reason": reason},
            subject=batch_id,
            outcome=Outcome.DENIED,
        )
        await self.rt.commit_entry(entry)

    # -- step (5): the unit of work -----------------------------------------------------
    def commit(self, batch: PreparedBatch) -> asyncio.Future[BatchOutcome]:
        """Step (5), started: the batch's unit of work handed to the group committer.
        (6) the answer is the outcome, once that transaction committed."""
        return asyncio.ensure_future(self.rt.commit(self._work(batch)))

    def _work(self, batch: PreparedBatch) -> Callable[[Connection, LedgerTx], BatchOutcome]:
        """The batch's writes, run by the committer while it holds the database write
        lock: as few statements and as little Python as possible. The ledger entry for
        the usual outcome (every valid record new) was built in step (4); only when some
        records turn out to be stored already is it built again here."""
        entry = batch.entry
        if entry is None:
            raise RuntimeError(f"batch {batch.batch_id} reached the committer unprepared")

        def work(conn: Connection, ledger: LedgerTx) -> BatchOutcome:
            # (5a) the ledger entry, then the batch row with its provenance and that
            # entry's index; the same batch id again: answer from the stored batch and
            # write nothing (the entry is taken back)
            mark = ledger.mark()
            index = ledger.append(entry)
            batch_pk = batch_writes.insert_batch(conn, batch, index)
            if batch_pk is None:
                ledger.undo(mark)
                return _replay(conn, batch)
            # (5b) the valid records in one bulk write; those whose (source, record id,
            # version) is stored already are duplicates, left alone
            duplicates = batch_writes.insert_records(conn, batch, batch_pk) if batch.rows else set()
            change_log.batch_stored(conn, batch, batch_pk)  # one event per stored record
            if not duplicates:
                return _outcome(batch, batch.letters, index)
            # (5c) some were duplicates: the entry and the batch row's counts say so
            letters = _letters(batch, duplicates)
            ledger.undo(mark)
            index = ledger.append(_batch_entry(batch, letters, len(duplicates)))
            batch_writes.set_counts(
                conn, batch_pk, len(batch.rows) - len(duplicates), len(duplicates)
            )
            return _outcome(batch, letters, index)

        return work


def check_records(
    validator: RecordValidator, batch: PreparedBatch, decoded: list[DecodedRecord]
) -> None:
    """Step (4) on decoded records: fills the batch's keys, verdicts, rows, positions."""
    category = batch.category
    compiled = validator.compiled(category)
    if compiled is None:  # an unknown category: every record says so

        def compiled(
            code: str, record_id: str, version: int, fields: dict[str, str]
        ) -> RecordVerdict:
            return validator.check(category, code, record_id, version, fields)

    check: RecordCheck = compiled
    now_us = batch.received_at_us
    latest_us = now_us + MAX_FUTURE_SKEW_US
    seen: set[tuple[str, int]] = set()
    keys, verdicts, rows, positions = batch.keys, batch.verdicts, batch.rows, batch.positions
    for position, (code, record_id, version, event_us, fields, fields_json) in enumerate(decoded):
        key = (record_id, version)
        keys.append(key)
        verdict = check(code, record_id, version, fields)
        if verdict.ok:
            if not EARLIEST_EVENT_US <= event_us <= latest_us:
                verdict = check_event_time_us(event_us, now_us)
            elif key in seen:
                verdict = RecordVerdict.reject(
                    DUPLICATE_IN_BATCH,
                    f"record_id: got ({record_id!r}, version {version}) again, "
                    "want each (record id, version) once per batch",
                )
            else:
                seen.add(key)
                rows.append((record_id, version, code, event_us, fields_json))
                positions.append(position)
        verdicts.append(verdict)


def _letters(batch: PreparedBatch, duplicates: AbstractSet[tuple[str, int]]) -> str:
    """One letter per record: "A" accepted, "D" stored already, "R" rejected."""
    letters = ["R"] * len(batch.verdicts)
    for position, row in zip(batch.positions, batch.rows, strict=True):
        letters[position] = "D" if (row[0], row[1]) in duplicates else "A"
    return "".join(letters)


def _batch_entry(batch: PreparedBatch, letters: str, duplicates: int) -> Entry:
    """The batch's ``push.batch`` ledger entry: who, which signed bytes, per record the
    outcome, per reason the count; no field value."""
    reasons: dict[str, int] = {}
    for verdict in batch.verdicts:
        if not verdict.ok:
            reasons[verdict.reason_code] = reasons.get(verdict.reason_code, 0) + 1
    rejected = len(letters) - len(batch.rows)
    return Entry(
        action=Action.PUSH_BATCH,
        time=from_us(batch.received_at_us),
        actor=batch.node_id,
        actor_kind="department",
        outcome=Outcome.OK,
        trace_id=batch.trace_id,
        subject=batch.batch_id,
        details={
            "category": batch.category,
            "batch_sha256": batch.digest,
            "signer": batch.signer_fingerprint,
            "records": len(letters),
            "accepted": len(batch.rows) - duplicates,
            "duplicates": duplicates,
            "rejected": rejected,
            "outcomes": letters,
            "reasons": reasons,
        },
    )


def _outcome(batch: PreparedBatch, letters: str, index: int, replay: bool = False) -> BatchOutcome:
    return BatchOutcome(batch.batch_id, letters, index, replay, batch.keys, batch.verdicts)


def _replay(conn: Connection, batch: PreparedBatch) -> BatchOutcome:
    """The batch id was used before: the same bytes are answered from the stored batch
    (every valid record a duplicate); other bytes under that id are refused. Bytes that
    retention erased are compared by the SHA-256 their erasure kept."""
    digest, ledger_index = batch_writes.stored_batch(conn, batch.node_id, batch.batch_id)
    if digest != batch.digest:
        raise AlreadyExists(
            f"batch id {batch.batch_id} was already used for a different batch",
            reason="BATCH_ID_REUSED",
        )
    replayed = "".join("D" if v.ok else "R" for v in batch.verdicts)
    return _outcome(batch, replayed, ledger_index, replay=True)


__all__ = [
    "MAX_BATCH_RECORDS",
    "MAX_INFLIGHT_BATCHES",
    "MAX_SIGNED_CONTENT_BYTES",
    "BatchOutcome",
    "PushHandler",
    "WireBatch",
    "decode_signed_content",
]
