"""The proof cache (gateway.store.ledger.HashLevels) against the reference maths of
audit.merkle, which follows RFC 9162 directly."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import merkle
from audit.levels import HashLevels
from xinlian.errors import InvalidArgument


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def _levels(leaves: list[bytes]) -> HashLevels:
    levels = HashLevels()
    levels.extend(leaves)
    return levels


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=140), st.data())
def test_proofs_equal_the_reference(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    levels = _levels(leaves)
    size = data.draw(st.integers(min_value=1, max_value=n))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    first = data.draw(st.integers(min_value=0, max_value=size))
    assert levels.root(size) == merkle.root_from_leaf_hashes(leaves[:size])
    assert levels.inclusion_proof(index, size) == merkle.inclusion_proof(leaves, index, size)
    assert levels.consistency_proof(first, size) == merkle.consistency_proof(leaves, first, size)
    merkle.verify_inclusion(
        leaves[index], index, size, levels.inclusion_proof(index, size), levels.root(size)
    )


def test_every_root_of_a_growing_tree() -> None:
    leaves = _leaves(300)
    levels = HashLevels()
    frontier = merkle.CompactRange()
    for leaf in leaves:
        levels.append(leaf)
        frontier.append(leaf)
        assert levels.root() == frontier.root()
    assert levels.root(0) == merkle.EMPTY_ROOT


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=8))
def test_bulk_extension_equals_appending(steps: list[int]) -> None:
    """``extend_bulk`` (what verification builds the tree with) in any chunking gives
    the same tree as appending leaf by leaf, and the reference root."""
    leaves = _leaves(sum(steps))
    bulk, at = HashLevels(), 0
    for step in steps:
        bulk.extend_bulk(b"".join(leaves[at : at + step]))
        at += step
    one_by_one = _levels(leaves)
    assert bulk.size == one_by_one.size == len(leaves)
    for size in range(1, len(leaves) + 1):
        assert (
            bulk.root(size) == one_by_one.root(size) == merkle.root_from_leaf_hashes(leaves[:size])
        )
        assert bulk.consistency_proof(1, size) == one_by_one.consistency_proof(1, size)


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=0, max_value=300), st.data())
def test_join_at_an_aligned_size_equals_one_tree(n: int, data: st.DataObject) -> None:
    """A tree built in two parts (the verification split) equals the tree built whole,
    wherever the split is (aligned or not), and survives a round trip through bytes."""
    leaves = _leaves(n)
    split = data.draw(st.integers(min_value=0, max_value=n))
    left = HashLevels.from_level_bytes(_levels(leaves[:split]).level_bytes())
    right = HashLevels.from_level_bytes(_levels(leaves[split:]).level_bytes())
    left.join(right)
    whole = _levels(leaves)
    assert left.size == n
    assert left.level_bytes()[: len(whole.level_bytes())] == whole.level_bytes()
    for size in range(1, n + 1, max(1, n // 7)):
        assert left.root(size) == whole.root(size)


def test_levels_of_the_wrong_length_are_refused() -> None:
    good = _levels(_leaves(5)).level_bytes()
    for bad in ([good[0][:-1]], [good[0], good[1] + bytes(32)], [good[0], good[1][:32]]):
        with pytest.raises(InvalidArgument):
            HashLevels.from_level_bytes(bad)
