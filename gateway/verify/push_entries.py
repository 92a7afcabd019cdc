"""Step (6): each ``push.batch`` ledger entry against its batch row."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from gateway.store import batch_storage
from gateway.verify.report import EntryBodies, Problem, Retention, VerifyReport, _batch_name

# entry details key → batch row column (the push path writes the first spellings)
_DETAIL_COLUMNS = {
    "category": "category",
    "batch_id": "batch_id",
    "records": "record_count",
    "record_count": "record_count",
    "accepted": "accepted",
    "duplicates": "duplicates",
    "rejected": "rejected",
    "signer": "signer_fingerprint",
    "signer_fingerprint": "signer_fingerprint",
}
_DETAIL_HASH_KEYS = ("batch_sha256", "canonical_sha256")
_ACCEPTED_LETTER = "A"


def _check_push_entry(
    report: VerifyReport,
    batch: Any,
    rows: list[Any],
    push_entries: EntryBodies,
    signed: list[dict[str, Any]] | None,
    retention: Retention,
    erasure: Any = None,
) -> None:
    """(6) the ``push.batch`` entry the batch row points at says what the row says.

    The entry's actor is the batch's node and its subject the batch id. Compared when
    present in the details: category, batch_id, records / record_count, accepted,
    duplicates, rejected, signer / signer_fingerprint, batch_sha256 / canonical_sha256
    (hex SHA-256 of the signed bytes; of a batch whose bytes retention erased, the
    hash its ``erasure`` row kept), ``outcomes`` (one letter per signed record, in
    batch order; the records marked ``A`` are exactly the record rows stored for the
    batch, less those retention may have deleted since — skipped for an erased batch,
    whose signed records are gone; its rows are checked against the erasure's kept
    digests instead) and ``record_ids`` (every stored record of the batch is listed).
    """
    if batch.ledger_index is None:
        return
    name = _batch_name(batch)
    index = int(batch.ledger_index)
    if index not in push_entries:
        report.add(
            Problem(
                "batch",
                "NO_PUSH_ENTRY",
                f"{name}: ledger entry {index} is not a push.batch entry",
                None,
                name,
            )
        )
        return
    body = push_entries[index]
    if body is None:  # pruned: nothing left to compare
        return
    try:
        entry = json.loads(body)
        details = entry.get("details") or {}
    except (ValueError, AttributeError):
        details, entry = {}, {}
    bad: str | None = None
    if entry.get("actor") != batch.node_id:
        bad = "actor"
    elif entry.get("subject") not in (None, batch.batch_id):
        bad = "subject"
    for key, column in _DETAIL_COLUMNS.items():
        if bad is None and key in details and details[key] != getattr(batch, column):
            bad = key
    digest: str | None
    if batch.canonical is not None:
        canonical = stored_bytes(batch)
        digest = hashlib.sha256(canonical).hexdigest() if canonical is not None else None
    else:  # erased: the hash kept by the erasure (none: reported by (5a))
        digest = str(erasure.canonical_sha256) if erasure is not None else None
    for key in _DETAIL_HASH_KEYS:
        if bad is None and digest is not None and key in details and details[key] != digest:
            bad = key
    stored = {(str(rec.record_id), int(rec.version)) for rec in rows}
    outcomes = details.get("outcomes")
    if bad is None and isinstance(outcomes, str) and signed is not None:
        accepted = {
            (str(item.get("record_id")), item.get("version"))
            for item, letter in zip(signed, outcomes, strict=False)
            if letter == _ACCEPTED_LETTER
        }
        # retention may have deleted expired negative records since
        expired = {
            (str(item.get("record_id")), item.get("version"))
            for item in signed
            if retention.allows_missing(batch.category, item)
        }
        if len(outcomes) != len(signed) or not stored <= accepted <= stored | expired:
            bad = "outcomes"
    if bad is None and isinstance(details.get("record_ids"), list):
        listed = {
            str(item.get("record_id")) if isinstance(item, dict) else str(item)
            for item in details["record_ids"]
        }
        if any(record_id not in listed for record_id, _ in stored):
            bad = "record_ids"
    if bad is not None:
        report.add(
            Problem(
                "batch",
                "ENTRY_MISMATCH",
                f"{name}: {bad} differs from push.batch entry {index}",
                None,
                name,
            )
        )


def stored_bytes(batch: Any) -> bytes | None:
    """The signed bytes a batch row keeps (``gateway.store.batch_storage``), or None if they
    do not unpack (reported by the caller)."""
    try:
        return batch_storage.unpack(bytes(batch.canonical), str(batch.canonical_encoding))
    except batch_storage.UnreadableBytes:
        return None
