"""Verify an exported ledger the way a third party would: RFC 9162 and a signed note only.

An export directory holds three files (``xinlian audit export``):

``entries.jsonl``
    one JSON object per line, in index order, for indices ``0 .. size-1``::

        {"index": 7, "leaf": "<base64 of the entry bytes, or null if pruned>",
         "leaf_hash": "<hex SHA-256(0x00 ‖ entry bytes)>"}

``checkpoint``
    the latest signed checkpoint (C2SP signed note: origin, size, base64 root hash,
    blank line, signature line ``— <name> <base64(key id ‖ Ed25519 signature)>``);

``verifier.key``
    the note verifier key ``<name>+<hex key id>+<base64(0x01 ‖ Ed25519 public key)>``.

Steps, numbered as in the code:

1. parse the verifier key and open the signed checkpoint with it (signature, key id,
   origin = key name);
2. read the entries in order: indices must run 0, 1, 2 … without gaps; for each entry
   with a body, the leaf hash is SHA-256(0x00 ‖ body) and must equal ``leaf_hash`` if
   that is given; a pruned entry (``leaf`` null) contributes its ``leaf_hash``;
3. the entries must number exactly the checkpoint's size, and the RFC 9162 Merkle tree
   hash over their leaf hashes must equal the signed root.

The first bad index is reported. Only ``audit.merkle`` (the RFC 9162 hashing) and
``audit.checkpoint`` (the signed-note format) are used; nothing of the gateway.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path

from audit.checkpoint import NoteVerifier, open_note
from audit.merkle import HASH_SIZE, CompactRange, leaf_hash
from xinlian.errors import XinLianError

ENTRIES_FILE = "entries.jsonl"
CHECKPOINT_FILE = "checkpoint"
VERIFIER_KEY_FILE = "verifier.key"
MAX_LINE_BYTES = 128 * 1024
"""Longest line accepted in entries.jsonl (an entry is at most 64 KiB, base64 ~87 KiB)."""
MAX_CHECKPOINT_BYTES = 16 * 1024
MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class ExportResult:
    ok: bool
    size: int
    root_hash: bytes
    origin: str
    entries: int
    pruned: int
    first_bad_index: int | None = None
    message: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "size": self.size,
            "root_hash": self.root_hash.hex(),
            "origin": self.origin,
            "entries": self.entries,
            "pruned": self.pruned,
            "first_bad_index": self.first_bad_index,
            "message": self.message,
        }


class _Bad(Exception):
    def __init__(self, index: int | None, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


def _read_small(path: Path, limit: int) -> str:
    data = path.read_bytes()
    if len(data) > limit:
        raise _Bad(None, f"{path.name}: {len(data)} bytes, want ≤ {limit}")
    return data.decode("utf-8")


def verify_export(directory: Path) -> ExportResult:
    """Run steps (1)–(3) of the module docstring; never raises on bad input."""
    origin, size, root = "", 0, b""
    count = pruned = 0
    try:
        # (1) verifier key and signed checkpoint
        try:
            verifier = NoteVerifier.from_key_string(
                _read_small(directory / VERIFIER_KEY_FILE, MAX_KEY_BYTES).strip()
            )
            note = _read_small(directory / CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES)
            checkpoint = open_note(note, verifier, origin=verifier.name)
        except (XinLianError, OSError, UnicodeDecodeError) as exc:
            raise _Bad(None, f"checkpoint: {exc}") from None
        origin, size, root = checkpoint.origin, checkpoint.size, checkpoint.root_hash
        # (2) entries in order, leaf hashes
        tree = CompactRange()
        with (directory / ENTRIES_FILE).open("rb") as lines:
            for line in lines:
                if len(line) > MAX_LINE_BYTES:
                    raise _Bad(count, f"entry line {count + 1}: longer than {MAX_LINE_BYTES}")
                if not line.strip():
                    continue
                leaf, was_pruned = _leaf_of(line, count)
                if count >= size:
                    raise _Bad(count, f"entry {count}: beyond the checkpoint size {size}")
                tree.append(leaf)
                pruned += was_pruned
                count += 1
        # (3) exact size and the signed root
        if count != size:
            raise _Bad(count, f"{count} entries, the checkpoint covers {size}")
        if tree.root() != root:
            raise _Bad(None, "the entries do not reproduce the signed root hash")
    except _Bad as bad:
        return ExportResult(False, size, root, origin, count, pruned, bad.index, bad.message)
    except OSError as exc:
        return ExportResult(False, size, root, origin, count, pruned, None, str(exc))
    return ExportResult(True, size, root, origin, count, pruned, None, "ok")


def _leaf_of(line: bytes, expected: int) -> tuple[bytes, bool]:
    """The leaf hash an export line stands for, and whether its body was pruned."""
    try:
        obj = json.loads(line)
    except ValueError:
        raise _Bad(expected, f"entry {expected}: not JSON") from None
    if not isinstance(obj, dict) or obj.get("index") != expected:
        got = obj.get("index") if isinstance(obj, dict) else None
        raise _Bad(expected, f"entry {expected}: index {got!r}, want {expected}")
    given: bytes | None = None
    if obj.get("leaf_hash") is not None:
        try:
            given = bytes.fromhex(str(obj["leaf_hash"]))
        except ValueError:
            raise _Bad(expected, f"entry {expected}: leaf_hash is not hex") from None
        if len(given) != HASH_SIZE:
            raise _Bad(expected, f"entry {expected}: leaf_hash is not {HASH_SIZE} bytes")
    body = obj.get("leaf")
    if body is None:
        if given is None:
            raise _Bad(expected, f"entry {expected}: neither leaf nor leaf_hash")
        return given, True
    try:
        data = base64.b64decode(str(body), validate=True)
    except (binascii.Error, ValueError):
        raise _Bad(expected, f"entry {expected}: leaf is not base64") from None
    computed = leaf_hash(data)
    if given is not None and given != computed:
        raise _Bad(expected, f"entry {expected}: leaf does not hash to leaf_hash")
    return computed, False
