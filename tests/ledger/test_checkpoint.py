"""audit.checkpoint: C2SP checkpoints in Ed25519 signed notes.

Known-answer vectors are from golang.org/x/mod/sumdb/note (note_test.go): the
PeterNeumann and EnochRoot keys and their signatures over a fixed text.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.checkpoint import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    key_id,
    open_note,
    verify_note,
)
from audit.merkle import EMPTY_ROOT, leaf_hash
from xinlian.errors import IntegrityViolation, InvalidArgument

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
ENOCH_B64 = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
PETER_SIG = f"— PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"— EnochRoot {ENOCH_B64}\n"

ORIGIN = "xinlian.example/gateway/ledger"
ROOT = leaf_hash(b"some tree")


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner(ORIGIN, ed25519.Ed25519PrivateKey.generate())


# --------------------------------------------------------------------------- known answers


def test_go_signer_key_derives_go_verifier_key() -> None:
    signer = NoteSigner.from_key_string(PETER_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_id == 0xC74F20A3
    assert signer.verifier_key() == PETER_VKEY
    assert signer.signer_key() == PETER_SKEY


def test_key_id_is_sha256_of_name_newline_alg_key() -> None:
    raw = base64.b64decode(PETER_VKEY.split("+", 2)[2])
    assert raw[0] == 0x01
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + raw[1:]).digest()
    assert key_id("PeterNeumann", raw[1:]) == int.from_bytes(digest[:4], "big") == 0xC74F20A3
    enoch = NoteVerifier.from_key_string(ENOCH_VKEY)
    assert enoch.key_id == 0xAF0CFE78
    assert enoch.verifier_key() == ENOCH_VKEY


def test_signature_matches_go_vector() -> None:
    # Ed25519 is deterministic: our note must equal the one Go's note.Sign produced.
    signer = NoteSigner.from_key_string(PETER_SKEY)
    assert signer.sign_note(GO_TEXT.encode()) == GO_TEXT + "\n" + PETER_SIG


def test_go_signed_note_opens() -> None:
    peter = NoteVerifier.from_key_string(PETER_VKEY)
    enoch = NoteVerifier.from_key_string(ENOCH_VKEY)
    both = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert verify_note(both, peter) == GO_TEXT.encode()
    assert verify_note(both, [enoch]) == GO_TEXT.encode()
    assert verify_note(both.encode(), [peter, enoch]) == GO_TEXT.encode()


# --------------------------------------------------------------------------- round trip


def test_checkpoint_body_format() -> None:
    cp = Checkpoint(ORIGIN, 20852163, ROOT)
    assert cp.body() == (f"{ORIGIN}\n20852163\n{base64.b64encode(ROOT).decode()}\n".encode())
    assert Checkpoint.parse(cp.body()) == cp
    empty = Checkpoint(ORIGIN, 0, EMPTY_ROOT)
    assert empty.body().split(b"\n")[1] == b"0"
    assert Checkpoint.parse(empty.body()) == empty


def test_checkpoint_with_extension_lines_round_trips() -> None:
    cp = Checkpoint(ORIGIN, 5, ROOT, ("ext one", "— two"))
    assert Checkpoint.parse(cp.body()) == cp


def test_spec_example_body_parses() -> None:
    body = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = Checkpoint.parse(body)
    assert (cp.origin, cp.size, len(cp.root_hash)) == ("example.com/behind-the-sofa", 20852163, 32)
    assert cp.body() == body


def test_sign_and_open_round_trip(signer: NoteSigner) -> None:
    cp = Checkpoint(ORIGIN, 42, ROOT)
    note = signer.sign_checkpoint(cp)
    assert note.startswith(cp.body().decode() + "\n— " + ORIGIN + " ")
    assert note.endswith("\n")
    verifier = NoteVerifier.from_key_string(signer.verifier_key())
    assert verifier == signer.verifier()
    assert open_note(note, verifier) == cp
    assert open_note(note.encode(), [verifier]) == cp


def test_expected_origin(signer: NoteSigner) -> None:
    note = signer.sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT))
    assert open_note(note, signer.verifier(), origin=ORIGIN).origin == ORIGIN
    with pytest.raises(IntegrityViolation, match="origin"):
        open_note(note, signer.verifier(), origin="other.example/log")


def test_signer_key_string_round_trip(signer: NoteSigner) -> None:
    again = NoteSigner.from_key_string(signer.signer_key())
    assert again.verifier_key() == signer.verifier_key()
    assert "PRIVATE" not in repr(signer)
    assert signer.signer_key().split("+")[4] not in repr(signer)


def test_unknown_signatures_are_ignored(signer: NoteSigner) -> None:
    other = NoteSigner.generate("witness.example/w1")
    same_name = NoteSigner(ORIGIN, ed25519.Ed25519PrivateKey.generate())  # name, not key
    cp = Checkpoint(ORIGIN, 3, ROOT)
    body = cp.body()
    note = signer.sign_note(body) + other.signature_line(body) + same_name.signature_line(body)
    assert open_note(note, signer.verifier()) == cp
    # Unknown lines before the known one are ignored too.
    reordered = body.decode() + "\n" + other.signature_line(body) + signer.signature_line(body)
    assert open_note(reordered, signer.verifier()) == cp


# --------------------------------------------------------------------------- must fail


def test_tampered_body_fails(signer: NoteSigner) -> None:
    note = signer.sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT))
    for bad in (
        note.replace("\n42\n", "\n43\n"),
        note.replace(ORIGIN, ORIGIN + "x", 1),
        note.replace(base64.b64encode(ROOT).decode(), base64.b64encode(EMPTY_ROOT).decode()),
    ):
        assert bad != note
        with pytest.raises(IntegrityViolation):
            open_note(bad, signer.verifier())


def test_tampered_signature_fails(signer: NoteSigner) -> None:
    note = signer.sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT))
    body, sig_line = note.split("\n\n")
    name, b64 = sig_line[2:-1].split(" ")
    raw = bytearray(base64.b64decode(b64))
    for pos in (4, 20, len(raw) - 1):  # inside the Ed25519 signature
        flipped = bytearray(raw)
        flipped[pos] ^= 0x01
        bad = f"{body}\n\n— {name} {base64.b64encode(bytes(flipped)).decode()}\n"
        with pytest.raises(IntegrityViolation):
            open_note(bad, signer.verifier())
    # A flipped key ID makes the line unknown, leaving no known signature.
    flipped = bytearray(raw)
    flipped[0] ^= 0x01
    bad = f"{body}\n\n— {name} {base64.b64encode(bytes(flipped)).decode()}\n"
    with pytest.raises(IntegrityViolation, match="no signature from a known key"):
        open_note(bad, signer.verifier())
    # Truncated signature from a known key.
    short = base64.b64encode(bytes(raw[:40])).decode()
    with pytest.raises(IntegrityViolation):
        open_note(f"{body}\n\n— {name} {short}\n", signer.verifier())


def test_known_key_bad_signature_fails_even_with_a_good_one(signer: NoteSigner) -> None:
    cp = Checkpoint(ORIGIN, 42, ROOT)
    good = signer.sign_checkpoint(cp)
    forged = signer.signature_line(Checkpoint(ORIGIN, 43, ROOT).body())
    with pytest.raises(IntegrityViolation):
        open_note(good + forged, signer.verifier())


def test_wrong_key_fails(signer: NoteSigner) -> None:
    note = signer.sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT))
    stranger = NoteSigner.generate("someone.else/log")
    with pytest.raises(IntegrityViolation, match="no signature from a known key"):
        open_note(note, stranger.verifier())
    with pytest.raises(IntegrityViolation):
        open_note(note, [])
    peter = NoteVerifier.from_key_string(PETER_VKEY)
    with pytest.raises(IntegrityViolation):
        verify_note(GO_TEXT + "\n" + ENOCH_SIG, peter)


@pytest.mark.parametrize(
    "text",
    [
        GO_TEXT,  # no signatures
        GO_TEXT + "\n",  # blank line, no signatures
        GO_TEXT + "\n" + PETER_SIG[:-1],  # signature block not ending in LF
        "\x01" + GO_TEXT + "\n" + PETER_SIG,  # control character
        GO_TEXT + "\tx\n" + "\n" + PETER_SIG,  # tab is a control character too
        GO_TEXT + "\n" + f"— Bad Name {PETER_B64}\n",  # space in the key name
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG.replace("—", "-"),  # hyphen instead of EM DASH
        GO_TEXT + "\n" + PETER_SIG.replace("— ", "—"),
        GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter+Neumann"),
        GO_TEXT + "\n" + "— PeterNeumann \n",  # empty signature
        GO_TEXT + "\n" + "— PeterNeumann AAAA\n",  # shorter than key ID + 1 byte
        GO_TEXT + "\n" + "— PeterNeumann not!base64\n",
        GO_TEXT + "\n" + PETER_SIG.replace("=\n", "\n"),  # missing padding
        GO_TEXT + "\n" + PETER_SIG + "\n",  # trailing blank line
    ],
)
def test_malformed_notes_are_invalid_argument(text: str) -> None:
    with pytest.raises(InvalidArgument):
        verify_note(text, NoteVerifier.from_key_string(PETER_VKEY))


def test_invalid_utf8_note() -> None:
    with pytest.raises(InvalidArgument):
        verify_note(b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode(), [])


def test_dos_limits(signer: NoteSigner) -> None:
    cp = Checkpoint(ORIGIN, 1, ROOT)
    body = cp.body()
    other = NoteSigner.generate("noise")
    line = other.signature_line(body)
    at_limit = signer.sign_note(body) + line * (MAX_SIGNATURES - 1)
    assert open_note(at_limit, signer.verifier()) == cp
    with pytest.raises(InvalidArgument, match="signatures"):
        open_note(at_limit + line, signer.verifier())
    huge = body.decode() + "x" * MAX_NOTE_BYTES + "\n"
    with pytest.raises(InvalidArgument, match="bytes"):
        verify_note(huge + "\n" + signer.signature_line(huge.encode()), signer.verifier())
    # Multi-byte characters count as bytes, not characters.
    wide = "信" * (MAX_NOTE_BYTES // 3 + 1)
    with pytest.raises(InvalidArgument, match="bytes"):
        verify_note(wide, signer.verifier())


def test_signed_note_that_is_not_a_checkpoint(signer: NoteSigner) -> None:
    note = signer.sign_note(b"just one line\n")
    assert verify_note(note, signer.verifier()) == b"just one line\n"
    with pytest.raises(InvalidArgument):
        open_note(note, signer.verifier())


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"origin\n1\n",  # two lines
        b"origin\n1\n" + base64.b64encode(ROOT),  # no final newline
        b"\n1\n" + base64.b64encode(ROOT) + b"\n",  # empty origin
        b"origin\n01\n" + base64.b64encode(ROOT) + b"\n",  # leading zero
        b"origin\n+1\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n 1\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n1_0\n" + base64.b64encode(ROOT) + b"\n",
        "origin\n١\n".encode() + base64.b64encode(ROOT) + b"\n",  # Arabic-Indic digit
        b"origin\n-1\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n18446744073709551616\n" + base64.b64encode(ROOT) + b"\n",  # 2^64
        b"origin\n1\n" + base64.b64encode(ROOT[:31]) + b"\n",  # 31-byte root
        b"origin\n1\n" + base64.b64encode(ROOT).rstrip(b"=") + b"\n",  # unpadded
        b"origin\n1\n" + base64.urlsafe_b64encode(b"\xff" * 32) + b"\n",  # URL alphabet
        b"origin\n1\n" + base64.b64encode(ROOT) + b"\n\n",  # empty extension line
        b"origin\n1\n" + base64.b64encode(ROOT) + b"\nx\r\n",  # CR
        b"\xffrigin\n1\n" + base64.b64encode(ROOT) + b"\n",  # invalid UTF-8
    ],
)
def test_malformed_checkpoint_bodies(body: bytes) -> None:
    with pytest.raises(InvalidArgument):
        Checkpoint.parse(body)


def test_max_tree_size_parses() -> None:
    body = b"o\n18446744073709551615\n" + base64.b64encode(ROOT) + b"\n"
    assert Checkpoint.parse(body).size == 2**64 - 1


def test_noncanonical_base64_root_rejected() -> None:
    # "AB==" and "AC==" decode to the same byte; only the canonical form is accepted.
    canonical = base64.b64encode(ROOT).decode()
    assert canonical.endswith("=")
    last = canonical[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = canonical[:-2] + alphabet[alphabet.index(last) ^ 1] + "="
    assert base64.b64decode(twin) == ROOT
    with pytest.raises(InvalidArgument):
        Checkpoint.parse(f"o\n1\n{twin}\n".encode())


@pytest.mark.parametrize(
    "args",
    [
        ("", 1, ROOT),
        ("a\nb", 1, ROOT),
        ("o", -1, ROOT),
        ("o", 2**64, ROOT),
        ("o", True, ROOT),
        ("o", 1, ROOT[:31]),
        ("o", 1, ROOT, ("",)),
        ("o", 1, ROOT, ("a\nb",)),
        ("o", 1, ROOT, ["list"]),
    ],
)
def test_checkpoint_constructor_validates(args: tuple[object, ...]) -> None:
    with pytest.raises(InvalidArgument):
        Checkpoint(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\tname", "nl\nname", "a" * 257])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(InvalidArgument):
        NoteSigner.generate(name)


def test_sign_note_rejects_bad_bodies(signer: NoteSigner) -> None:
    for body in (b"no final newline", b"ctrl\x00\n", b"\xff\n"):
        with pytest.raises(InvalidArgument):
            signer.sign_note(body)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong ID
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 7 hex
        "PeterNeumann+c74f20a3+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # algorithm
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        PETER_SKEY,
    ],
)
def test_bad_verifier_keys(key: str) -> None:
    with pytest.raises(InvalidArgument):
        NoteVerifier.from_key_string(key)


@pytest.mark.parametrize(
    "key",
    [
        PETER_VKEY,
        PETER_SKEY.replace("c74f20a3", "c74f20a4"),
        PETER_SKEY.replace("PRIVATE+KEY", "PUBLIC+KEY"),
        PETER_SKEY.replace("+AYEK", "+ZYEK"),
        PETER_SKEY[:-4],
    ],
)
def test_bad_signer_keys_never_echo_the_key(key: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        NoteSigner.from_key_string(key)
    secret = PETER_SKEY.rsplit("+", 1)[1]
    assert secret[:12] not in str(info.value)
