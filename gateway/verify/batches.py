"""Step (5): each stored batch's signature and signer, its record rows against the signed
canonical bytes, and an erased batch's ``batch_erasures`` row and ``kept`` list."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from cryptography import x509
from sqlalchemy import Connection, select

from gateway.store import schema
from gateway.store.erasure import KeptRecord, decode_kept, erasure_mismatch, record_sha256
from gateway.store.timeutil import from_us, to_us
from gateway.verify.push_entries import _check_push_entry, stored_bytes
from gateway.verify.report import (
    BATCH_CHUNK,
    EntryBodies,
    Problem,
    Retention,
    VerifyReport,
    _batch_name,
    _record_name,
)
from xinlian.batch import decode_batch, format_time, parse_time, record_json
from xinlian.errors import PermissionDenied, XinLianError
from xinlian.signing import load_public_key, public_key_pem, verify

T = TypeVar("T")


def _check_batches(
    conn: Connection,
    report: VerifyReport,
    push_entries: EntryBodies,
    erasure_entries: EntryBodies,
    retention: Retention,
) -> None:
    b, r, e = schema.batches.c, schema.records.c, schema.batch_erasures.c
    keys: dict[str, Any] = {}
    batch_ids: set[int] = set()
    last = 0
    while True:
        batches = conn.execute(
            select(schema.batches).where(b.id > last).order_by(b.id).limit(BATCH_CHUNK)
        ).all()
        if not batches:
            break
        first, last = last, int(batches[-1].id)
        pks = [int(row.id) for row in batches]
        batch_ids.update(pks)
        records: dict[int, list[Any]] = {}
        for rec in conn.execute(
            select(schema.records).where(r.batch_pk.in_(pks)).order_by(r.id)
        ).all():
            records.setdefault(int(rec.batch_pk), []).append(rec)
        erasures = {
            int(row.batch_pk): row
            for row in conn.execute(
                select(schema.batch_erasures).where(e.batch_pk > first, e.batch_pk <= last)
            )
        }
        for batch in batches:
            report.batches += 1
            rows = records.get(int(batch.id), [])
            report.records += len(rows)
            erasure = erasures.get(int(batch.id))
            if batch.canonical is None:
                report.erased_batches += 1
                _check_erased_batch(conn, report, batch, erasure, erasure_entries, keys)
                _check_kept_records(report, batch, rows, erasure, retention)
                _check_push_entry(report, batch, rows, push_entries, None, retention, erasure)
                continue
            if erasure is not None:
                report.add(_erasure_problem(batch, "its signed bytes are still stored"))
            check_stored_batch(conn, report, batch, rows, push_entries, retention, keys)
    # records pointing at no batch: provenance lost
    orphans = conn.execute(
        select(r.id, r.source_node_id, r.record_id, r.version, r.batch_pk).order_by(r.id)
    ).all()
    for rec in orphans:
        if int(rec.batch_pk) not in batch_ids:
            report.records += 1
            report.add(
                Problem(
                    "record",
                    "NO_BATCH",
                    f"record {_record_name(rec)} refers to batch {rec.batch_pk}, not stored",
                    object_id=_record_name(rec),
                )
            )


def check_stored_batch(
    conn: Connection,
    report: VerifyReport,
    batch: Any,
    rows: list[Any],
    push_entries: EntryBodies,
    retention: Retention,
    keys: dict[str, Any],
) -> list[dict[str, Any]] | None:
    """(5) + (6) for a batch row whose signed bytes are stored, with its record rows and
    the ``push.batch`` bodies by index; ``keys`` caches signer keys by fingerprint.
    Returns the signed records, or None if the bytes cannot be trusted (reported)."""
    signed = _check_batch(conn, report, batch, keys)
    if signed is not None:
        _check_records(report, batch, rows, signed)
        _check_earliest_event(report, batch, signed)
    _check_push_entry(report, batch, rows, push_entries, signed, retention)
    return signed


def _check_earliest_event(report: VerifyReport, batch: Any, signed: list[dict[str, Any]]) -> None:
    """(5) ``earliest_event_us``, which retention selects batches by, is the earliest
    event time of the signed records (NULL: stored before it existed, nothing to
    compare): a later value would keep due records' bytes from being erased."""
    stored = batch.earliest_event_us
    if stored is None:
        return
    try:
        earliest: int | None = min(to_us(parse_time(str(i.get("event_time")))) for i in signed)
    except ValueError:
        earliest = None
    if earliest != int(stored):
        name = _batch_name(batch)
        report.add(
            Problem(
                "batch",
                "EARLIEST_EVENT_MISMATCH",
                f"{name}: earliest_event_us differs from its signed records' earliest event",
                None,
                name,
            )
        )


def _check_signer(conn: Connection, report: VerifyReport, batch: Any, keys: dict[str, Any]) -> Any:
    """(5) the signer certificate is stored and is the pushing node's; returns its key."""
    name = _batch_name(batch)
    fp = str(batch.signer_fingerprint)
    if fp not in keys:
        keys[fp] = _signer_key(conn, fp)
    signer = keys[fp]
    if signer is None:
        report.add(
            Problem("batch", "UNKNOWN_SIGNER", f"{name}: signer certificate not stored", None, name)
        )
        return None
    node_id, key = signer
    if node_id != batch.node_id:
        report.add(
            Problem(
                "batch",
                "WRONG_SIGNER",
                f"{name}: signed with a certificate of node {node_id}",
                None,
                name,
            )
        )
        return None
    return key


def _check_batch(
    conn: Connection, report: VerifyReport, batch: Any, keys: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """(5) the signature and the signed bytes' header; returns the signed records."""
    name = _batch_name(batch)
    key = _check_signer(conn, report, batch, keys)
    if key is None:
        return None
    canonical = stored_bytes(batch)
    if canonical is None:
        report.add(
            Problem("batch", "BAD_CANONICAL", f"{name}: stored bytes unreadable", None, name)
        )
        return None
    try:
        verify(key, canonical, bytes(batch.signature), what=name)
    except PermissionDenied:
        report.add(
            Problem("batch", "BAD_SIGNATURE", f"{name}: signature does not verify", None, name)
        )
        return None
    try:
        obj = decode_batch(canonical)
    except (ValueError, UnicodeDecodeError):
        report.add(
            Problem("batch", "BAD_CANONICAL", f"{name}: signed bytes unreadable", None, name)
        )
        return None
    for column in ("node_id", "batch_id", "category"):
        if obj.get(column) != getattr(batch, column):
            report.add(
                Problem(
                    "batch", "HEADER_MISMATCH", f"{name}: {column} differs from signed", None, name
                )
            )
            return None
    records = obj.get("records")
    if not isinstance(records, list) or not all(isinstance(i, dict) for i in records):
        report.add(
            Problem("batch", "BAD_CANONICAL", f"{name}: signed records unreadable", None, name)
        )
        return None
    return records


def _signer_key(conn: Connection, fp: str) -> tuple[str, Any] | None:
    row = conn.execute(
        select(schema.certificates.c.node_id, schema.certificates.c.pem).where(
            schema.certificates.c.fingerprint == fp
        )
    ).first()
    if row is None:
        return None
    try:
        cert = x509.load_pem_x509_certificate(str(row.pem).encode("ascii"))
        key = load_public_key(public_key_pem(cert.public_key()))  # type: ignore[arg-type]
    except (ValueError, TypeError, XinLianError):
        return None
    return str(row.node_id), key


def _check_records(
    report: VerifyReport,
    batch: Any,
    rows: list[Any],
    signed_records: list[dict[str, Any]],
) -> None:
    """(5) every stored record row is, field for field, one the agent signed."""
    signed = {(str(i.get("record_id")), i.get("version")): i for i in signed_records}
    _check_rows(report, batch, rows, signed, _signed_mismatch, ("its batch", "the signed batch"))


def _signed_mismatch(rec: Any, item: dict[str, Any]) -> str | None:
    try:
        fields = json.loads(rec.fields)
    except ValueError:
        fields = None
    if item.get("credit_code") != rec.credit_code:
        return "credit_code"
    if item.get("event_time") != format_time(from_us(int(rec.event_time_us))):
        return "event_time"
    if item.get("fields") != fields:
        return "fields"
    return None


def _check_rows(
    report: VerifyReport,
    batch: Any,
    rows: list[Any],
    reference: Mapping[tuple[str, Any], T],
    mismatch: Callable[[Any, T], str | None],
    names: tuple[str, str],
) -> None:
    """(5) every stored record row is in ``reference`` by (record id, version) (else
    ``NOT_SIGNED``), belongs to the batch's node and category, and ``mismatch`` finds
    nothing that differs from its reference (else ``RECORD_MISMATCH``). ``names``: what
    the reference is, for the messages."""
    where, against = names
    for rec in rows:
        name = _record_name(rec)
        item = reference.get((str(rec.record_id), int(rec.version)))
        if item is None:
            report.add(
                Problem("record", "NOT_SIGNED", f"record {name}: not in {where}", None, name)
            )
            continue
        if rec.source_node_id != batch.node_id:
            bad: str | None = "source_node_id"
        elif rec.category != batch.category:
            bad = "category"
        else:
            bad = mismatch(rec, item)
        if bad is not None:
            report.add(
                Problem(
                    "record",
                    "RECORD_MISMATCH",
                    f"record {name}: {bad} differs from {against}",
                    None,
                    name,
                )
            )


def _erasure_problem(batch: Any, what: str) -> Problem:
    name = _batch_name(batch)
    return Problem("batch", "ERASURE_MISMATCH", f"{name}: {what}", None, name)


def _check_erased_batch(
    conn: Connection,
    report: VerifyReport,
    batch: Any,
    erasure: Any,
    erasure_entries: EntryBodies,
    keys: dict[str, Any],
) -> None:
    """(5a, 5b) a batch whose signed bytes are gone: the signer is still the pushing
    node's, and the erasure row says what its ``retention.erased`` entry says."""
    name = _batch_name(batch)
    _check_signer(conn, report, batch, keys)
    if erasure is None:
        report.add(
            Problem(
                "batch",
                "BATCH_BYTES_MISSING",
                f"{name}: signed bytes missing and no erasure recorded",
                None,
                name,
            )
        )
        return
    index = int(erasure.ledger_index)
    if index not in erasure_entries:
        report.add(_erasure_problem(batch, f"ledger entry {index} is not a retention.erased entry"))
        return
    body = erasure_entries[index]
    if body is None:  # retention keeps these bodies: this one was removed by hand
        report.add(_erasure_problem(batch, f"the body of retention.erased entry {index} is gone"))
        return
    bad = erasure_mismatch(
        body,
        str(batch.node_id),
        str(batch.batch_id),
        str(batch.category),
        str(erasure.canonical_sha256),
        str(erasure.kept),
    )
    if bad is not None:
        report.add(_erasure_problem(batch, f"{bad} differs from retention.erased entry {index}"))


def _check_kept_records(
    report: VerifyReport, batch: Any, rows: list[Any], erasure: Any, retention: Retention
) -> None:
    """(5c) every stored record row of an erased batch is one kept at the erasure, with
    the same digest; every kept record is stored unless retention may have deleted it."""
    if erasure is None:
        return  # reported by (5a): nothing to check the rows against
    try:
        kept = decode_kept(str(erasure.kept))
    except ValueError:
        return  # reported by (5b)
    _check_rows(
        report,
        batch,
        rows,
        kept,
        _kept_mismatch,
        ("the records kept at its batch's erasure", "the digest kept at erasure"),
    )
    stored = {(str(rec.record_id), int(rec.version)) for rec in rows}
    for key, item in kept.items():
        if key not in stored and not retention.allows_missing(
            str(batch.category), {"event_time": item.event_time}
        ):
            name = f"{batch.node_id}/{key[0]}@{key[1]}"
            report.add(
                Problem(
                    "record",
                    "RECORD_MISSING",
                    f"record {name}: kept at its batch's erasure, no longer stored",
                    None,
                    name,
                )
            )


def _kept_mismatch(rec: Any, item: KeptRecord) -> str | None:
    """``record_sha256`` of the stored row, rebuilt as ``_signed_mismatch`` compares it
    with the signed record (event time formatted, fields parsed), against the kept one."""
    try:
        fields = json.loads(rec.fields)
        if isinstance(fields, dict):
            event_time = from_us(int(rec.event_time_us))
            row = record_json(rec.credit_code, rec.record_id, int(rec.version), event_time, fields)
            if record_sha256(row) == item.sha256:
                return None
    except (ValueError, TypeError, OverflowError):
        pass
    return "content"
