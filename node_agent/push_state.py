"""What a push leaves beside its input: the resume state and the rejects file.

Resume state: ``<FILE>.xinlian-push.json`` lists the acknowledged batch numbers, the
length of the rejects file once their rejects were in it and how many records they
rejected. It is rewritten (temporary file, fsync, rename, fsync of the directory) only
after the gateway's acknowledgement of a batch — which the gateway sends only after the
batch is committed — and after that batch's rejected records reached the rejects file.
A run on the same file, category and batch size skips the batches listed there, and
first cuts the rejects file back to the recorded length: rejects written for a batch
whose acknowledgement was not recorded (a crash in between) are written again when that
batch is re-sent, so each appears once.

Rejects file (JSONL): the original record (``{"input": "<line>"}`` for a line that is
not a JSON object) with ``line`` (its line in the file), ``reason_code`` and
``message`` added.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from node_agent.push_input import InputRecord
from xinlian.durable import fsync_path

STATE_SUFFIX = ".xinlian-push.json"
STATE_VERSION = 1


def state_path_for(path: Path) -> Path:
    return path.with_name(path.name + STATE_SUFFIX)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


@dataclass
class ResumeState:
    path: Path
    file_sha256: str
    category: str
    batch_size: int
    node_id: str
    acked: set[int] = field(default_factory=set)
    rejects_bytes: int | None = None  # rejects file length after the acked batches
    rejected: int = 0  # records rejected in the acked batches

    def matches(self, other: dict[str, Any]) -> bool:
        return (
            other.get("v") == STATE_VERSION
            and other.get("file_sha256") == self.file_sha256
            and other.get("category") == self.category
            and other.get("batch_size") == self.batch_size
            and other.get("node_id") == self.node_id
        )

    def load(self) -> bool:
        """Read the acknowledged batches of an earlier run on the same input; True if any."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not self.matches(data):
                return False
            acked = {int(n) for n in data.get("acked", [])}
        except (OSError, ValueError, TypeError):
            return False  # no state, or not one of ours: start over (the gateway dedups)
        self.acked = acked
        rejects_bytes = data.get("rejects_bytes")
        self.rejects_bytes = rejects_bytes if isinstance(rejects_bytes, int) else None
        rejected = data.get("rejected")
        self.rejected = rejected if isinstance(rejected, int) else 0
        return bool(self.acked)

    def save(self) -> None:
        data = {
            "v": STATE_VERSION,
            "file_sha256": self.file_sha256,
            "category": self.category,
            "batch_size": self.batch_size,
            "node_id": self.node_id,
            "acked": sorted(self.acked),
            "rejects_bytes": self.rejects_bytes,
            "rejected": self.rejected,
        }
        _write_atomic(self.path, json.dumps(data, separators=(",", ":")).encode("utf-8"))


def open_rejects(path: Path, state: ResumeState, resumed: bool) -> IO[str]:
    """The rejects file, for appending. A fresh run starts it empty; a resumed run first
    cuts it back to its length when the last acknowledged batch was recorded (what
    follows belongs to batches that will be sent again)."""
    if not resumed:
        return path.open("w", encoding="utf-8")
    kept = state.rejects_bytes
    if kept is not None and path.exists() and path.stat().st_size > kept:
        os.truncate(path, kept)
    return path.open("a", encoding="utf-8")


def reject_line(item: InputRecord, reason_code: str, message: str) -> str:
    out = dict(item.original)
    out["line"] = item.line
    out["reason_code"] = reason_code
    out["message"] = message
    text = json.dumps(out, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape: keep it escaped
        text = json.dumps(out, separators=(",", ":"))
    return text + "\n"
