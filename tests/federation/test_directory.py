"""The signed federation directory and the routing rule, without a network: signatures,
no rollback, key rotation, the last good copy on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.checkpoint import NoteSigner
from gateway.flows.federation_directory import (
    Directory,
    Member,
    accept,
    division_code,
    region_prefix,
    sign_directory,
)
from gateway.flows.federation_link import Federation, FederationPaths
from gateway.flows.federation_sync import load_held, write_note
from xinlian.errors import FailedPrecondition, InvalidArgument, XinLianError

OLD = NoteSigner.generate("xinlian-directory-gw-100000")
NEW = NoteSigner.generate("xinlian-directory-gw-100000-2025")


def member(gateway_id: str, region: str, state: str = "admitted") -> Member:
    return Member(
        gateway_id=gateway_id,
        region=region,
        endpoint=f"{gateway_id}.example:7443",
        tls_server_name="",
        ca_pem="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        verifier_key=f"xinlian.test/{gateway_id}+01234567+AQ==",
        origin=f"xinlian.test/{gateway_id}",
        catalog_version="2025.1",
        upstream="" if region == "100000" else "gw-100000",
        state=state,
    )


MEMBERS = (
    member("gw-100000", "100000"),
    member("gw-350000", "350000"),
    member("gw-610000", "610000"),
    member("gw-610100", "610100"),
    member("gw-440000", "440000", state="suspended"),
)


def directory(serial: int = 5, signers: tuple[NoteSigner, ...] = (OLD,), **kw: object) -> Directory:
    values: dict[str, object] = {
        "top": "gw-100000",
        "serial": serial,
        "issued_at_us": 1_700_000_000_000_000,
        "catalog_version": "2025.1",
        "signer_keys": tuple(s.verifier_key() for s in signers),
        "members": MEMBERS,
    }
    values.update(kw)
    return sign_directory(Directory(**values), list(signers))  # type: ignore[arg-type]


def test_region_prefix_and_division_code() -> None:
    assert region_prefix("610000") == "61"
    assert region_prefix("610100") == "6101"
    assert region_prefix("100000") == "100000"
    assert division_code("91610102MA6TXXXX0X") == "610102"


def test_routing_rule_longest_prefix_national_exact_suspended_kept() -> None:
    held = directory()
    home = held.home_of
    assert home("91610102MA6TXXXX0X").gateway_id == "gw-610100"  # type: ignore[union-attr]
    assert home("91610202MA6TXXXX0X").gateway_id == "gw-610000"  # type: ignore[union-attr]
    assert home("91350102MA6TXXXX0X").gateway_id == "gw-350000"  # type: ignore[union-attr]
    assert home("91100000MA6TXXXX0X").gateway_id == "gw-100000"  # type: ignore[union-attr]
    assert home("91110000MA6TXXXX0X") is None  # Beijing: not a member, not national
    suspended = home("91440300MA6TXXXX0X")
    assert suspended is not None and suspended.state == "suspended"


def test_accept_checks_signature_federation_and_serial() -> None:
    pinned = [OLD.verifier_key()]
    held = accept(directory().note, pinned, None)
    assert held.serial == 5 and len(held.members) == len(MEMBERS)
    # a forged directory: signed by a key nobody pinned
    with pytest.raises(XinLianError):
        accept(directory(signers=(NEW,)).note, pinned, held)
    # one altered byte of the body
    note = directory(serial=6).note.replace("gw-350000.example", "gw-350000.evil00")
    with pytest.raises(XinLianError):
        accept(note, pinned, held)
    # no rollback to an older member list
    with pytest.raises(FailedPrecondition) as err:
        accept(directory(serial=4).note, pinned, held)
    assert err.value.reason == "STALE_DIRECTORY"
    # another federation's directory
    with pytest.raises(FailedPrecondition) as err:
        accept(directory(serial=7, top="gw-other").note, pinned, held)
    assert err.value.reason == "NOT_THIS_FEDERATION"
    # a member entry whose prefix does not match its region
    bad = Directory(**{**directory().__dict__, "note": ""})
    body = bad.body().replace(b'"region_prefix":"35"', b'"region_prefix":"3"')
    note = body.decode() + "\n" + OLD.signature_line(body)
    with pytest.raises(InvalidArgument):
        accept(note, pinned, None)


def test_key_rotation_without_stopping() -> None:
    pinned = [OLD.verifier_key()]
    held = accept(directory(serial=5).note, pinned, None)
    # (1) both keys sign and both are listed: accepted with the old pin; pin both
    overlap = accept(directory(serial=6, signers=(OLD, NEW)).note, pinned, held)
    pinned = list(overlap.signer_keys)
    assert pinned == [OLD.verifier_key(), NEW.verifier_key()]
    # (2) the new key alone: accepted with the pins of the overlap
    after = accept(directory(serial=7, signers=(NEW,)).note, pinned, overlap)
    assert after.signer_keys == (NEW.verifier_key(),)
    # (3) a member that never saw the overlap refuses the new key alone
    with pytest.raises(XinLianError):
        accept(directory(serial=7, signers=(NEW,)).note, [OLD.verifier_key()], held)


def test_last_good_copy_is_loaded_and_checked_at_start(tmp_path: Path) -> None:
    paths = FederationPaths(tmp_path / "federation")
    paths.root.mkdir()
    fed = Federation("gw-350000", "350000", paths, 5.0, 30.0, 1.0)
    fed.pin([OLD.verifier_key()])
    write_note(fed, directory(serial=9).note)
    restarted = Federation("gw-350000", "350000", paths, 5.0, 30.0, 1.0)
    load_held(restarted)
    assert restarted.directory is not None and restarted.directory.serial == 9
    # a copy altered on disk is not used
    paths.directory_note.write_text(directory(serial=10, signers=(NEW,)).note)
    tampered = Federation("gw-350000", "350000", paths, 5.0, 30.0, 1.0)
    load_held(tampered)
    assert tampered.directory is None
