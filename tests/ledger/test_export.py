"""Point 8: export, then verify with audit/verify_export.py and with an independent
few-line verifier that knows only RFC 9162, the signed-note format, hashlib and
cryptography."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update
from support.harness import Gateway
from support.ledger_helpers import CODE_A, seed_batch, seed_disclosure, tax_records

from audit.verify_export import verify_export
from gateway.store import schema
from gateway.store.dialect import dialect_of
from xinlian_cli.main import cli

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------- independent


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, straight from the definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def independent_verify(directory: Path) -> int:
    """Returns the verified tree size; raises AssertionError on any mismatch."""
    name, key_id_hex, key_b64 = (directory / "verifier.key").read_text().strip().split("+", 2)
    key_data = base64.b64decode(key_b64)
    assert key_data[0] == 1  # Ed25519
    key_id = hashlib.sha256(name.encode() + b"\n" + key_data).digest()[:4]
    assert key_id.hex() == key_id_hex
    note = (directory / "checkpoint").read_text()
    body, signatures = note.split("\n\n", 1)
    body += "\n"
    verified = False
    for line in signatures.splitlines():
        signer, sig_b64 = line.removeprefix("— ").split(" ")
        raw = base64.b64decode(sig_b64)
        if signer == name and raw[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(key_data[1:]).verify(raw[4:], body.encode())
            verified = True
    assert verified
    origin, size_text, root_b64 = body.splitlines()[:3]
    assert origin == name
    leaves = []
    for i, line in enumerate((directory / "entries.jsonl").read_text().splitlines()):
        obj = json.loads(line)
        assert obj["index"] == i
        if obj["leaf"] is None:
            leaves.append(bytes.fromhex(obj["leaf_hash"]))
        else:
            leaves.append(hashlib.sha256(b"\x00" + base64.b64decode(obj["leaf"])).digest())
    assert len(leaves) == int(size_text)
    assert _mth(leaves) == base64.b64decode(root_b64)
    return len(leaves)


# --------------------------------------------------------------------------- tests


def _seed(gateway: Gateway) -> None:
    dept = gateway.enroll_node("department", "tax-bureau", categories=("tax",))
    seeded = seed_batch(gateway.runtime.store, dept, "b-1", "tax", tax_records(3))
    seed_disclosure(gateway.runtime.store, seeded.record_pks["r0"], "bank-1", CODE_A, {"x": "keep"})


def test_operator_export_verifies_both_ways(gateway: Gateway, tmp_path: Path) -> None:
    _seed(gateway)
    out = tmp_path / "export"
    result = CliRunner().invoke(
        cli, ["audit", "export", "--home", str(gateway.home), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    checked = verify_export(out)
    assert checked.ok, checked.message
    size = independent_verify(out)
    assert size == checked.size
    # the export itself is the last entry it covers
    last = json.loads((out / "entries.jsonl").read_text().splitlines()[-1])
    assert json.loads(base64.b64decode(last["leaf"]))["action"] == "audit.export"
    ok = CliRunner().invoke(cli, ["audit", "verify", "--export", str(out)])
    assert ok.exit_code == 0, ok.output


def test_tampered_export_names_the_index(gateway: Gateway, tmp_path: Path) -> None:
    _seed(gateway)
    out = tmp_path / "export"
    CliRunner().invoke(cli, ["audit", "export", "--home", str(gateway.home), "--out", str(out)])
    lines = (out / "entries.jsonl").read_text().splitlines()
    # an edited body with its hash left alone
    edited = json.loads(lines[3])
    body = base64.b64decode(edited["leaf"]).replace(b'"ok"', b'"error"')
    edited["leaf"] = base64.b64encode(body).decode()
    (out / "entries.jsonl").write_text("\n".join([*lines[:3], json.dumps(edited), *lines[4:]]))
    result = verify_export(out)
    assert not result.ok and result.first_bad_index == 3
    cli_result = CliRunner().invoke(cli, ["audit", "verify", "--export", str(out)])
    assert cli_result.exit_code == 1
    assert "first bad index 3" in cli_result.output
    # a deleted line
    (out / "entries.jsonl").write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    assert verify_export(out).first_bad_index == 2
    # an edited body with a recomputed hash: only the signed root catches it
    edited["leaf_hash"] = hashlib.sha256(b"\x00" + body).hexdigest()
    (out / "entries.jsonl").write_text("\n".join([*lines[:3], json.dumps(edited), *lines[4:]]))
    assert not verify_export(out).ok
    with pytest.raises(AssertionError):
        independent_verify(out)


def test_pruned_export_still_verifies(gateway: Gateway, tmp_path: Path) -> None:
    _seed(gateway)
    store = gateway.runtime.store
    t = schema.ledger_entries
    store.write(
        lambda c: c.execute(update(t).where(t.c.idx < 3).values(**dialect_of(c).prune_values()))
    )
    out = tmp_path / "export"
    CliRunner().invoke(cli, ["audit", "export", "--home", str(gateway.home), "--out", str(out)])
    result = verify_export(out)
    assert result.ok and result.pruned == 3
    independent_verify(out)


def test_officer_export_over_grpc(gateway: Gateway, tmp_path: Path) -> None:
    _seed(gateway)
    officer = gateway.enroll_node("officer", "officer-1")
    out = tmp_path / "officer-export"
    result = CliRunner().invoke(
        cli,
        [
            "audit",
            "export",
            "--identity",
            str(officer.files.root),
            "--gateway",
            gateway.address,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert verify_export(out).ok
    independent_verify(out)
    actions = gateway.runtime.store.read(
        lambda c: (
            c.execute(
                select(schema.ledger_entries.c.actor).where(
                    schema.ledger_entries.c.action == "audit.export"
                )
            )
            .scalars()
            .all()
        )
    )
    assert actions == ["officer-1"]
