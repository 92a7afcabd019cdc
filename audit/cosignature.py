"""Witness cosignatures (C2SP tlog-cosignature, Ed25519 ``cosignature/v1``) and the
evidence of a split view. Pure, no I/O.

A cosignature is one more signature line on a log's signed checkpoint, by a *witness*
that checked the checkpoint is consistent with the last one it cosigned::

    — <witness name> base64(key ID ‖ timestamp ‖ signature)

* key ID: ``SHA-256(name ‖ 0x0A ‖ 0x04 ‖ 32-byte Ed25519 public key)[:4]``, big-endian
  (signature type 0x04, so it never equals the key's plain note key ID, type 0x01);
* timestamp: the POSIX time of cosigning, u64 big-endian, at most 2^63 - 1;
* signature: Ed25519 over ``cosignature/v1\\n`` ``time <timestamp>\\n`` followed by the
  whole checkpoint note body (extension lines included, signature lines not).

Verifier keys are ``<name>+<hex8>+<base64(0x04 ‖ key)>``. A gateway witnesses with its
ledger key (name and key as in its ledger verifier key, which the federation directory
lists): ``CosignatureVerifier.from_key_string`` also takes that ``0x01`` key and derives
the cosignature verifier from it, as transparency-dev's ``VKeyToCosignatureV1`` does. The
two message formats cannot collide: a checkpoint's second line is a decimal size, a
cosigned message's is ``time …``.

A *split view* is two checkpoints that the same log key signed with the same origin and
tree size and different roots: the log showed two different trees. ``SplitView`` holds
both signed notes, and ``SplitView.verify`` lets anyone re-check the evidence with the
log's verifier key alone.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.checkpoint import (
    ALG_ED25519,
    Checkpoint,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    key_id,
    open_note,
    raw_public_key,
    split_note,
)
from xinlian.errors import IntegrityViolation, InvalidArgument

ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte of an Ed25519 cosignature/v1 key (key ID and verifier key)."""
HEADER = b"cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
MAX_FUTURE_SKEW_S = 300
"""A cosignature stamped further in the future than this is refused (clock skew)."""

_TIMESTAMP_SIZE = 8
_SIGNATURE_SIZE = 64
_KEY_SIZE = 32
_EM_DASH = "\u2014"


def cosignature_key_id(name: str, public_key: bytes) -> int:
    """SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[:4], big-endian."""
    return key_id(name, public_key, ALG_COSIGNATURE_V1)


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    """The bytes a cosignature signs: header line, time line, the checkpoint body."""
    _check_timestamp(timestamp)
    return HEADER + b"time %d\n" % timestamp + body


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise InvalidArgument.field("cosignature.timestamp", timestamp, "an integer")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InvalidArgument.field("cosignature.timestamp", timestamp, "0..2^63-1")


@dataclass(frozen=True)
class Cosignature:
    """One cosignature: the witness's key name and key ID, when, and the signature."""

    name: str
    key_id: int
    timestamp: int
    signature: bytes

    def __post_init__(self) -> None:
        _check_timestamp(self.timestamp)
        if len(self.signature) != _SIGNATURE_SIZE:
            raise InvalidArgument.field(
                "cosignature.signature", f"{len(self.signature)} bytes", "64 bytes"
            )

    def line(self) -> str:
        """The note signature line, ending in LF."""
        raw = struct.pack(">IQ", self.key_id, self.timestamp) + self.signature
        return f"{_EM_DASH} {self.name} {base64.b64encode(raw).decode('ascii')}\n"

    @classmethod
    def from_note_signature(cls, sig: NoteSignature) -> Cosignature:
        """A parsed note signature line read as a cosignature (72 bytes after the key ID)."""
        if len(sig.signature) != _TIMESTAMP_SIZE + _SIGNATURE_SIZE:
            raise InvalidArgument.field(
                "cosignature", f"{len(sig.signature)} bytes", "8-byte time and 64-byte signature"
            )
        (timestamp,) = struct.unpack(">Q", sig.signature[:_TIMESTAMP_SIZE])
        if timestamp > MAX_TIMESTAMP:
            raise InvalidArgument.field("cosignature.timestamp", timestamp, "0..2^63-1")
        return cls(sig.name, sig.key_id, timestamp, sig.signature[_TIMESTAMP_SIZE:])

    @classmethod
    def parse_line(cls, line: str) -> Cosignature:
        """One signature line (``— name base64``, with or without its final LF)."""
        text = line if line.endswith("\n") else line + "\n"
        if text.count("\n") != 1:
            raise InvalidArgument.field("cosignature", "several lines", "one signature line")
        # a minimal note around the line lets split_note do the parsing and limits
        _, sigs = split_note("x\n\n" + text)
        return cls.from_note_signature(sigs[0])


class CosignatureVerifier:
    """A witness's Ed25519 cosignature/v1 key: name, key ID (type 0x04), public key."""

    __slots__ = ("_key", "_key_id", "_name", "_raw")

    def __init__(self, name: str, public_key: ed25519.Ed25519PublicKey) -> None:
        # the key name rules are the note's: NoteVerifier checks them
        self._name = NoteVerifier(name, public_key).name
        self._key = public_key
        self._raw = raw_public_key(public_key)
        self._key_id = cosignature_key_id(self._name, self._raw)

    @classmethod
    def from_note_verifier(cls, verifier: NoteVerifier) -> CosignatureVerifier:
        """The cosignature verifier of the same name and key as a note verifier."""
        return cls(verifier.name, verifier.public_key)

    @classmethod
    def from_key_string(cls, key: str) -> CosignatureVerifier:
        """``<name>+<hex8>+<base64(0x04 ‖ key)>``, or a note verifier key (``0x01``) whose
        key then cosigns under the same name. The key ID must match the key."""
        want = "<name>+<hex8>+<base64(0x04 or 0x01 ‖ 32-byte key)>"
        parts = key.split("+", 2) if isinstance(key, str) else []
        if len(parts) != 3:
            raise InvalidArgument.field("witness_key", key, want)
        name, hex_id, b64 = parts
        try:
            raw = base64.b64decode(b64.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error, ValueError):
            raise InvalidArgument.field("witness_key", key, want) from None
        if len(raw) == 1 + _KEY_SIZE and raw[0] == ALG_ED25519:
            return cls.from_note_verifier(NoteVerifier.from_key_string(key))
        if len(raw) != 1 + _KEY_SIZE or raw[0] != ALG_COSIGNATURE_V1:
            raise InvalidArgument.field("witness_key", key, want)
        verifier = cls(name, ed25519.Ed25519PublicKey.from_public_bytes(raw[1:]))
        if len(hex_id) != 8 or f"{verifier.key_id:08x}" != hex_id.lower():
            raise InvalidArgument.field(
                "witness_key", key, f"key ID {verifier.key_id:08x} derived from name and key"
            )
        return verifier

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._key_id

    def verifier_key(self) -> str:
        b64 = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self._raw).decode("ascii")
        return f"{self._name}+{self._key_id:08x}+{b64}"

    def matches(self, cosignature: Cosignature) -> bool:
        return cosignature.name == self._name and cosignature.key_id == self._key_id

    def verify(self, body: bytes, cosignature: Cosignature, *, now: int | None = None) -> bool:
        """True if ``cosignature`` is this witness's over the checkpoint ``body``; with
        ``now`` (POSIX seconds), one stamped more than MAX_FUTURE_SKEW_S ahead is false."""
        if not self.matches(cosignature):
            return False
        if now is not None and cosignature.timestamp > now + MAX_FUTURE_SKEW_S:
            return False
        try:
            self._key.verify(cosignature.signature, cosigned_message(body, cosignature.timestamp))
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"CosignatureVerifier({self.verifier_key()!r})"


class Cosigner:
    """Cosigns checkpoints with a gateway's ledger key (``NoteSigner``)."""

    def __init__(self, signer: NoteSigner) -> None:
        self._signer = signer
        self._verifier = CosignatureVerifier.from_note_verifier(signer.verifier())

    @property
    def name(self) -> str:
        return self._verifier.name

    def verifier(self) -> CosignatureVerifier:
        return self._verifier

    def cosign(self, body: bytes, timestamp: int) -> Cosignature:
        """The cosignature over a checkpoint note ``body`` at ``timestamp``."""
        Checkpoint.parse(body)  # only checkpoints are cosigned
        signature = self._signer.sign_bytes(cosigned_message(body, timestamp))
        return Cosignature(self.name, self._verifier.key_id, timestamp, signature)

    def __repr__(self) -> str:
        return f"Cosigner(name={self.name!r})"


def with_cosignatures(note: str, cosignatures: Iterable[Cosignature]) -> str:
    """``note`` with the cosignature lines it does not carry yet appended."""
    lines = [c.line() for c in cosignatures]
    present = set(note.splitlines(keepends=True))
    return note + "".join(line for line in dict.fromkeys(lines) if line not in present)


def verified_cosignatures(
    note: str, witnesses: Iterable[CosignatureVerifier], *, now: int | None = None
) -> list[Cosignature]:
    """The cosignatures on ``note`` from known ``witnesses``. A line with a known
    witness's name and key ID that does not verify raises ``IntegrityViolation``; lines of
    other keys (the log's own signature among them) are ignored. The log's own signature
    is not checked here (``open_note`` does that)."""
    by_id = {(w.name, w.key_id): w for w in witnesses}
    body, sigs = split_note(note)
    found: list[Cosignature] = []
    for sig in sigs:
        witness = by_id.get((sig.name, sig.key_id))
        if witness is None:
            continue
        cosignature = Cosignature.from_note_signature(sig)
        if not witness.verify(body, cosignature, now=now):
            raise IntegrityViolation(
                f"note: invalid cosignature of witness {sig.name}+{sig.key_id:08x}",
                reason="BAD_COSIGNATURE",
            )
        found.append(cosignature)
    return found


# --------------------------------------------------------------------------- split view


@dataclass(frozen=True)
class SignedView:
    """A signed checkpoint as one source showed it: the note, and where it came from
    (``peer gw-b``, ``witness gw-c``, …)."""

    note: str
    source: str

    def open(self, log: NoteVerifier) -> Checkpoint:
        return open_note(self.note, log)


@dataclass(frozen=True)
class SplitView:
    """Two checkpoints the log signed with the same origin and size and different roots."""

    origin: str
    tree_size: int
    first: SignedView
    second: SignedView

    @classmethod
    def between(cls, log: NoteVerifier, first: SignedView, second: SignedView) -> SplitView | None:
        """The split view ``first`` and ``second`` show, or None if they do not (another
        origin or size, or the same root). Both notes must carry the log's signature."""
        a, b = first.open(log), second.open(log)
        if a.origin != b.origin or a.size != b.size or a.root_hash == b.root_hash:
            return None
        return cls(a.origin, a.size, first, second)

    def verify(self, log: NoteVerifier) -> None:
        """Re-check the evidence with the log's verifier key alone: both notes signed by
        it, same origin and size, different roots. Raises ``IntegrityViolation`` if not."""
        try:
            found = SplitView.between(log, self.first, self.second)
        except (IntegrityViolation, InvalidArgument) as exc:
            raise IntegrityViolation(f"split view evidence: {exc}", reason="BAD_EVIDENCE") from None
        if found is None or (found.origin, found.tree_size) != (self.origin, self.tree_size):
            raise IntegrityViolation(
                "split view evidence: the notes do not show two trees of one size",
                reason="BAD_EVIDENCE",
            )

    def roots(self, log: NoteVerifier) -> tuple[bytes, bytes]:
        return self.first.open(log).root_hash, self.second.open(log).root_hash

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "first": {"source": self.first.source, "note": self.first.note},
            "second": {"source": self.second.source, "note": self.second.note},
        }
