"""C2SP tlog-cosignature/v1 (Ed25519): published key IDs and timestamps, the signed
message, round trips, tampering, and split-view evidence (audit/cosignature.py)."""

from __future__ import annotations

import base64

import pytest

from audit.checkpoint import Checkpoint, NoteSigner, NoteVerifier, open_note, verify_note
from audit.cosignature import (
    MAX_FUTURE_SKEW_S,
    Cosignature,
    CosignatureVerifier,
    Cosigner,
    SignedView,
    SplitView,
    cosigned_message,
    verified_cosignatures,
    with_cosignatures,
)
from audit.merkle import leaf_hash
from xinlian.errors import IntegrityViolation, InvalidArgument

# Published in transparency-dev/formats note/note_cosigv1_test.go: a native cosignature/v1
# verifier key (type 0x04), a plain note key (type 0x01) that converts, and a
# cosignature whose timestamp is 1727964367.
REMORA_KEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
PLAIN_KEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
PUBLISHED_SIG = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworD"
    "cFiEBYJXORmnFBOBA=="
)
# The C2SP spec's example checkpoint and signed message.
SOFA = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def test_published_native_key_id_is_derived_with_type_0x04() -> None:
    verifier = CosignatureVerifier.from_key_string(REMORA_KEY)
    assert verifier.name == "remora.n621.de"
    assert verifier.key_id == 0xDA77ADE7
    assert verifier.verifier_key() == REMORA_KEY


def test_published_plain_key_converts_to_its_cosignature_key() -> None:
    plain = NoteVerifier.from_key_string(PLAIN_KEY)
    verifier = CosignatureVerifier.from_key_string(PLAIN_KEY)
    assert verifier.name == "TEST"
    assert verifier.key_id != plain.key_id == 0x7997405C
    assert verifier.verifier_key().startswith("TEST+")
    assert base64.b64decode(verifier.verifier_key().split("+", 2)[2])[0] == 0x04


def test_published_signature_line_timestamp() -> None:
    cosig = Cosignature.parse_line(f"\u2014 witness.example {PUBLISHED_SIG}")
    assert cosig.key_id == 0x646846B9
    assert cosig.timestamp == 1727964367
    assert cosig.line() == f"\u2014 witness.example {PUBLISHED_SIG}\n"


def test_signed_message_is_the_spec_layout() -> None:
    assert cosigned_message(SOFA, 1679315147) == (b"cosignature/v1\ntime 1679315147\n" + SOFA)


def test_wrong_key_id_or_type_is_refused() -> None:
    name, _, rest = REMORA_KEY.partition("+")
    with pytest.raises(InvalidArgument):
        CosignatureVerifier.from_key_string(f"{name}+00000000+{rest.split('+', 1)[1]}")
    with pytest.raises(InvalidArgument):
        CosignatureVerifier.from_key_string("x+12345678+AwEB")
    with pytest.raises(InvalidArgument):
        Cosignature.parse_line("\u2014 w " + base64.b64encode(b"\0" * 40).decode())


@pytest.fixture
def log() -> NoteSigner:
    return NoteSigner.generate("gw-a.example/ledger")


@pytest.fixture
def witness() -> Cosigner:
    return Cosigner(NoteSigner.generate("gw-b.example/ledger"))


def _note(log: NoteSigner, size: int, root: bytes = b"r") -> str:
    return log.sign_checkpoint(Checkpoint(log.name, size, leaf_hash(root)))


def test_cosign_round_trip_on_a_note(log: NoteSigner, witness: Cosigner) -> None:
    note = _note(log, 7)
    body = verify_note(note, log.verifier())
    cosig = witness.cosign(body, 1_700_000_000)
    cosigned = with_cosignatures(note, [cosig, cosig])
    assert cosigned.count("\u2014 ") == 2  # the duplicate is not appended twice
    # the log's own signature still opens the note, the cosignature line is ignored
    assert open_note(cosigned, log.verifier()).size == 7
    found = verified_cosignatures(cosigned, [witness.verifier()], now=1_700_000_000)
    assert found == [cosig]
    # the witness's ledger key as a plain note key does not accept the cosignature line
    with pytest.raises(IntegrityViolation):
        verify_note(
            note.split("\n\n")[0] + "\n\n" + cosig.line(), NoteSigner.generate("x").verifier()
        )


def test_tampered_cosignatures_fail(log: NoteSigner, witness: Cosigner) -> None:
    body = verify_note(_note(log, 7), log.verifier())
    cosig = witness.cosign(body, 1_700_000_000)
    verifier = witness.verifier()
    assert verifier.verify(body, cosig)
    other_body = verify_note(_note(log, 7, b"other"), log.verifier())
    assert not verifier.verify(other_body, cosig)
    shifted = Cosignature(cosig.name, cosig.key_id, cosig.timestamp + 1, cosig.signature)
    assert not verifier.verify(body, shifted)
    flipped = bytes([cosig.signature[0] ^ 1]) + cosig.signature[1:]
    assert not verifier.verify(body, Cosignature(cosig.name, cosig.key_id, 1_700_000_000, flipped))
    # stamped too far in the future
    assert not verifier.verify(body, cosig, now=1_700_000_000 - MAX_FUTURE_SKEW_S - 1)
    # a known witness's bad line in a note raises, naming the witness
    bad_note = _note(log, 7, b"other") + cosig.line()
    with pytest.raises(IntegrityViolation, match="invalid cosignature"):
        verified_cosignatures(bad_note, [verifier])


def test_only_checkpoints_are_cosigned(witness: Cosigner) -> None:
    with pytest.raises(InvalidArgument):
        witness.cosign(b"not a checkpoint\n", 1)


def test_split_view_evidence(log: NoteSigner) -> None:
    first = SignedView(_note(log, 9, b"one"), "peer gw-a")
    second = SignedView(_note(log, 9, b"two"), "witness gw-c")
    split = SplitView.between(log.verifier(), first, second)
    assert split is not None and (split.origin, split.tree_size) == (log.name, 9)
    split.verify(log.verifier())
    assert split.roots(log.verifier()) == (leaf_hash(b"one"), leaf_hash(b"two"))
    assert split.to_json()["second"]["source"] == "witness gw-c"
    # same root, or another size: no split view
    assert SplitView.between(log.verifier(), first, SignedView(_note(log, 9, b"one"), "x")) is None
    assert SplitView.between(log.verifier(), first, SignedView(_note(log, 10, b"two"), "x")) is None
    # evidence a third party cannot pin on the log: one note signed by another key
    forged = SplitView(log.name, 9, first, SignedView(_note(NoteSigner.generate(log.name), 9), "x"))
    with pytest.raises(IntegrityViolation, match="evidence"):
        forged.verify(log.verifier())
