"""audit.leaf_scan against a naive reference: random ranges of stored rows with pruned
bodies, edited leaf hashes and missing indices, in random chunks; and the
bytes a worker process sends, which must round-trip and be refused when damaged."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import merkle
from audit.leaf_scan import LeafScan, Row, decode, encode, scan_rows
from xinlian.errors import InvalidArgument


def _body(i: int) -> bytes:
    return f'{{"n":{i}}}'.encode()


@st.composite
def _ledgers(draw: st.DrawFn) -> tuple[int, list[Row], list[int]]:
    """(start, rows in index order as stored, chunk sizes)."""
    start = draw(st.integers(min_value=0, max_value=40))
    n = draw(st.integers(min_value=0, max_value=60))
    rows: list[Row] = []
    for i in range(start, start + n):
        body = _body(i)
        leaf = merkle.leaf_hash(body)
        kind = draw(st.sampled_from(["ok"] * 6 + ["pruned", "bad_leaf", "short_leaf"]))
        if kind == "pruned":
            rows.append((i, leaf, None))
        elif kind == "bad_leaf":
            rows.append((i, hashlib.sha256(leaf).digest(), body))
        elif kind == "short_leaf":
            rows.append((i, b"\x00", body))
        else:
            rows.append((i, leaf, body))
    # missing rows (the rows come from ``ORDER BY idx`` on the primary key: strictly
    # increasing, so a gap is the only way the indices can go wrong)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        if rows:
            del rows[draw(st.integers(min_value=0, max_value=len(rows) - 1))]
    chunks = draw(st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=30))
    return start, rows, chunks


def _chunked(rows: list[Row], sizes: list[int]) -> list[list[Row]]:
    out, at, k = [], 0, 0
    while at < len(rows):
        size = sizes[k % len(sizes)]
        out.append(rows[at : at + size])
        at, k = at + size, k + 1
    return out


def _reference(
    start: int, rows: list[Row]
) -> tuple[list[bytes], int, tuple[int, int] | None, list[int]]:
    """Row by row: the tree's leaves, pruned count, first gap, bad leaves."""
    leaves, pruned, bad = [], 0, []
    for p, (idx, stored, body) in enumerate(rows):
        if idx != start + p:
            return leaves, pruned, (start + p, idx), bad
        if body is None:
            pruned += 1
        elif merkle.leaf_hash(body) != stored:
            bad.append(idx)
        leaves.append(stored if len(stored) == merkle.HASH_SIZE else bytes(merkle.HASH_SIZE))
    return leaves, pruned, None, bad


@settings(max_examples=150, deadline=None)
@given(_ledgers())
def test_scan_equals_the_row_by_row_reference(ledger: tuple[int, list[Row], list[int]]) -> None:
    start, rows, sizes = ledger
    scan = scan_rows(_chunked(rows, sizes), start)
    leaves, pruned, gap, bad = _reference(start, rows)
    assert scan.start == start and scan.entries == len(leaves)
    assert scan.pruned == pruned and scan.gap == gap and scan.bad_leaves == bad
    if leaves:
        assert scan.levels.root() == merkle.root_from_leaf_hashes(leaves)
    again = decode(encode(scan))
    assert (again.start, again.entries, again.pruned, again.gap, again.bad_leaves) == (
        scan.start,
        scan.entries,
        scan.pruned,
        scan.gap,
        scan.bad_leaves,
    )
    assert _nonempty(again.levels.level_bytes()) == _nonempty(scan.levels.level_bytes())


def _nonempty(levels: list[bytes]) -> list[bytes]:
    return [level for level in levels if level]


def test_a_body_stored_as_text_is_hashed_as_its_bytes() -> None:
    body = _body(0)
    scan = scan_rows([[(0, merkle.leaf_hash(body), body.decode())]], 0)  # type: ignore[list-item]
    assert scan.entries == 1 and scan.bad_leaves == []


def _encoded(n: int = 5) -> bytes:
    rows: list[Row] = [(i, merkle.leaf_hash(_body(i)), _body(i)) for i in range(n)]
    return encode(scan_rows([rows], 0))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data.replace(b"\n", b" ", 1),
        lambda data: data[:-1],
        lambda data: data + b"x",
        lambda data: b"0 5 0 -1 -1 9" + data[data.index(b"\n") :],
        lambda data: data.replace(b" ", b" x", 1),
        lambda data: b"0 6" + data[3:],
    ],
    ids=["empty", "no_header", "short", "long", "level_count", "not_numbers", "entries"],
)
def test_damaged_scans_are_refused(damage: object) -> None:
    with pytest.raises(InvalidArgument):
        decode(damage(_encoded()))  # type: ignore[operator]


def test_an_empty_scan_round_trips() -> None:
    scan = decode(encode(LeafScan(7)))
    assert scan.start == 7 and scan.entries == 0 and scan.levels.size == 0
