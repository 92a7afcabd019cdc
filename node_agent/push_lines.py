"""The push input as units of one record each: JSONL lines or CSV rows, read as bytes.

The file is UTF-8, with or without a byte order mark. Blank lines — also lines of only
Unicode white space such as U+3000 — and CSV rows of only blank cells are not records.
A line that is not UTF-8, or longer than ``MAX_LINE_BYTES`` (skipped, never held whole),
comes with its error, and ``node_agent.push_input`` rejects its record as MALFORMED_INPUT.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Longer lines are rejected unread: a valid record (≤ 64 fields of ≤ 4096 characters)
# is far shorter even with every character escaped.
MAX_LINE_BYTES = 64 * 1024 * 1024
READ_CHUNK = 1024 * 1024
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based physical line number
    text: str  # the decoded line; "" for a line over MAX_LINE_BYTES
    error: str | None  # why the line cannot be read (not UTF-8, too long), else None
    not_utf8: bool = False


@dataclass(frozen=True)
class Unit:
    """One record's worth of input: a JSONL line or a CSV row (never a blank one)."""

    line: int  # its first physical line
    text: str  # JSONL: the line
    cells: list[str] | None  # CSV: the row's cells
    error: str | None  # the input cannot be read: rejected as MALFORMED_INPUT
    not_utf8: bool = False


def _read_lines(fh: IO[bytes], digest: Any = None) -> Iterator[_Line]:
    """The file's lines, decoded as UTF-8 (a BOM at the start is dropped). A line that
    is not UTF-8 comes with its error (and its text decoded with ``surrogateescape``);
    a line over MAX_LINE_BYTES with its error and no text (skipped, never held whole)."""
    number = 0
    while True:
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if digest is not None:
            digest.update(raw)
        if len(raw) > MAX_LINE_BYTES:
            size = len(raw)
            while not raw.endswith(b"\n"):
                raw = fh.readline(READ_CHUNK)
                if not raw:
                    break
                size += len(raw)
                if digest is not None:
                    digest.update(raw)
            yield _Line(
                number,
                "",
                f"line {number}: got {size} bytes, want at most {MAX_LINE_BYTES} per line",
            )
            continue
        if number == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _Line(
                number,
                raw.decode("utf-8", "surrogateescape"),
                f"line {number}: got byte 0x{raw[exc.start]:02x} at column {exc.start + 1}, "
                "want UTF-8 text (convert the file, e.g. iconv -f GB18030 -t UTF-8)",
                not_utf8=True,
            )
        else:
            yield _Line(number, text, None)


def _jsonl_units(lines: Iterator[_Line]) -> Iterator[Unit]:
    for line in lines:
        if line.error is None and not line.text.strip():
            continue  # blank, also only Unicode white space (U+3000): not a record
        yield Unit(line.number, line.text, None, line.error, line.not_utf8)


def _csv_units(lines: Iterator[_Line]) -> Iterator[Unit]:
    """The CSV rows, the header first, each with its first line and the first error
    among its lines; rows of only blank cells are skipped."""
    current = 0  # the last line handed to the CSV reader
    errors: dict[int, _Line] = {}

    def texts() -> Iterator[str]:
        nonlocal current
        for line in lines:
            current = line.number
            if line.error is not None:
                errors[line.number] = line
            yield line.text if line.text else "\n"

    reader = csv.reader(texts())
    end = 0
    while True:
        problem: str | None = None
        cells: list[str] | None = None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = f"got {exc}, want a CSV row"
        start, end = end + 1, current
        bad = [errors.pop(n) for n in range(start, end + 1) if n in errors]
        if bad:  # shown in the rejects file as the line that is wrong
            yield Unit(start, bad[0].text, None, bad[0].error, bad[0].not_utf8)
        elif problem is not None:
            yield Unit(start, "", None, f"line {start}: {problem}")
        elif cells is not None and any(cell.strip() for cell in cells):
            yield Unit(start, "", cells, None)


def read_units(fh: IO[bytes], is_csv: bool, digest: Any = None) -> Iterator[Unit]:
    """The file's units in order (a CSV file's header first); ``digest``, if given, is
    updated with every byte read."""
    lines = _read_lines(fh, digest)
    return _csv_units(lines) if is_csv else _jsonl_units(lines)


def is_csv_path(path: Path) -> bool:
    return path.suffix.lower() == ".csv"
