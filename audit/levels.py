"""Leaf hashes plus every complete perfect subtree above them: the tree maths behind
proof serving (``gateway.store.ledger.LeafCache``) and verification. Pure, no I/O."""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Mapping, Sequence

from audit.merkle import EMPTY_ROOT, HASH_SIZE, consistency_path, inclusion_path, node_hash
from xinlian.errors import InvalidArgument

_NODE_PREFIX = b"\x01"


class HashLevels:
    """Leaf hashes plus every complete perfect subtree hash above them. Pure, no I/O.

    Level ``k`` holds, 32 bytes each, the roots of the aligned perfect subtrees
    ``[i·2^k, (i+1)·2^k)`` that are complete. ``append`` costs one node hash amortized;
    a subtree root over an aligned range costs O(log n) look-ups. Proofs follow RFC 9162
    §2.1.3.1 (PATH) and §2.1.4.1 (PROOF) exactly like ``audit.merkle``, which is the
    reference these are tested against.
    """

    __slots__ = ("_levels", "_size")

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> None:
        levels = self._levels
        levels[0] += leaf
        self._size += 1
        n, k, h = self._size, 0, leaf
        sha256 = hashlib.sha256
        while not n & 1:
            h = sha256(_NODE_PREFIX + levels[k][-64:-32] + h).digest()
            k += 1
            n >>= 1
            if len(levels) == k:
                levels.append(bytearray())
            levels[k] += h

    def level(self, k: int) -> bytes | bytearray:
        """Level ``k`` as stored (no copy; ``b""`` above the highest): read, never write."""
        return self._levels[k] if k < len(self._levels) else b""

    def level_bytes(self) -> list[bytes]:
        """Every level, lowest (the leaf hashes) first: what ``from_level_bytes`` takes."""
        return [bytes(level) for level in self._levels]

    @classmethod
    def from_level_bytes(cls, levels: list[bytes]) -> HashLevels:
        """The tree whose levels are ``levels`` (from another process): level ``k`` must
        hold exactly the complete nodes of the leaves at level 0, or ``InvalidArgument``.
        The node hashes themselves are taken as given."""
        leaves = len(levels[0]) if levels else 0
        if leaves % HASH_SIZE:
            raise InvalidArgument.field("levels[0]", f"{leaves} bytes", "32 per leaf")
        size = leaves // HASH_SIZE
        for k, level in enumerate(levels):
            want = (size >> k) * HASH_SIZE
            if len(level) != want:
                raise InvalidArgument.field(f"levels[{k}]", f"{len(level)} bytes", f"{want}")
        tree = cls()
        tree._size = size
        tree._levels = [bytearray(level) for level in levels] or [bytearray()]
        tree._hash_up(len(tree._levels) - 1)
        return tree

    def extend(self, leaves: list[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def extend_bulk(self, data: bytes) -> None:
        """Append the concatenated leaf hashes ``data``, level by level (bulk, fast).

        Same result as ``append`` for each leaf, with one list of node hashes per level:
        at each level the pairs not yet hashed (from twice the length of the level above
        to the end) are hashed, until a level gains no node.
        """
        if len(data) % HASH_SIZE:
            raise InvalidArgument.field("leaf_hashes", f"{len(data)} bytes", "32 per leaf")
        self._levels[0] += data
        self._size += len(data) // HASH_SIZE
        self._hash_up(0)

    def join(self, right: HashLevels) -> None:
        """Append ``right``: the levels of the leaves that follow this tree's, built on
        their own (another process's half of a verification).

        Level ``k`` of ``right`` holds whole-tree nodes, and is appended as it is, for
        every ``k`` up to the number of trailing zero bits of this tree's size (the
        levels where this size is aligned); the levels above are hashed again from the
        highest level appended (a few nodes).
        """
        size = self._size
        top = len(right._levels) - 1
        if size:
            top = min(top, (size & -size).bit_length() - 1)
        levels = self._levels
        for k in range(top + 1):
            if len(levels) == k:
                levels.append(bytearray())
            levels[k] += right._levels[k]
        self._size += right._size
        self._hash_up(top)

    def _hash_up(self, k: int) -> None:
        """Hash, from level ``k`` up, the pairs not yet hashed at each level (from twice
        the length of the level above to the end), until a level gains no node."""
        sha256 = hashlib.sha256
        levels = self._levels
        pair = 2 * HASH_SIZE
        while True:
            if len(levels) == k + 1:
                levels.append(bytearray())
            below, above = levels[k], levels[k + 1]
            start = len(above) * 2
            stop = start + (len(below) - start) // pair * pair
            if stop == start:
                break
            with memoryview(below) as view:
                above += b"".join(
                    [
                        sha256(_NODE_PREFIX + view[i : i + pair]).digest()
                        for i in range(start, stop, pair)
                    ]
                )
            k += 1

    def leaf(self, index: int) -> bytes:
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def _node(self, level: int, index: int) -> bytes:
        return bytes(self._levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def range_root(self, begin: int, end: int) -> bytes:
        """MTH of leaves ``[begin, end)``; O(log n) when ``begin`` is aligned (RFC ranges)."""
        n = end - begin
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and begin % n == 0:
            return self._node(n.bit_length() - 1, begin // n)
        k = 1 << ((n - 1).bit_length() - 1)
        return node_hash(self.range_root(begin, begin + k), self.range_root(begin + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = self._size if size is None else size
        self._check(size)
        return self.range_root(0, size)

    def root_with(self, size: int, leaves: Mapping[int, bytes]) -> bytes:
        """MTH of the first ``size`` leaves with the leaf hashes at the indices of
        ``leaves`` replaced by the given ones (say, the hashes of entries whose stored
        leaf hash differs from their body's). O(k·log² n) for k replaced leaves: the
        subtrees without a replaced leaf come from the levels as they are."""
        self._check(size)
        changed = sorted(i for i in leaves if 0 <= i < size)
        return self._range_root_with(0, size, changed, leaves)

    def _range_root_with(
        self, begin: int, end: int, changed: Sequence[int], leaves: Mapping[int, bytes]
    ) -> bytes:
        if not changed:
            return self.range_root(begin, end)
        n = end - begin
        if n == 1:
            return leaves[begin]
        mid = begin + (1 << ((n - 1).bit_length() - 1))
        cut = bisect_left(changed, mid)
        return node_hash(
            self._range_root_with(begin, mid, changed[:cut], leaves),
            self._range_root_with(mid, end, changed[cut:], leaves),
        )

    def _check(self, size: int) -> None:
        if size < 0 or size > self._size:
            raise InvalidArgument.field("tree_size", size, f"0..{self._size}")

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        self._check(tree_size)
        if not 0 <= index < tree_size:
            raise InvalidArgument.field("index", index, f"0..{tree_size - 1}")
        return inclusion_path(self.range_root, index, tree_size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        self._check(second)
        if not 0 <= first <= second:
            raise InvalidArgument.field("first_size", first, f"0..{second}")
        if first == 0 or first == second:
            return []
        return consistency_path(self.range_root, first, second)
