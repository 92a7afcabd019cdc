"""Interop: an independent Go check (golang.org/x/mod/sumdb/note parsing the note,
crypto/ed25519 the signature; tests/tools/cosig_verify) accepts the cosignatures
audit/cosignature.py makes, and refuses tampered ones. Needs Go and the x/mod sources
offline, as tests/ledger/test_checkpoint_go.py does; skipped only without ``go``."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from support.go_tools import GO, build_go_tool

from audit.checkpoint import Checkpoint, NoteSigner, verify_note
from audit.cosignature import Cosigner, with_cosignatures
from audit.merkle import leaf_hash

pytestmark = pytest.mark.skipif(GO is None, reason="Go toolchain ('go') not on PATH")


@pytest.fixture(scope="module")
def cosig_verify(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go_tool("cosig_verify", tmp_path_factory.mktemp("cosig_verify"))


def _run(binary: Path, name: str, key: bytes, note: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), name, base64.b64encode(key).decode()],
        input=note,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _raw_key(signer: NoteSigner) -> bytes:
    return signer.verifier().public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def test_go_accepts_our_cosignature_and_refuses_tampering(cosig_verify: Path) -> None:
    log = NoteSigner.generate("gw-a.example/ledger")
    witness_key = NoteSigner.generate("gw-b.example/ledger")
    witness = Cosigner(witness_key)
    note = log.sign_checkpoint(Checkpoint(log.name, 42, leaf_hash(b"x"), ("ext line",)))
    cosig = witness.cosign(verify_note(note, log.verifier()), 1_712_345_678)
    cosigned = with_cosignatures(note, [cosig])
    ok = _run(cosig_verify, witness.name, _raw_key(witness_key), cosigned)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "OK 1712345678\n"
    # another size in the body: the cosignature no longer verifies
    bad = _run(
        cosig_verify, witness.name, _raw_key(witness_key), cosigned.replace("\n42\n", "\n43\n")
    )
    assert bad.returncode == 1
    # the log's own signature is no cosignature of the log's key
    mine = _run(cosig_verify, log.name, _raw_key(log), note)
    assert mine.returncode == 1
