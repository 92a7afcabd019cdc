"""Interop: Go's golang.org/x/mod/sumdb/note accepts the checkpoints XinLian signs.

Needs the Go toolchain and the x/mod sources, offline, in GOPATH mode:
Debian packages ``golang-go`` and ``golang-golang-x-mod-dev`` (sources under
/usr/share/gocode/src). Skipped only when ``go`` is not on PATH; if Go is there but
the sources are missing the build fails, so a broken CI image is noticed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from support.go_tools import GO, build_go_tool

from audit.checkpoint import Checkpoint, NoteSigner
from audit.merkle import leaf_hash

pytestmark = pytest.mark.skipif(GO is None, reason="Go toolchain ('go') not on PATH")


@pytest.fixture(scope="module")
def note_verify(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go_tool("note_verify", tmp_path_factory.mktemp("note_verify"))


def run(binary: Path, verifier_key: str, note: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), verifier_key],
        input=note,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner("xinlian.example/ledger", ed25519.Ed25519PrivateKey.generate())


def test_go_verifies_our_checkpoint(note_verify: Path, signer: NoteSigner) -> None:
    cp = Checkpoint("xinlian.example/ledger", 12345, leaf_hash(b"root"))
    result = run(note_verify, signer.verifier_key(), signer.sign_checkpoint(cp))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "OK\n" + cp.body().decode()


def test_go_verifies_with_unknown_cosignature(note_verify: Path, signer: NoteSigner) -> None:
    body = Checkpoint("xinlian.example/ledger", 7, leaf_hash(b"r"), ("ext",)).body()
    witness = NoteSigner.generate("witness.example/w")
    note = signer.sign_note(body) + witness.signature_line(body)
    result = run(note_verify, signer.verifier_key(), note)
    assert result.returncode == 0, result.stderr


def test_go_rejects_tampered_checkpoint(note_verify: Path, signer: NoteSigner) -> None:
    note = signer.sign_checkpoint(Checkpoint("xinlian.example/ledger", 10, leaf_hash(b"r")))
    result = run(note_verify, signer.verifier_key(), note.replace("\n10\n", "\n11\n"))
    assert result.returncode == 1
    assert "invalid signature" in result.stderr


def test_go_rejects_other_key(note_verify: Path, signer: NoteSigner) -> None:
    note = signer.sign_checkpoint(Checkpoint("xinlian.example/ledger", 10, leaf_hash(b"r")))
    other = NoteSigner.generate("xinlian.example/ledger")
    result = run(note_verify, other.verifier_key(), note)
    assert result.returncode == 1
