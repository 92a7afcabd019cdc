"""Interop: Go's golang.org/x/mod/sumdb/note accepts the checkpoints XinLian signs.

Needs the Go toolchain and the x/mod sources, offline, in GOPATH mode:
Debian packages ``golang-go`` and ``golang-golang-x-mod-dev`` (sources under
/usr/share/gocode/src). Skipped only when ``go`` is not on PATH; if Go is there but
the sources are missing the build fails, so a broken CI image is noticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.checkpoint import Checkpoint, NoteSigner
from audit.merkle import leaf_hash

GO = shutil.which("go")
TOOL = Path(__file__).resolve().parents[1] / "tools" / "note_verify" / "main.go"
GOPATH = os.environ.get("XINLIAN_TEST_GOPATH", "/usr/share/gocode")

pytestmark = pytest.mark.skipif(GO is None, reason="Go toolchain ('go') not on PATH")


@pytest.fixture(scope="module")
def note_verify(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert GO is not None
    out = tmp_path_factory.mktemp("note_verify")
    binary = out / "note_verify"
    env = {
        **os.environ,
        "GOPATH": GOPATH,
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "GOCACHE": str(out / "gocache"),
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "CGO_ENABLED": "0",
    }
    result = subprocess.run(
        [GO, "build", "-o", str(binary), str(TOOL)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, (
        "building tests/tools/note_verify failed (is golang-golang-x-mod-dev installed, "
        f"GOPATH={GOPATH}?):\n{result.stderr}"
    )
    return binary


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
