"""Erasure of a batch's signed bytes: the digests that stand in for them (pure: no SQL, no
gRPC).

When retention deletes expired negative credit records (征信业管理条例 第十六条), the batch's
signed canonical bytes still hold their fields; ``gateway.flows.retention`` then erases those
bytes. What stays, so that the records of the batch not yet due keep their provenance and
any later change to them is still detected:

* the batch row's signature and signer (the bytes are gone, so the signature can no longer
  be checked: it was checked when the bytes were erased);
* a ``batch_erasures`` row: the hex SHA-256 of the erased bytes and ``kept``, the
  canonical JSON array of ``[record_id, version, event_time, record_sha256]`` of every
  record row of the batch still stored and not due at the erasure (``encode_kept``);
* a ``retention.erased`` ledger entry (``erasure_entry``) naming the batch and carrying
  that hash and the SHA-256 of the ``kept`` text: the tree covers it, so ``kept`` cannot
  change unnoticed, and the record digests in ``kept`` pin every kept record row.

``record_sha256`` is the one definition of a record's digest, used by retention (over
the signed record) and by verification (over the stored row).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from audit.entry import Action, Entry, Outcome
from xinlian.signing import canonical_json

ERASER = "gateway"
"""Actor and actor kind of ``retention.erased`` entries: the gateway itself, as for the
first administrator's admission written by ``gateway init``."""
_RECORD_KEYS = ("credit_code", "event_time", "fields", "record_id", "version")


class KeptRecord(NamedTuple):
    """One record row kept when its batch's bytes were erased."""

    record_id: str
    version: int
    event_time: str  # as in the signed record: what the retention rule reads
    sha256: str  # ``record_sha256`` of the signed record


def record_sha256(record: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical encoding (``canonical_json``, as the batch bytes) of
    one record object as it stands in a signed batch: ``credit_code``, ``record_id``,
    ``version``, ``event_time``, ``fields`` (other keys are not part of a record)."""
    return hashlib.sha256(
        canonical_json({key: record.get(key) for key in _RECORD_KEYS})
    ).hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_kept(kept: Sequence[KeptRecord]) -> str:
    """The ``kept`` column: canonical JSON, records in (record id, version) order."""
    return canonical_json([list(k) for k in sorted(kept)]).decode("utf-8")


def decode_kept(text: str) -> dict[tuple[str, int], KeptRecord]:
    """The ``kept`` column by (record id, version); ValueError if it is not what
    ``encode_kept`` writes."""
    items = json.loads(text)
    if not isinstance(items, list):
        raise ValueError("kept is not a list")
    kept: dict[tuple[str, int], KeptRecord] = {}
    for item in items:
        if (
            not isinstance(item, list)
            or len(item) != len(KeptRecord._fields)
            or not all(isinstance(part, str) for part in (item[0], item[2], item[3]))
            or type(item[1]) is not int
        ):
            raise ValueError("kept holds an item that is not [record_id, version, time, sha256]")
        record = KeptRecord(*item)
        kept[(record.record_id, record.version)] = record
    if encode_kept(list(kept.values())) != text:
        raise ValueError("kept is not in canonical form")
    return kept


def erasure_entry(
    *,
    time: datetime,
    trace_id: str,
    node_id: str,
    batch_id: str,
    category: str,
    batch_sha256: str,
    records_deleted: int,
    kept_text: str,
    kept_count: int,
) -> Entry:
    """The ``retention.erased`` entry of one batch: digests and counts, no field value.
    ``records_deleted`` counts the batch's signed records past the retention period."""
    return Entry(
        action=Action.RETENTION_ERASED,
        time=time,
        actor=ERASER,
        actor_kind=ERASER,
        outcome=Outcome.OK,
        trace_id=trace_id,
        subject=batch_id,
        details={
            "node_id": node_id,
            "category": category,
            "batch_sha256": batch_sha256,
            "records_deleted": records_deleted,
            "kept": kept_count,
            "kept_sha256": text_sha256(kept_text),
        },
    )


def erasure_mismatch(
    body: bytes, node_id: str, batch_id: str, category: str, canonical_sha256: str, kept_text: str
) -> str | None:
    """What of a batch's erasure (row ``canonical_sha256`` and ``kept``) the body of its
    ``retention.erased`` entry does not say, or None if it says all of it."""
    try:
        entry = json.loads(body)
        details = entry["details"]
        kept = decode_kept(kept_text)
    except (ValueError, KeyError, TypeError):
        return "entry or kept list unreadable"
    if not isinstance(details, dict):
        return "details"
    expected = {
        "action": (entry.get("action"), Action.RETENTION_ERASED.value),
        "actor": (entry.get("actor"), ERASER),
        "subject": (entry.get("subject"), batch_id),
        "node_id": (details.get("node_id"), node_id),
        "category": (details.get("category"), category),
        "batch_sha256": (details.get("batch_sha256"), canonical_sha256),
        "kept_sha256": (details.get("kept_sha256"), text_sha256(kept_text)),
        "kept": (details.get("kept"), len(kept)),
    }
    for name, (got, want) in expected.items():
        if got != want:
            return name
    return None
