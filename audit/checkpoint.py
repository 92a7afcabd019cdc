"""Signed tree heads as C2SP checkpoints in signed notes, with Ed25519. Pure, no I/O.

A checkpoint (c2sp.org/tlog-checkpoint) is a note body of at least three lines::

    <origin>
    <tree size, decimal, no leading zeros>
    <root hash, standard base64>
    [<extension line> ...]

A signed note (c2sp.org/signed-note) is that body, a blank line, and one or more
signature lines ``— <key name> <base64(key ID ‖ signature)>`` (EM DASH, U+2014). For
Ed25519 the key ID is ``SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4]``,
read big-endian, and the signature is Ed25519 over the note body.

Key strings use the golang.org/x/mod/sumdb/note encoding so that Go tooling (and any
tlog witness) can read them::

    verifier key   <name>+<8 hex key ID>+<base64(0x01 ‖ public key)>
    signer key     PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 ‖ 32-byte seed)>

Errors: malformed input raises ``InvalidArgument``; a signature from a known key that
does not verify, or a note with no signature from a known key, raises
``IntegrityViolation``. Messages never contain private key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.merkle import HASH_SIZE
from xinlian.errors import IntegrityViolation, InvalidArgument

MAX_NOTE_BYTES = 64 * 1024
"""Largest signed note accepted by ``verify_note`` / ``open_note``."""

MAX_SIGNATURES = 100
"""Most signature lines accepted in one note (the spec asks to accept at least 16)."""

MAX_KEY_NAME_BYTES = 256
MAX_TREE_SIZE = 2**64 - 1

ALG_ED25519 = 0x01
"""Signature type byte for Ed25519 (c2sp.org/signed-note)."""

_EM_DASH = "\u2014"
_SIG_PREFIX = _EM_DASH + " "
_ED25519_SIG_SIZE = 64
_ED25519_KEY_SIZE = 32
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)", re.ASCII)
_HEX8 = re.compile(r"[0-9a-fA-F]{8}", re.ASCII)


# --------------------------------------------------------------------------- helpers


def _b64decode_strict(text: str) -> bytes:
    """Standard base64 with padding; only the canonical encoding of a value is accepted."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise ValueError("not standard base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _is_valid_key_name(name: str) -> bool:
    return (
        bool(name)
        and len(name.encode("utf-8", "surrogatepass")) <= MAX_KEY_NAME_BYTES
        and "+" not in name
        and not any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)
        and _is_utf8_encodable(name)
    )


def _is_utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_key_name(name: object) -> str:
    if not isinstance(name, str) or not _is_valid_key_name(name):
        raise InvalidArgument.field(
            "key_name", name, "non-empty, ≤ 256 bytes, no whitespace, '+' or control characters"
        )
    return name


def _check_note_text(field: str, text: str) -> None:
    """Signed-note text rules: valid UTF-8, no ASCII control characters except newline."""
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise InvalidArgument.field(field, f"control character U+{ord(ch):04X}", "none")
    if not _is_utf8_encodable(text):
        raise InvalidArgument.field(field, "unpaired surrogate", "valid UTF-8")


def key_id(name: str, public_key: bytes, alg: int = ALG_ED25519) -> int:
    """Note key ID: first 4 bytes (big-endian) of SHA-256(name ‖ 0x0A ‖ alg ‖ key); alg
    0x01 for an Ed25519 note key, 0x04 for a cosignature/v1 key (audit.cosignature)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def raw_public_key(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --------------------------------------------------------------------------- checkpoint


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: ``origin`` names the log, ``size`` leaves, ``root_hash`` their MTH."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (
            not isinstance(self.origin, str)
            or not self.origin
            or "\n" in self.origin
            or len(self.origin.encode("utf-8", "surrogatepass")) > MAX_KEY_NAME_BYTES
        ):
            raise InvalidArgument.field(
                "checkpoint.origin", self.origin, "one non-empty line of ≤ 256 bytes"
            )
        _check_note_text("checkpoint.origin", self.origin)
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or not 0 <= self.size <= MAX_TREE_SIZE
        ):
            raise InvalidArgument.field("checkpoint.size", self.size, "an integer in [0, 2^64)")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise InvalidArgument.field(
                "checkpoint.root_hash", self.root_hash, f"{HASH_SIZE} bytes"
            )
        if not isinstance(self.extensions, tuple):
            raise InvalidArgument.field("checkpoint.extensions", self.extensions, "a tuple")
        for line in self.extensions:
            if not isinstance(line, str) or not line or "\n" in line:
                raise InvalidArgument.field("checkpoint.extensions", line, "non-empty single lines")
            _check_note_text("checkpoint.extensions", line)

    def body(self) -> bytes:
        """The note text: origin, size, base64 root, extension lines, each ending in LF."""
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return ("\n".join(lines) + "\n").encode("utf-8")

    @classmethod
    def parse(cls, body: bytes | str) -> Checkpoint:
        """Parse a checkpoint note body (the signed text, without signature lines)."""
        text = _decode_note(body, "checkpoint")
        _check_note_text("checkpoint", text)
        if not text.endswith("\n"):
            raise InvalidArgument.field("checkpoint", "no final newline", "text ending in LF")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise InvalidArgument.field("checkpoint", f"{len(lines)} lines", "at least 3 lines")
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise InvalidArgument.field(
                "checkpoint.size", size_text, "decimal digits, no leading zeros"
            )
        try:
            root_hash = _b64decode_strict(root_text)
        except ValueError:
            raise InvalidArgument.field(
                "checkpoint.root_hash", root_text, "standard base64"
            ) from None
        if len(size_text) > len(str(MAX_TREE_SIZE)):
            raise InvalidArgument.field("checkpoint.size", size_text, "an integer in [0, 2^64)")
        return cls(origin, int(size_text), root_hash, tuple(extensions))


def _decode_note(data: bytes | str, field: str) -> str:
    if isinstance(data, str):
        if not _is_utf8_encodable(data):
            raise InvalidArgument.field(field, "unpaired surrogate", "valid UTF-8")
        return data
    if not isinstance(data, bytes | bytearray):
        raise InvalidArgument.field(field, type(data).__name__, "bytes or str")
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument.field(field, "invalid UTF-8", "valid UTF-8") from None


# --------------------------------------------------------------------------- keys


class NoteVerifier:
    """An Ed25519 note verifier: key name, key ID and public key."""

    __slots__ = ("_key_id", "_name", "_public_key", "_raw")

    def __init__(self, name: str, public_key: ed25519.Ed25519PublicKey) -> None:
        if not isinstance(public_key, ed25519.Ed25519PublicKey):
            raise InvalidArgument.field("public_key", type(public_key).__name__, "Ed25519")
        self._name = _check_key_name(name)
        self._public_key = public_key
        self._raw = raw_public_key(public_key)
        self._key_id = key_id(self._name, self._raw)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._key_id

    @property
    def public_key(self) -> ed25519.Ed25519PublicKey:
        return self._public_key

    @classmethod
    def from_key_string(cls, key: str) -> NoteVerifier:
        """Parse ``<name>+<hex8>+<base64(0x01 ‖ public key)>``; the key ID must match."""
        if not isinstance(key, str) or len(key) > MAX_KEY_NAME_BYTES + 64:
            raise InvalidArgument.field("verifier_key", key, "<name>+<hex8>+<base64 key>")
        parts = key.split("+", 2)
        if len(parts) != 3 or not _HEX8.fullmatch(parts[1]):
            raise InvalidArgument.field("verifier_key", key, "<name>+<hex8>+<base64 key>")
        name, hex_id, b64 = parts
        _check_key_name(name)
        try:
            raw = _b64decode_strict(b64)
        except ValueError:
            raise InvalidArgument.field("verifier_key", key, "standard base64 key data") from None
        if len(raw) != 1 + _ED25519_KEY_SIZE or raw[0] != ALG_ED25519:
            raise InvalidArgument.field(
                "verifier_key", key, "key data 0x01 followed by a 32-byte Ed25519 key"
            )
        verifier = cls(name, ed25519.Ed25519PublicKey.from_public_bytes(raw[1:]))
        if verifier.key_id != int(hex_id, 16):
            raise InvalidArgument.field(
                "verifier_key", key, f"key ID {verifier.key_id:08x} derived from name and key"
            )
        return verifier

    def verifier_key(self) -> str:
        return f"{self._name}+{self._key_id:08x}+{_b64encode(bytes([ALG_ED25519]) + self._raw)}"

    def verify(self, body: bytes, signature: bytes) -> bool:
        """True if ``signature`` (64 bytes, without key ID) is this key's over ``body``."""
        if len(signature) != _ED25519_SIG_SIZE:
            return False
        try:
            self._public_key.verify(signature, body)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoteVerifier):
            return NotImplemented
        return self._name == other._name and self._raw == other._raw

    def __hash__(self) -> int:
        return hash((self._name, self._raw))

    def __repr__(self) -> str:
        return f"NoteVerifier({self.verifier_key()!r})"


class NoteSigner:
    """An Ed25519 note signer. Its repr never shows the private key."""

    __slots__ = ("_private_key", "_verifier")

    def __init__(self, name: str, private_key: ed25519.Ed25519PrivateKey) -> None:
        if not isinstance(private_key, ed25519.Ed25519PrivateKey):
            raise InvalidArgument.field("private_key", type(private_key).__name__, "Ed25519")
        self._private_key = private_key
        self._verifier = NoteVerifier(name, private_key.public_key())

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_key_string(cls, key: str) -> NoteSigner:
        """Parse ``PRIVATE+KEY+<name>+<hex8>+<base64(0x01 ‖ seed)>``; the key ID must match.

        Error messages describe the shape only, never the key string.
        """
        want = "PRIVATE+KEY+<name>+<hex8>+<base64(0x01 ‖ 32-byte seed)>"
        if not isinstance(key, str) or len(key) > MAX_KEY_NAME_BYTES + 80:
            raise InvalidArgument.field("signer_key", "<redacted>", want)
        parts = key.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _HEX8.fullmatch(parts[3]):
            raise InvalidArgument.field("signer_key", "<redacted>", want)
        name, hex_id, b64 = parts[2], parts[3], parts[4]
        _check_key_name(name)
        try:
            raw = _b64decode_strict(b64)
        except ValueError:
            raise InvalidArgument.field("signer_key", "<redacted>", want) from None
        if len(raw) != 1 + _ED25519_KEY_SIZE or raw[0] != ALG_ED25519:
            raise InvalidArgument.field("signer_key", "<redacted>", want)
        signer = cls(name, ed25519.Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.key_id != int(hex_id, 16):
            raise InvalidArgument.field("signer_key", "<redacted>", "a key ID matching the key")
        return signer

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    def verifier(self) -> NoteVerifier:
        return self._verifier

    def verifier_key(self) -> str:
        """The public verifier key string, ``<name>+<hex8>+<base64(0x01 ‖ key)>``."""
        return self._verifier.verifier_key()

    def signer_key(self) -> str:
        """The secret signer key string. Handle as a secret: never log it."""
        seed = self._private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return (
            f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{_b64encode(bytes([ALG_ED25519]) + seed)}"
        )

    def signature_line(self, body: bytes) -> str:
        """``— <name> <base64(key ID ‖ signature)>\\n`` over ``body``."""
        sig = self._private_key.sign(body)
        return f"{_SIG_PREFIX}{self.name} {_b64encode(struct.pack('>I', self.key_id) + sig)}\n"

    def sign_note(self, body: bytes) -> str:
        """The signed note: ``body``, a blank line, and this key's signature line."""
        text = _decode_note(body, "note")
        _check_note_text("note", text)
        if not text.endswith("\n"):
            raise InvalidArgument.field("note", "no final newline", "text ending in LF")
        return text + "\n" + self.signature_line(text.encode("utf-8"))

    def sign_checkpoint(self, checkpoint: Checkpoint) -> str:
        return self.sign_note(checkpoint.body())

    def sign_bytes(self, message: bytes) -> bytes:
        """Ed25519 over ``message`` with this key, for a format whose message is domain
        separated from a note body (``audit.cosignature``: ``cosignature/v1`` first)."""
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id:08x})"


# --------------------------------------------------------------------------- opening


@dataclass(frozen=True)
class NoteSignature:
    """One parsed signature line: key name, 32-bit key ID, and the rest of the decoded
    base64 (the signature, which for a cosignature starts with a timestamp)."""

    name: str
    key_id: int
    signature: bytes


def split_note(text: str | bytes) -> tuple[bytes, list[NoteSignature]]:
    """A signed note's body (final newline included) and parsed signature lines, none
    verified. Steps, numbered as in the code: (1) size ≤ MAX_NOTE_BYTES; (2) valid
    UTF-8 without control characters other than LF; (3) split at the last blank line
    into body and a non-empty signature block ending in LF; (4) every signature line is
    well formed, at most MAX_SIGNATURES."""
    # (1) Size limit, before any other work (a str is at most 4 bytes per character).
    if len(text) > MAX_NOTE_BYTES:
        raise InvalidArgument.field("note", f"{len(text)} units", f"≤ {MAX_NOTE_BYTES} bytes")
    # (2) UTF-8, no control characters except newline.
    decoded = _decode_note(text, "note")
    size = len(decoded.encode("utf-8"))
    if size > MAX_NOTE_BYTES:
        raise InvalidArgument.field("note", f"{size} bytes", f"≤ {MAX_NOTE_BYTES} bytes")
    _check_note_text("note", decoded)
    # (3) Body, blank line, signature block ending in LF.
    split = decoded.rfind("\n\n")
    if split < 0:
        raise InvalidArgument.field("note", "no blank line", "body, blank line, signatures")
    body, block = decoded[: split + 1], decoded[split + 2 :]
    if not block or not block.endswith("\n"):
        raise InvalidArgument.field(
            "note", "signature block", "one or more lines, each ending in LF"
        )
    lines = block[:-1].split("\n")
    # (4) Parse every signature line before verifying any.
    if len(lines) > MAX_SIGNATURES:
        raise InvalidArgument.field(
            "note", f"{len(lines)} signatures", f"≤ {MAX_SIGNATURES} signatures"
        )
    parsed: list[NoteSignature] = []
    for i, line in enumerate(lines):
        name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not line.startswith(_SIG_PREFIX) or not sep or not _is_valid_key_name(name):
            raise InvalidArgument.field(
                f"note.signatures[{i}]", line, "'— <key name> <base64 signature>'"
            )
        try:
            raw = _b64decode_strict(b64)
        except ValueError:
            raise InvalidArgument.field(
                f"note.signatures[{i}]", line, "standard base64 signature"
            ) from None
        if len(raw) < 5:
            raise InvalidArgument.field(
                f"note.signatures[{i}]", f"{len(raw)} bytes", "4-byte key ID and a signature"
            )
        parsed.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return body.encode("utf-8"), parsed


def verify_note(text: str | bytes, verifiers: NoteVerifier | Iterable[NoteVerifier]) -> bytes:
    """Check a signed note and return its body (the signed text, final newline included).

    Steps: (1)-(4) ``split_note``; (5) every line whose (name, key ID) is a known key
    must verify, lines from unknown keys (cosignatures among them) are ignored; (6) at
    least one known key must have signed.
    """
    known = [verifiers] if isinstance(verifiers, NoteVerifier) else list(verifiers)
    if not all(isinstance(v, NoteVerifier) for v in known):
        raise TypeError("verifiers must be NoteVerifier objects")
    by_id = {(v.name, v.key_id): v for v in known}
    body_bytes, parsed = split_note(text)

    # (5) Verify the lines from known keys; ignore unknown ones.
    verified = 0
    for line in parsed:
        verifier = by_id.get((line.name, line.key_id))
        if verifier is None:
            continue
        if not verifier.verify(body_bytes, line.signature):
            raise IntegrityViolation(
                f"note: invalid signature for key {line.name}+{line.key_id:08x}",
                reason="BAD_CHECKPOINT_SIGNATURE",
            )
        verified += 1

    # (6) At least one known key must have signed.
    if verified == 0:
        raise IntegrityViolation(
            "note: no signature from a known key", reason="UNVERIFIED_CHECKPOINT"
        )
    return body_bytes


def open_note(
    text: str | bytes,
    verifier: NoteVerifier | Iterable[NoteVerifier],
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint note (see ``verify_note``) and parse its body.

    With ``origin``, a checkpoint from any other log is refused (``IntegrityViolation``).
    """
    checkpoint = Checkpoint.parse(verify_note(text, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise IntegrityViolation(
            f"checkpoint.origin: got {checkpoint.origin!r}, want {origin!r}",
            reason="WRONG_CHECKPOINT_ORIGIN",
        )
    return checkpoint
