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
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from grpc import aio
from sqlalchemy import Connection, String, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY

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
from gateway.core.caller import Caller, current_caller
from gateway.flows.registry import get_node
from gateway.flows.runtime import Runtime, new_trace_id
from gateway.store import batch_storage, schema
from gateway.store.batch_bytes import (
    SIGNED_FIELD,
    DecodedRecord,
    canonical_batch_bytes,
    decode_signed_content,
    parse_record,
)
from gateway.store.committer import LedgerTx
from gateway.store.timeutil import from_us, to_us
from xinlian import limits
from xinlian.errors import (
    AlreadyExists,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from xinlian.pki import fingerprint
from xinlian.signing import VerifierKey, verify
from xinlian.v1 import exchange_pb2 as pb

MAX_BATCH_RECORDS = limits.MAX_BATCH_RECORDS
MAX_INFLIGHT_BATCHES = limits.MAX_INFLIGHT_BATCHES_PER_STREAM
MAX_BATCH_ID_LEN = limits.MAX_BATCH_ID_LEN
MAX_SIGNED_CONTENT_BYTES = limits.MAX_MESSAGE_BYTES
MAX_CATEGORY_LEN = 64
MAX_KEY_CACHE = 1024
BATCH_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")

OUTCOME_LETTER = {"accepted": "A", "duplicate": "D", "rejected": "R"}
_OUTCOME_NAME = {letter: name for name, letter in OUTCOME_LETTER.items()}
_PB_OUTCOME = {
    "A": pb.RECORD_OUTCOME_ACCEPTED,
    "D": pb.RECORD_OUTCOME_DUPLICATE,
    "R": pb.RECORD_OUTCOME_REJECTED,
}

# the records columns written by a push, in the order of ``_insert_records`` rows
_RECORD_COLUMNS = (
    "batch_pk",
    "source_node_id",
    "record_id",
    "version",
    "credit_code",
    "category",
    "event_time_us",
    "fields",
    "received_at_us",
)
_COLUMN_LIST = ", ".join(_RECORD_COLUMNS)
# SQLite: the rows of a batch in ONE statement, a multi-row VALUES with numbered
# parameters: ?1..?4 the batch's own columns (batch_pk, source node, category, received
# time), then five per row (record id, version, credit code, event time, fields JSON).
# One sqlite3_step inserts them all with the GIL released, so the event loop keeps
# preparing the next batches meanwhile; an ``executemany`` takes the GIL back after
# every row and waits for it behind the busy event loop while the database write lock
# is held. Earlier versions passed the rows as one JSON array read with ``json_each``:
# the same single step, but SQLite parsed the JSON (one thread, 60 000 rows: 100–150k
# rows/s that way, 160–170k with VALUES).
_SQLITE_BATCH_PARAMS = 4
_SQLITE_ROW_PARAMS = 5


@functools.lru_cache(maxsize=64)
def _sqlite_insert(rows: int) -> str:
    """The INSERT of ``rows`` rows (cached: one SQL text, and SQLite's prepared
    statement, per row count)."""
    values = ",".join(
        f"(?1,?2,?{k},?{k + 1},?{k + 2},?3,?{k + 3},?{k + 4},?4)"
        for k in range(
            _SQLITE_BATCH_PARAMS + 1,
            _SQLITE_BATCH_PARAMS + 1 + _SQLITE_ROW_PARAMS * rows,
            _SQLITE_ROW_PARAMS,
        )
    )
    return (
        f"INSERT INTO records ({_COLUMN_LIST}) VALUES {values} "
        "ON CONFLICT (source_node_id, record_id, version) DO NOTHING"
    )


_POSTGRES_COPY = f"COPY records ({_COLUMN_LIST}) FROM STDIN"

# One valid record's row less the per-batch columns:
# (record_id, version, credit_code, event_time_us, fields_json)
_Row = tuple[str, int, str, int, str]


@dataclass(frozen=True)
class _Session:
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
    rows: list[_Row] = field(default_factory=list)  # the valid records
    positions: list[int] = field(default_factory=list)  # batch position of each row
    rows_flat: list[str | int] = field(default_factory=list)  # SQLite: ``rows``, flattened
    letters: str = ""  # the outcome letters if no valid record is stored already
    entry: Entry | None = None  # the ledger entry of that outcome
    earliest_event_us: int | None = None  # of every signed record, valid or not
    stored: bytes = b""  # ``canonical`` as the batch row keeps it (gateway.store.batch_storage)
    stored_encoding: str = ""


@dataclass(frozen=True)
class BatchOutcome:
    batch_id: str
    letters: str  # "A" accepted | "D" duplicate | "R" rejected, one per record
    ledger_index: int
    replay: bool  # the batch id was already stored: nothing was written

    @property
    def outcomes(self) -> tuple[str, ...]:
        """The outcome per record: "accepted", "duplicate" or "rejected"."""
        return tuple(_OUTCOME_NAME[letter] for letter in self.letters)


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
        node_id = caller.node_id
        # (1) limits
        signed = batch.signed_content
        count = len(batch.records)
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
            parsed = [parse_record(r) for r in batch.records]
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
        self._validate(prepared, decoded)
        prepared.earliest_event_us = min((record[3] for record in decoded), default=None)
        prepared.stored, prepared.stored_encoding = batch_storage.pack(canonical)
        if self.rt.store.sqlite and prepared.rows:
            prepared.rows_flat = list(itertools.chain.from_iterable(prepared.rows))
        # (5, prepared here, outside the write lock) the outcome and entry if every valid
        # record is new
        prepared.letters = _letters(prepared, frozenset())
        prepared.entry = _batch_entry(prepared, prepared.letters, 0)
        return prepared

    def _validate(self, batch: PreparedBatch, decoded: list[DecodedRecord]) -> None:
        """Step (4): fills the batch's keys, verdicts, rows and positions."""
        check_records(self.validator, batch, decoded)

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
            batch_pk = _insert_batch(conn, batch, index)
            if batch_pk is None:
                ledger.undo(mark)
                return _replay(conn, batch)
            # (5b) the valid records in one bulk write; those whose (source, record id,
            # version) is stored already are duplicates, left alone
            duplicates = _insert_records(conn, batch, batch_pk) if batch.rows else set()
            if not duplicates:
                return BatchOutcome(batch.batch_id, batch.letters, index, False)
            # (5c) some were duplicates: the entry and the batch row's counts say so
            letters = _letters(batch, duplicates)
            ledger.undo(mark)
            index = ledger.append(_batch_entry(batch, letters, len(duplicates)))
            batches = schema.batches
            conn.execute(
                update(batches)
                .where(batches.c.id == batch_pk)
                .values(
                    accepted=len(batch.rows) - len(duplicates),
                    duplicates=len(duplicates),
                )
            )
            return BatchOutcome(batch.batch_id, letters, index, False)

        return work

    @staticmethod
    def _response(batch: PreparedBatch, outcome: BatchOutcome) -> pb.PushResponse:
        response = pb.PushResponse(batch_id=batch.batch_id, ledger_index=outcome.ledger_index)
        add = response.results.add
        accepted = duplicates = rejected = 0
        for (record_id, version), verdict, letter in zip(
            batch.keys, batch.verdicts, outcome.letters, strict=True
        ):
            if letter == "A":
                accepted += 1
                add(record_id=record_id, version=version, outcome=pb.RECORD_OUTCOME_ACCEPTED)
            elif letter == "D":
                duplicates += 1
                add(record_id=record_id, version=version, outcome=pb.RECORD_OUTCOME_DUPLICATE)
            else:
                rejected += 1
                add(
                    record_id=record_id,
                    version=version,
                    outcome=pb.RECORD_OUTCOME_REJECTED,
                    reason_code=verdict.reason_code,
                    message=verdict.message,
                )
        response.accepted = accepted
        response.duplicates = duplicates
        response.rejected = rejected
        return response


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


_BATCH_COLUMNS = (
    "node_id",
    "batch_id",
    "category",
    "canonical",
    "signature",
    "signer_fingerprint",
    "received_at_us",
    "ledger_index",
    "record_count",
    "accepted",
    "duplicates",
    "rejected",
    "earliest_event_us",
    "canonical_encoding",
)


def _batch_insert(mark: str) -> str:
    return (
        f"INSERT INTO batches ({', '.join(_BATCH_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(_BATCH_COLUMNS))}) "
        "ON CONFLICT (node_id, batch_id) DO NOTHING RETURNING id"
    )


_SQLITE_BATCH_INSERT = _batch_insert("?")
_POSTGRES_BATCH_INSERT = _batch_insert("%s")


def _insert_batch(conn: Connection, batch: PreparedBatch, ledger_index: int) -> int | None:
    """The batch row (its canonical bytes, signature and signer: the provenance) with
    the counts of the usual outcome, every valid record new; ``None`` if this node
    stored a batch with this id already. One statement on the driver's cursor."""
    postgres = conn.dialect.name == "postgresql"
    accepted = len(batch.rows)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            _POSTGRES_BATCH_INSERT if postgres else _SQLITE_BATCH_INSERT,
            (
                batch.node_id,
                batch.batch_id,
                batch.category,
                batch.stored,
                batch.signature,
                batch.signer_fingerprint,
                batch.received_at_us,
                ledger_index,
                len(batch.verdicts),
                accepted,
                0,
                len(batch.verdicts) - accepted,
                batch.earliest_event_us,
                batch.stored_encoding,
            ),
        )
        row = cursor.fetchone()
    finally:
        cursor.close()
    return None if row is None else int(row[0])


def _replay(conn: Connection, batch: PreparedBatch) -> BatchOutcome:
    """The batch id was used before: the same bytes are answered from the stored batch
    (every valid record a duplicate); other bytes under that id are refused. Bytes that
    retention erased are compared by the SHA-256 their erasure kept."""
    b, e = schema.batches.c, schema.batch_erasures.c
    prior = conn.execute(
        select(b.canonical, b.canonical_encoding, b.ledger_index, e.canonical_sha256)
        .select_from(schema.batches.outerjoin(schema.batch_erasures, e.batch_pk == b.id))
        .where(b.node_id == batch.node_id, b.batch_id == batch.batch_id)
    ).one()
    if prior.canonical is not None:
        stored = batch_storage.unpack(bytes(prior.canonical), str(prior.canonical_encoding))
        digest = hashlib.sha256(stored).hexdigest()
    else:
        digest = prior.canonical_sha256
    if digest != batch.digest:
        raise AlreadyExists(
            f"batch id {batch.batch_id} was already used for a different batch",
            reason="BATCH_ID_REUSED",
        )
    replayed = "".join("D" if v.ok else "R" for v in batch.verdicts)
    return BatchOutcome(batch.batch_id, replayed, int(prior.ledger_index or 0), True)


def _insert_records(conn: Connection, batch: PreparedBatch, batch_pk: int) -> set[tuple[str, int]]:
    """Write the batch's valid records; return the keys that were stored already.

    Runs inside the group transaction, after the committer locked the ledger sequencer
    row, so no other writer can insert the same keys before this unit commits. The rows
    go through the DBAPI cursor of the unit's connection (same transaction), skipping
    SQLAlchemy's per-row parameter processing:

    * SQLite: ONE ``INSERT … VALUES … ON CONFLICT DO NOTHING`` of all the rows
      (``_sqlite_insert``; more statements only if the rows need more parameters than
      this SQLite allows); when the changed-row count is the number of rows, none was
      stored already; otherwise the batch's keys are read back and those that belong to
      another batch are duplicates;
    * PostgreSQL: ``COPY`` inside a savepoint; if a key is stored already the unique
      constraint refuses the COPY, the savepoint is rolled back, the stored keys are
      read and the others are copied.
    """
    node_id, category, received = batch.node_id, batch.category, batch.received_at_us
    rows = batch.rows
    dbapi: Any = conn.connection.dbapi_connection
    if conn.dialect.name != "postgresql":
        flat = batch.rows_flat
        per_statement = max(
            1,
            (dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - _SQLITE_BATCH_PARAMS)
            // _SQLITE_ROW_PARAMS,
        )
        head: list[str | int] = [batch_pk, node_id, category, received]
        inserted = 0
        cursor = dbapi.cursor()
        try:
            for start in range(0, len(rows), per_statement):
                n = min(per_statement, len(rows) - start)
                chunk = flat[start * _SQLITE_ROW_PARAMS : (start + n) * _SQLITE_ROW_PARAMS]
                cursor.execute(_sqlite_insert(n), head + chunk)
                inserted += cursor.rowcount
        finally:
            cursor.close()
        if inserted == len(rows):
            return set()
        mine = _stored_keys(conn, node_id, [row[0] for row in rows], batch_pk)
        return {(row[0], row[1]) for row in rows} - mine

    import psycopg  # the PostgreSQL driver; imported here so SQLite-only hosts need not

    try:
        with conn.begin_nested():
            _copy_rows(dbapi, batch_pk, node_id, category, received, rows)
        return set()
    except psycopg.errors.UniqueViolation:
        pass
    stored = _stored_keys(conn, node_id, [row[0] for row in rows])
    fresh = [row for row in rows if (row[0], row[1]) not in stored]
    if fresh:
        _copy_rows(dbapi, batch_pk, node_id, category, received, fresh)
    return {(row[0], row[1]) for row in rows} & stored


def _copy_rows(
    dbapi: Any, batch_pk: int, node_id: str, category: str, received: int, rows: Iterable[_Row]
) -> None:
    with dbapi.cursor() as cursor, cursor.copy(_POSTGRES_COPY) as copy:
        write = copy.write_row
        for rid, ver, code, ev, fj in rows:
            write((batch_pk, node_id, rid, ver, code, category, ev, fj, received))


def _stored_keys(
    conn: Connection, node_id: str, record_ids: list[str], batch_pk: int | None = None
) -> set[tuple[str, int]]:
    """The (record id, version) pairs of ``node_id`` stored, for these record ids; with
    ``batch_pk``, only those of that batch.

    The ids travel as ONE parameter (PostgreSQL: an array; SQLite: a JSON array read with
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
    query = select(records.c.record_id, records.c.version).where(
        records.c.source_node_id == node_id, wanted
    )
    if batch_pk is not None:
        query = query.where(records.c.batch_pk == batch_pk)
    return {(row[0], row[1]) for row in conn.execute(query)}


def _consume(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


__all__ = [
    "MAX_BATCH_RECORDS",
    "MAX_INFLIGHT_BATCHES",
    "MAX_SIGNED_CONTENT_BYTES",
    "BatchOutcome",
    "PushHandler",
    "decode_signed_content",
]
