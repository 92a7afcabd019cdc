"""Tile maths (audit/tiles.py) against the reference model (audit/merkle.py): proofs
from tiles equal the reference's for random sizes and indices; paths as C2SP writes
them; growing tiles step by step equals building them at once."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import merkle
from audit.levels import HashLevels
from audit.tiles import (
    FULL_TILE_BYTES,
    TILE_WIDTH,
    TiledTree,
    TileError,
    TileNodes,
    encode_index,
    grow,
    level_slice,
    parse_tile_path,
    proof_tiles,
    tile_path,
    tile_width,
    tiles_of,
)

MAX_SIZE = 70_000  # more than one full level-1 tile (65 536 leaves): three tile levels


def _leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]


LEAVES = _leaves(MAX_SIZE)


def _stored(size: int) -> dict[tuple[int, int], bytes]:
    """Tiles of the first ``size`` leaves, grown in uneven steps as checkpoints would."""
    stored: dict[tuple[int, int], bytes] = {}
    done = 0
    step = 1
    while done < size:
        upto = min(size, done + step)
        tails = {
            level: data for (level, index), data in stored.items() if len(data) < FULL_TILE_BYTES
        }
        for level, index, data in grow(done, tails, b"".join(LEAVES[done:upto])):
            stored[(level, index)] = data
        done = upto
        step = step * 3 + 7
    return stored


TREES = {size: _stored(size) for size in (1, 2, 255, 256, 257, 4097, 65_536, 65_537, MAX_SIZE)}


def _tree(size: int) -> TiledTree:
    base = min(s for s in TREES if s >= size)
    tiles = {key: TileNodes(data) for key, data in TREES[base].items()}
    return TiledTree(size, tiles)


def test_grown_tiles_equal_the_whole_tree_levels() -> None:
    levels = HashLevels()
    levels.extend_bulk(b"".join(LEAVES))
    level_bytes = levels.level_bytes()
    stored = TREES[MAX_SIZE]
    assert sorted(stored) == sorted((lv, i) for lv, i, _ in tiles_of(MAX_SIZE))
    for level, index, width in tiles_of(MAX_SIZE):
        assert stored[(level, index)] == level_slice(level_bytes, level, index, width)
        assert tile_width(level, index, MAX_SIZE) == width


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_inclusion_from_tiles_equals_reference(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, MAX_SIZE))
    index = data.draw(st.integers(0, size - 1))
    tree = _tree(size)
    want = merkle.inclusion_proof(LEAVES, index, size)
    assert tree.inclusion_proof(index) == want
    assert tree.leaf(index) == LEAVES[index]
    root = merkle.root_from_leaf_hashes(LEAVES[:size])
    assert tree.root() == root
    merkle.verify_inclusion(LEAVES[index], index, size, want, root)
    # only the tiles proof_tiles names are needed
    needed = proof_tiles(index, size)
    only = TiledTree(size, {k: v for k, v in tree._tiles.items() if k in needed})
    assert only.inclusion_proof(index) == want and only.root() == root
    assert len(needed) <= 2 * 3


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_consistency_from_tiles_equals_reference(data: st.DataObject) -> None:
    second = data.draw(st.integers(1, MAX_SIZE))
    first = data.draw(st.integers(0, second))
    tree = _tree(second)
    want = merkle.consistency_proof(LEAVES, first, second)
    assert tree.consistency_proof(first) == want
    needed = proof_tiles(first, second, consistency=True)
    only = TiledTree(second, {k: v for k, v in tree._tiles.items() if k in needed})
    assert only.consistency_proof(first) == want


def test_missing_tile_is_an_error() -> None:
    with pytest.raises(TileError, match="not loaded"):
        TiledTree(300, {}).inclusion_proof(5)
    short = TiledTree(300, {(0, 0): TileNodes(b"".join(LEAVES[:10]))})
    with pytest.raises(TileError, match="beyond"):
        short.leaf(20)


def test_grow_refuses_a_tail_of_the_wrong_width() -> None:
    with pytest.raises(TileError, match="want 3"):
        grow(3, {0: LEAVES[0]}, LEAVES[3])


@pytest.mark.parametrize(
    ("index", "text"),
    [(0, "000"), (7, "007"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_index_encoding(index: int, text: str) -> None:
    assert encode_index(index) == text
    assert parse_tile_path(f"tile/0/{text}").index == index


def test_paths_round_trip() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(2, 5, 17) == "tile/2/005.p/17"
    assert tile_path("entries", 1000, 3) == "tile/entries/x001/000.p/3"
    parsed = parse_tile_path("tile/entries/x001/000.p/3")
    assert (parsed.level, parsed.index, parsed.width) == (None, 1000, 3)
    parsed = parse_tile_path("tile/3/x001/x234/067.p/255")
    assert (parsed.level, parsed.index, parsed.width) == (3, 1234067, 255)
    assert parse_tile_path("tile/1/000").width == TILE_WIDTH


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",
        "tile/0/0001",
        "tile/0/x000/001",  # not the shortest form
        "tile/0/001/002",  # group without x
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/07",
        "tile/64/000",
        "tile/01/000",
        "tile/-1/000",
        "tile/0/x001/x002/x003/x004/x005/x006/007",
        "tiles/0/000",
        "tile/0",
        "tile/0/00a",
    ],
)
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(TileError):
        parse_tile_path(path)
