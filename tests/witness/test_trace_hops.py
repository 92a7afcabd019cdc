"""One trace across two real gateways: ``xinlian audit trace --trace-id`` on either lists
its entries with the trace id and proves each hop with the peer's inclusion proof and
signed checkpoint (checked by the gateway and again by the officer's command). The hop
entries are written through the ledger's normal append path, as relay and forwarded
queries write them (``details["hop"]``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.witness_net import network

from audit.entry import Action
from gateway.store.ledger import entries_page
from xinlian_cli.main import run

pytestmark = pytest.mark.integration


def _trace(capsys: pytest.CaptureFixture[str], identity: Path, trace_id: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    capsys.readouterr()
    code = run(["audit", "trace", "--identity", str(identity), "--trace-id", trace_id, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


def test_each_hop_is_proven_by_its_peer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with network(tmp_path, ["a", "b"]) as (a, b):
        trace = "fed-trace-0001"
        # b (holding the data) answers a's forwarded query; a records the hop with b's index
        at_b = b.append(trace, {"hop": {"peer": "gw-a", "peer_index": None, "direction": "in"}})
        a.append(trace, {"note": "the bank's query at its own gateway"})
        at_a = a.append(
            trace,
            {"hop": {"peer": "gw-b", "peer_index": at_b, "direction": "out"}},
            action=Action.QUERY,
        )
        b.checkpoint()
        a.checkpoint()
        officer_a = a.running.enroll_node("officer").files.root
        code, result = _trace(capsys, officer_a, trace)
        assert code == 0, result
        entries = {e["index"]: e for e in result["entries"]}
        hop = entries[at_a]["hop"]
        assert (hop["peer"], hop["peer_index"], hop["direction"]) == ("gw-b", at_b, "out")
        assert hop["status"] == "proven" and hop["officer_check"] == "proven"
        assert hop["peer_checkpoint"].startswith(b.origin + "\n")
        assert [e["hop"] for e in result["entries"] if e["index"] != at_a] == [None]
        # the table form names the proof too
        capsys.readouterr()
        assert run(["audit", "trace", "--identity", str(officer_a), "--trace-id", trace]) == 0
        assert "proven" in capsys.readouterr().out
        # from b's side the receiving entry names no index: shown, not a failure
        officer_b = b.running.enroll_node("officer").files.root
        code, result = _trace(capsys, officer_b, trace)
        assert code == 0
        (entry,) = result["entries"]
        assert entry["hop"]["status"] == "no_index"
        # the officer's trace is itself in the ledger
        rows = a.running.runtime.store.read(lambda conn: entries_page(conn, 0, 1000))
        assert any(r.action == "audit.search" and b"trace_hops" in (r.body or b"") for r in rows)


def test_a_hop_the_peer_cannot_prove_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with network(tmp_path, ["a", "b"]) as (a, b):
        at_b = b.append(
            "real-trace", {"hop": {"peer": "gw-a", "peer_index": None, "direction": "in"}}
        )
        # a names b's entry under another trace id: b does not show it, the hop fails
        a.append("claimed-trace", {"hop": {"peer": "gw-b", "peer_index": at_b, "direction": "out"}})
        # and a hop to an index b's checkpoint does not cover yet
        a.append("ahead-trace", {"hop": {"peer": "gw-b", "peer_index": 10_000, "direction": "out"}})
        # and a hop to a gateway that is no peer
        a.append("stranger-trace", {"hop": {"peer": "gw-x", "peer_index": 0, "direction": "out"}})
        b.checkpoint()
        a.checkpoint()
        officer = a.running.enroll_node("officer").files.root
        code, result = _trace(capsys, officer, "claimed-trace")
        assert code == 1
        assert result["entries"][0]["hop"]["status"] == "failed"
        assert "HOP_NOT_FOUND" in result["entries"][0]["hop"]["message"]
        code, result = _trace(capsys, officer, "ahead-trace")
        assert result["entries"][0]["hop"]["status"] == "uncovered"
        code, result = _trace(capsys, officer, "stranger-trace")
        assert result["entries"][0]["hop"]["status"] == "unknown_peer"
        # a malformed trace id is one clear error (exit 6), not a traceback
        capsys.readouterr()
        assert run(["audit", "trace", "--identity", str(officer), "--trace-id", "bad trace!"]) == 6
