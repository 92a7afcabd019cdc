"""Write an export directory (the files :mod:`audit.verify_export` reads): entries.jsonl,
one line an entry in index order, then the signed checkpoint and the verifier key.

The operator's export (from the database) and the officer's (over gRPC) both write
through :class:`ExportWriter`.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TextIO

from audit.verify_export import CHECKPOINT_FILE, ENTRIES_FILE, VERIFIER_KEY_FILE


class ExportOrderError(ValueError):
    """An entry arrived out of index order (the export would not verify)."""


class ExportWriter:
    """Entries ``0, 1, 2 …`` to ``out/entries.jsonl``; :meth:`finish` adds the note and
    the key. ``count`` is the number of entries written."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.count = 0
        out.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = (out / ENTRIES_FILE).open("w", encoding="utf-8")

    def write(self, index: int, body: bytes | None, leaf_hash: bytes) -> None:
        if index != self.count:
            raise ExportOrderError(f"export: got index {index}, want {self.count}")
        line = {
            "index": index,
            "leaf": base64.b64encode(body).decode("ascii") if body else None,
            "leaf_hash": leaf_hash.hex(),
        }
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.count += 1

    def finish(self, checkpoint: str, verifier_key: str) -> None:
        self._file.close()
        (self.out / CHECKPOINT_FILE).write_text(checkpoint, encoding="utf-8")
        (self.out / VERIFIER_KEY_FILE).write_text(verifier_key.strip() + "\n", encoding="utf-8")
