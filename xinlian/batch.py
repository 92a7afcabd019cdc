"""Canonical encoding of a pushed batch: what a department agent signs.

    canonical_json({
      "v": 1, "type": "batch",
      "node_id": <pushing node id>, "batch_id": <agent-chosen id>, "category": <category id>,
      "records": [ {"credit_code", "record_id", "version": int,
                    "event_time": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "fields": {name: text}} ... ]
    })

Records keep the order of the batch. The signature (ECDSA P-256 / SHA-256 with the key of
the agent's certificate) covers these bytes exactly; the gateway stores them with the batch,
so ``xinlian audit verify`` can re-check the signature and that every stored record is
one the agent signed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xinlian.signing import canonical_json

BATCH_VERSION = 1


def format_time(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("event_time must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class BatchRecord:
    credit_code: str
    record_id: str
    version: int
    event_time: datetime
    fields: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "credit_code": self.credit_code,
            "record_id": self.record_id,
            "version": self.version,
            "event_time": format_time(self.event_time),
            "fields": dict(self.fields),
        }


def canonical_batch(
    node_id: str, batch_id: str, category: str, records: Sequence[BatchRecord]
) -> bytes:
    return canonical_json(
        {
            "v": BATCH_VERSION,
            "type": "batch",
            "node_id": node_id,
            "batch_id": batch_id,
            "category": category,
            "records": [r.to_json() for r in records],
        }
    )


def decode_batch(data: bytes) -> dict[str, Any]:
    """Parse canonical batch bytes (for verification); raises ValueError if not canonical."""
    obj = json.loads(data.decode("utf-8"))
    if not isinstance(obj, dict) or obj.get("v") != BATCH_VERSION or obj.get("type") != "batch":
        raise ValueError("not a version-1 canonical batch")
    if canonical_json(obj) != data:
        raise ValueError("batch bytes are not canonical")
    return obj


def record_json(
    credit_code: str, record_id: str, version: int, event_time: datetime, fields: Mapping[str, str]
) -> dict[str, Any]:
    """The JSON object of one record as it stands inside a canonical batch."""
    return BatchRecord(credit_code, record_id, version, event_time, fields).to_json()
