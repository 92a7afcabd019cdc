"""Witnessing between real gateways on loopback (mTLS, their own CAs and stores): peers
cosign each other's checkpoints after a consistency proof, keep and serve the
cosignatures, ``audit verify`` names the witnesses, the background task does it alone,
and a forged split view (one gateway key signing two trees of one size, each shown to
one peer) is detected with both signed notes kept as evidence."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import grpc
import pytest
from support.witness_net import (
    clone_member,
    edit_config,
    free_port,
    network,
    start_member,
    stop_member,
)

from audit.checkpoint import Checkpoint, NoteSigner, NoteVerifier, open_note
from audit.cosignature import (
    CosignatureVerifier,
    Cosigner,
    SignedView,
    SplitView,
    verified_cosignatures,
)
from audit.merkle import leaf_hash
from gateway.flows.witness_peers import configured_peers
from gateway.services.peer_client import connect_peer
from gateway.store.witness_store import cosigned_count, received, split_rows
from xinlian.errors import IntegrityViolation
from xinlian.v1 import witness_pb2, witness_pb2_grpc
from xinlian_cli.main import run

pytestmark = pytest.mark.integration


def _run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    capsys.readouterr()
    code = run(list(args))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


def _outcome(result: dict, peer: str) -> dict:  # type: ignore[type-arg]
    return next(o for o in result["outcomes"] if o["peer"] == peer)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_peers_cosign_each_other_after_consistency_proofs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str, request: pytest.FixtureRequest
) -> None:
    db_urls = {"b": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    with network(tmp_path, ["a", "b"], db_urls=db_urls) as (a, b):
        b.append("t-1", {"n": 1})
        first = b.checkpoint()
        # (1) a cosigns b's checkpoint (first contact) and hands it over
        code, result = _run_json(capsys, "audit", "witness", "--home", str(a.home), "--json")
        assert code == 0, result
        got = _outcome(result, "gw-b")
        assert (got["status"], got["tree_size"], got["delivered"]) == ("cosigned", first, True)
        # (2) b serves it with a's cosignature, which checks with a's directory key alone
        stub = witness_pb2_grpc.WitnessServiceStub(b.running.admin().channel())
        served = stub.GetCosignedCheckpoint(witness_pb2.GetCosignedCheckpointRequest(), timeout=30)
        assert (served.tree_size, list(served.witnesses)) == (first, ["gw-a"])
        assert (
            open_note(served.checkpoint, NoteVerifier.from_key_string(b.verifier_key)).size == first
        )
        cosigs = verified_cosignatures(
            served.checkpoint, [CosignatureVerifier.from_key_string(a.verifier_key)]
        )
        assert [c.name for c in cosigs] == [a.origin]
        # (3) b grows: a checks the consistency proof from the size it cosigned, cosigns again
        for n in range(3):
            b.append("t-2", {"n": n})
        second = b.checkpoint()
        code, result = _run_json(capsys, "audit", "witness", "--home", str(a.home), "--json")
        assert code == 0 and _outcome(result, "gw-b")["tree_size"] == second > first
        # (4) nothing new: the same cosignature is sent again, nothing is added
        code, result = _run_json(capsys, "audit", "witness", "--home", str(a.home), "--json")
        assert _outcome(result, "gw-b")["status"] == "unchanged"
        assert a.running.runtime.store.read(cosigned_count) == 2
        assert [r.tree_size for r in b.running.runtime.store.read(received)] == [first, second]
        # (5) audit verify on b names the witnessed checkpoints and their witness
        code, report = _run_json(capsys, "audit", "verify", "--home", str(b.home), "--json")
        assert code == 0 and report["ok"]
        assert [w["tree_size"] for w in report["witnessed"]] == [first, second]
        assert {w["witnesses"][0]["peer"] for w in report["witnessed"]} == {"gw-a"}
        capsys.readouterr()
        assert run(["audit", "verify", "--home", str(b.home)]) == 0
        assert f"the latest, size {second}, by gw-a" in capsys.readouterr().out


def test_a_cosignature_from_a_non_peer_or_over_another_tree_is_refused(tmp_path: Path) -> None:
    with network(tmp_path, ["a", "b"]) as (a, b):
        size = b.checkpoint()
        # only gateway-kind nodes hand in cosignatures
        bank = b.running.enroll_node("institution")
        stub = witness_pb2_grpc.WitnessServiceStub(bank.channel())
        with pytest.raises(grpc.RpcError) as denied:
            stub.SubmitCosignature(
                witness_pb2.SubmitCosignatureRequest(tree_size=size, cosignature="x"), timeout=30
            )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # a's cosignature of another tree under b's origin does not verify at b
        signer = NoteSigner.from_key_string((a.home / "ledger" / "signer.key").read_text().strip())
        forged = Cosigner(signer).cosign(Checkpoint(b.origin, size, leaf_hash(b"x")).body(), 1)
        peer = next(p for p in configured_peers(a.config()) if p.gateway_id == "gw-b")

        async def submit() -> None:
            client = connect_peer(peer)
            try:
                await client.submit_cosignature(size, forged.line())
            finally:
                await client.close()

        with pytest.raises(IntegrityViolation, match="does not verify"):
            asyncio.run(submit())
        assert b.running.runtime.store.read(received) == []


def test_the_background_task_cosigns_on_its_own(tmp_path: Path) -> None:
    with network(tmp_path, ["a", "b"], interval_s=0.2) as (a, b):
        a.append("t", {"n": 1})
        a.checkpoint()
        b.append("t", {"n": 1})
        b.checkpoint()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done_a = a.running.runtime.store.read(received)
            done_b = b.running.runtime.store.read(received)
            if done_a and done_b:
                break
            time.sleep(0.2)
        assert {r.peer_id for r in done_a} == {"gw-b"}
        assert {r.peer_id for r in done_b} == {"gw-a"}


def test_a_forged_split_view_is_detected_and_kept_as_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Gateway a's key signs two different trees of the same size: b is shown one, c
    (through a copy of a's home, a2) the other. c finds the split view when it compares
    with what b cosigned, refuses to cosign, and keeps both signed notes."""
    clone_port = free_port()
    with network(tmp_path, ["a", "b", "c"], endpoints={("c", "a"): clone_port}) as (a, b, c):
        stop_member(a)
        a2 = clone_member(a, "a2", clone_port)
        start_member(a)
        start_member(a2)
        try:
            a.append("t-real", {"shown_to": "gw-b"})
            a2.append("t-forged", {"shown_to": "gw-c"})
            size = a.checkpoint()
            assert a2.checkpoint() == size
            # b cosigns the tree it is shown
            code, result = _run_json(capsys, "audit", "witness", "--home", str(b.home), "--json")
            assert _outcome(result, "gw-a")["status"] == "cosigned", result
            # c is shown the other tree of the same size; b's cosigned view gives it away
            caplog.set_level(logging.ERROR, logger="gateway.flows.witness")
            code, result = _run_json(capsys, "audit", "witness", "--home", str(c.home), "--json")
            assert code == 1
            got = _outcome(result, "gw-a")
            assert (got["status"], got["tree_size"]) == ("split_view", size)
            assert "SPLIT VIEW" in caplog.text
            # both signed notes kept, each carrying a's signature
            rows = c.running.runtime.store.read(split_rows)
            assert len(rows) == 1 and rows[0].peer_id == "gw-a"
            key = NoteVerifier.from_key_string(a.verifier_key)
            split = SplitView(
                rows[0].origin,
                rows[0].tree_size,
                SignedView(rows[0].note_a, rows[0].source_a),
                SignedView(rows[0].note_b, rows[0].source_b),
            )
            split.verify(key)
            assert {rows[0].source_a, rows[0].source_b} == {"peer gw-a", "witness gw-b"}
            # c never cosigned the forged tree
            assert c.running.runtime.store.read(cosigned_count) == 1  # b's log only
            # the evidence command shows both notes and checks them
            code, evidence = _run_json(
                capsys, "audit", "witness", "--home", str(c.home), "--evidence", "--json"
            )
            assert code == 1
            (found,) = evidence["split_views"]
            assert found["check"].startswith("verified")
            assert found["first"]["note"] != found["second"]["note"]
            # a second round refuses again, adds no second evidence row
            code, result = _run_json(capsys, "audit", "witness", "--home", str(c.home), "--json")
            assert _outcome(result, "gw-a")["status"] == "split_view"
            assert len(c.running.runtime.store.read(split_rows)) == 1
            # audit verify on c passes (its own ledger is fine) and notes the split view
            code, report = _run_json(capsys, "audit", "verify", "--home", str(c.home), "--json")
            assert code == 0
            assert any(n["code"] == "SPLIT_VIEW" for n in report["notices"])
        finally:
            stop_member(a2)


def test_a_rewritten_history_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """b cosigned a's tree of size n; later a larger tree under a's key that does not
    extend it (a copy of a's home that went another way) fails the consistency proof from
    n, and b refuses to cosign it."""
    with network(tmp_path, ["a", "b"]) as (a, b):
        stop_member(a)
        a2 = clone_member(a, "a2")
        start_member(a)
        start_member(a2)
        try:
            a.append("t", {"branch": "real"})
            a.checkpoint()
            code, result = _run_json(capsys, "audit", "witness", "--home", str(b.home), "--json")
            assert _outcome(result, "gw-a")["status"] == "cosigned"
            for n in range(3):
                a2.append("t", {"branch": "rewritten", "n": n})
            a2.checkpoint()
            # b is now pointed at the other branch (as if a switched what it shows b)
            config = json.loads((b.home / "config.json").read_text())
            config["witness_peers"][0]["endpoint"] = f"127.0.0.1:{a2.port}"
            edit_config(b.home, witness_peers=config["witness_peers"])
            code, result = _run_json(capsys, "audit", "witness", "--home", str(b.home), "--json")
            assert code == 1
            got = _outcome(result, "gw-a")
            assert got["status"] == "inconsistent" and "refused" in got["message"]
            assert b.running.runtime.store.read(cosigned_count) == 1
        finally:
            stop_member(a2)
