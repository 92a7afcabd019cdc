"""A drop directory: JSONL or CSV files of source rows, written by another system.

Each ``*.jsonl`` / ``*.csv`` file (UTF-8, a byte order mark allowed) is one page, read in
name order. Writers must create a file under another name (``.tmp``, ``.part``, or a
leading dot are skipped) and rename it when complete. Once every row of a file is
acknowledged, the watermark — the file's name and SHA-256 — is saved, then the file is
moved to ``done_dir`` (``after = "move"``, the default) or renamed ``<name>.done``
(``after = "mark"``). A crash between the two leaves the file in place with its
watermark saved: the next run recognises it and only moves it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

from node_agent.sync.config import SourceConfig, SyncConfigError
from node_agent.sync.sources.base import Page, SourceError

SUFFIXES = (".jsonl", ".csv")
SKIPPED_SUFFIXES = (".tmp", ".part", ".done")
DONE_SUFFIX = ".done"
MALFORMED_COLUMN = "_malformed"  # a line that is not a JSON object: rejected by the mapping


class DirectorySource:
    key_column = ""

    def __init__(self, config: SourceConfig) -> None:
        self.root = Path(config.text("path"))
        self.after = config.optional("after", "move")
        if self.after not in ("move", "mark"):
            raise SyncConfigError(f"source.after: got {self.after!r}, want move or mark")
        self.done_dir = Path(config.optional("done_dir") or self.root / "done")
        if not self.root.is_dir():
            raise SyncConfigError(f"source.path: {self.root} is not a directory")
        # files handed out by this process and still here: not acknowledged (a dry run,
        # or a push that failed): never moved, not read twice in one run
        self._handed: set[str] = set()

    def close(self) -> None:
        pass

    def check(self, columns: set[str]) -> None:
        pass  # each row is checked by the mapping (a missing column rejects the row)

    def _waiting(self) -> list[Path]:
        return sorted(
            p
            for p in self.root.iterdir()
            if p.is_file()
            and p.suffix.lower() in SUFFIXES
            and not p.name.startswith(".")
            and not p.name.lower().endswith(SKIPPED_SUFFIXES)
        )

    def _finish(self, path: Path) -> None:
        if self.after == "mark":
            os.replace(path, path.with_name(path.name + DONE_SUFFIX))
            return
        self.done_dir.mkdir(parents=True, exist_ok=True)
        os.replace(path, self.done_dir / path.name)

    def read(self, watermark: Any, limit: int) -> Page:
        for path in self._waiting():
            if path.name in self._handed:
                continue
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
            mark = {"file": path.name, "sha256": hashlib.sha256(data).hexdigest()}
            if watermark == mark:  # acknowledged before a crash, not yet moved
                self._finish(path)
                continue
            rows = _rows(path, data)
            self._handed.add(path.name)
            return Page(
                rows,
                mark,
                more=True,
                finish=lambda p=path: self._finish(p),  # type: ignore[misc]
                keys=[None] * len(rows),
            )
        return Page([], watermark, more=False)

    def pending(self, watermark: Any) -> int | None:
        return len(self._waiting())

    def reread(self, keys: list[Any]) -> list[dict[str, Any]]:
        raise SyncConfigError(
            "resync re-reads rows by id from an sql source; a directory source "
            "re-sends a fixed record when its file is dropped again"
        )


def _rows(path: Path, data: bytes) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: byte {exc.start}: not UTF-8 text") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        return [
            {k: v for k, v in row.items() if k is not None}
            for row in reader
            if any((v or "").strip() for v in row.values() if isinstance(v, str))
        ]
    rows: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        rows.append(obj if isinstance(obj, dict) else {MALFORMED_COLUMN: line[:200]})
    return rows
