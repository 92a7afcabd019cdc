"""A split view is found from each kind of source: the peer itself showing another tree
of a size it showed before, and a checkpoint the peer serves with another witness's
cosignature (besides ``GetWitnessed`` between witnesses: test_witnessing.py). Gateway a's
home is copied (a2: same CA, ledger key and origin) and the copy grows differently; the
witness is pointed at one, then the other, by its ``witness_peers`` endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.witness_net import (
    Member,
    clone_member,
    edit_config,
    network,
    peer_entry,
    start_member,
    stop_member,
)

from gateway.store.witness_store import split_rows
from xinlian_cli.main import run

pytestmark = pytest.mark.integration


def _round(capsys: pytest.CaptureFixture[str], home: Path) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = run(["audit", "witness", "--home", str(home), "--json"])
    result = json.loads(capsys.readouterr().out)
    return code, next(o for o in result["outcomes"] if o["peer"] == "gw-a")


def _point(witness: Member, entries: list[dict[str, str]]) -> None:
    edit_config(witness.home, witness_peers=entries)


def test_the_peer_itself_showing_two_trees_of_one_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with network(tmp_path, ["a", "b"]) as (a, b):
        stop_member(a)
        a2 = clone_member(a, "a2")
        start_member(a)
        start_member(a2)
        try:
            a.append("t", {"tree": "one"})
            a2.append("t", {"tree": "two"})
            size = a.checkpoint()
            assert a2.checkpoint() == size
            code, got = _round(capsys, b.home)
            assert got["status"] == "cosigned"
            _point(b, [peer_entry(b, a, a2.port)])
            code, got = _round(capsys, b.home)
            assert (code, got["status"], got["tree_size"]) == (1, "split_view", size)
            (row,) = b.running.runtime.store.read(split_rows)
            assert (row.source_a, row.source_b) == ("peer gw-a", "peer gw-a")
            assert row.root_a != row.root_b
        finally:
            stop_member(a2)


def test_a_cosigned_checkpoint_the_peer_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with network(tmp_path, ["a", "b", "c"]) as (a, b, c):
        stop_member(a)
        a2 = clone_member(a, "a2")
        start_member(a)
        start_member(a2)
        try:
            a.append("t", {"tree": "one"})
            a2.append("t", {"tree": "two"})
            size = a.checkpoint()
            assert a2.checkpoint() == size
            # b cosigns a's tree of that size and hands the cosignature to a; a grows on
            code, got = _round(capsys, b.home)
            assert got["status"] == "cosigned" and got["delivered"]
            a.append("t", {"tree": "one", "more": True})
            a.checkpoint()
            # c knows b's key but does not poll it; it is shown a2's tree and cosigns it
            b_known = {**peer_entry(c, b), "endpoint": ""}
            _point(c, [peer_entry(c, a, a2.port), b_known])
            code, got = _round(capsys, c.home)
            assert (got["status"], got["tree_size"]) == ("cosigned", size)
            # then a shows c its next tree, and serves the one b cosigned with b's line
            _point(c, [peer_entry(c, a), b_known])
            code, got = _round(capsys, c.home)
            assert (code, got["status"], got["tree_size"]) == (1, "split_view", size)
            (row,) = c.running.runtime.store.read(split_rows)
            assert {row.source_a, row.source_b} == {"peer gw-a", "cosigned by gw-b"}
        finally:
            stop_member(a2)
