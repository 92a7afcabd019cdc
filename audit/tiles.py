"""C2SP ``tlog-tiles`` maths for the ledger's Merkle tree (height 8): pure, no I/O.

A *tile* at level ``L``, index ``N`` holds, 32 bytes each, the tree's hashes at tree
level ``8·L`` with indices ``256·N … 256·N + 255``: at level 0 the leaf hashes, at level
1 the roots of the 256-leaf subtrees, and so on. A tile with all 256 hashes is *full*
and never changes; the last tile of a level in a tree of ``n`` leaves holds the
``W = (n >> 8·L) mod 256`` hashes complete so far (*partial*, ``.p/W``). Every hash a
proof needs is a node at some tree level ``8·L + k`` (``k < 8``): the root of ``2^k``
consecutive hashes of one tile, so an inclusion or consistency proof reads at most two
tiles per tile level (the one on the path, the one on the right border): O(log n).

Paths (C2SP): ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``, with ``N``
written as three-digit groups, every group but the last prefixed with ``x``
(1234067 → ``x001/x234/067``).

``grow`` extends the stored tiles from one tree size to a larger one given the new leaf
hashes; ``TiledTree`` answers node hashes, roots and proofs (RFC 9162, through
``audit.merkle.inclusion_path`` and ``consistency_path``) from loaded tiles;
``proof_tiles`` names the tiles a proof needs before they are loaded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from audit.merkle import EMPTY_ROOT, HASH_SIZE, consistency_path, inclusion_path, node_hash

TILE_HEIGHT = 8
"""Tree levels per tile (C2SP tlog-tiles: 8)."""
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile (256)."""
FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE
MAX_TILE_LEVEL = 63
"""Highest tile level a path may name (C2SP: 0 … 63)."""
MAX_INDEX_DIGITS = 18
"""Most decimal digits of a tile index in a path (six groups of three)."""

_NODE_PREFIX = b"\x01"
_GROUP = re.compile(r"\d{3}")

TileKey = tuple[int, int]
"""``(level, index)`` of a tile."""


class TileError(ValueError):
    """A tile path, width or stored tile does not fit the tree; the message says which."""


# --------------------------------------------------------------------------- shapes


def hash_count(level: int, size: int) -> int:
    """How many hashes a tree of ``size`` leaves has at tree level ``8·level``."""
    return size >> (TILE_HEIGHT * level)


def tile_width(level: int, index: int, size: int) -> int:
    """Hashes of tile ``(level, index)`` complete in a tree of ``size`` (0 … 256)."""
    return max(0, min(TILE_WIDTH, hash_count(level, size) - index * TILE_WIDTH))


def tile_levels(size: int) -> int:
    """Number of tile levels holding at least one hash for a tree of ``size``."""
    levels = 0
    while hash_count(levels, size):
        levels += 1
    return levels


def tiles_of(size: int) -> list[tuple[int, int, int]]:
    """Every tile ``(level, index, width)`` of a tree of ``size`` leaves."""
    out = []
    for level in range(tile_levels(size)):
        count = hash_count(level, size)
        for index in range((count + TILE_WIDTH - 1) // TILE_WIDTH):
            out.append((level, index, min(TILE_WIDTH, count - index * TILE_WIDTH)))
    return out


# --------------------------------------------------------------------------- paths


def encode_index(index: int) -> str:
    """``N`` as C2SP writes it: three-digit groups, all but the last with ``x``."""
    if index < 0:
        raise TileError(f"tile index: got {index}, want >= 0")
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]`` (``level`` ``"entries"`` for an entry bundle)."""
    if not 0 < width <= TILE_WIDTH:
        raise TileError(f"tile width: got {width}, want 1..{TILE_WIDTH}")
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(index)}{suffix}"


@dataclass(frozen=True)
class TilePath:
    """A parsed tile path: ``level`` None for an entry bundle."""

    level: int | None
    index: int
    width: int


def parse_tile_path(path: str) -> TilePath:
    """Read ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``; ``TileError`` for
    anything not written exactly as ``tile_path`` writes it."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileError("want tile/<L>/<N>[.p/<W>]")
    level: int | None
    if parts[1] == "entries":
        level = None
    elif parts[1].isdigit() and str(int(parts[1])) == parts[1]:
        level = int(parts[1])
        if level > MAX_TILE_LEVEL:
            raise TileError(f"tile level: got {level}, want 0..{MAX_TILE_LEVEL}")
    else:
        raise TileError("tile level: want a decimal number or 'entries'")
    rest = parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        w = rest[-1]
        if not w.isdigit() or str(int(w)) != w or not 0 < int(w) < TILE_WIDTH:
            raise TileError(f"partial width: want 1..{TILE_WIDTH - 1}")
        width = int(w)
        rest = [*rest[:-2], rest[-2][:-2]]
    groups = [g[1:] for g in rest[:-1] if g.startswith("x")] + rest[-1:]
    if (
        len(groups) != len(rest)
        or len(groups) * 3 > MAX_INDEX_DIGITS
        or not all(_GROUP.fullmatch(g) for g in groups)
    ):
        raise TileError("tile index: want three-digit groups, all but the last x-prefixed")
    index = int("".join(groups))
    if encode_index(index) != "/".join(rest):
        raise TileError("tile index: not in its shortest form")
    return TilePath(level, index, width)


# --------------------------------------------------------------------------- hashing


def hash_pairs(data: bytes | bytearray | memoryview) -> bytes:
    """The level above ``data`` (concatenated hashes): one node per complete pair."""
    sha256 = hashlib.sha256
    pair = 2 * HASH_SIZE
    with memoryview(data) as view:
        stop = len(view) // pair * pair
        return b"".join(
            [sha256(_NODE_PREFIX + view[i : i + pair]).digest() for i in range(0, stop, pair)]
        )


class TileNodes:
    """One tile's hashes and every complete node above them inside the tile: level
    ``k`` (0 … 8) holds ``width >> k`` hashes. ``node(k, i)`` is O(1)."""

    __slots__ = ("levels", "width")

    def __init__(self, data: bytes) -> None:
        if len(data) % HASH_SIZE or len(data) > FULL_TILE_BYTES:
            raise TileError(f"tile: got {len(data)} bytes, want a multiple of 32 up to 8192")
        self.width = len(data) // HASH_SIZE
        levels = [bytes(data)]
        while len(levels) <= TILE_HEIGHT and len(levels[-1]) >= 2 * HASH_SIZE:
            levels.append(hash_pairs(levels[-1]))
        self.levels = levels

    @property
    def nbytes(self) -> int:
        return sum(len(level) for level in self.levels)

    def node(self, k: int, i: int) -> bytes:
        level = self.levels[k] if k < len(self.levels) else b""
        start = i * HASH_SIZE
        if start + HASH_SIZE > len(level):
            raise TileError(f"tile node ({k}, {i}): beyond the tile's {self.width} hashes")
        return level[start : start + HASH_SIZE]


def tile_root(data: bytes) -> bytes:
    """The root of a full tile: the tree's hash one tile level up."""
    if len(data) != FULL_TILE_BYTES:
        raise TileError(f"tile root: got {len(data)} bytes, want a full tile")
    return TileNodes(data).node(TILE_HEIGHT, 0)


def grow(old_size: int, tails: Mapping[int, bytes], leaves: bytes) -> list[tuple[int, int, bytes]]:
    """The tiles that change when the tree grows from ``old_size`` by the concatenated
    leaf hashes ``leaves``: ``(level, index, hashes)``, each with every hash of the
    tile complete in the new tree (a full tile has 256).

    ``tails[L]`` is the stored last tile of level ``L`` at ``old_size`` (``b""`` or
    missing when that level's count is a multiple of 256): exactly its
    ``hash_count(L, old_size) mod 256`` hashes, or ``TileError``.
    """
    if len(leaves) % HASH_SIZE:
        raise TileError(f"leaves: got {len(leaves)} bytes, want 32 per leaf")
    new_size = old_size + len(leaves) // HASH_SIZE
    out: list[tuple[int, int, bytes]] = []
    fresh = bytes(leaves)
    level = 0
    while hash_count(level, new_size) > hash_count(level, old_size):
        old_count = hash_count(level, old_size)
        tail = bytes(tails.get(level, b""))
        want = (old_count % TILE_WIDTH) * HASH_SIZE
        if len(tail) != want:
            raise TileError(
                f"tile {level}/{old_count // TILE_WIDTH}: got {len(tail) // HASH_SIZE} "
                f"hashes, want {want // HASH_SIZE} for tree size {old_size}"
            )
        data = tail + fresh
        first = old_count // TILE_WIDTH
        for offset in range(0, len(data), FULL_TILE_BYTES):
            out.append((level, first + offset // FULL_TILE_BYTES, data[offset:][:FULL_TILE_BYTES]))
        # the next level's new hashes: the roots of the tiles that just became full
        fresh = b"".join(
            tile_root(data[o : o + FULL_TILE_BYTES])
            for o in range(0, len(data) - FULL_TILE_BYTES + 1, FULL_TILE_BYTES)
        )
        level += 1
    return out


# --------------------------------------------------------------------------- proofs


def node_tile(level: int, index: int) -> tuple[int, int, int, int]:
    """Where tree node ``(level, index)`` (the root of leaves ``[index·2^level, …)``) is
    found: ``(tile level, tile index, k, i)``, the node being ``node(k, i)`` of that
    tile."""
    tile_level, k = divmod(level, TILE_HEIGHT)
    first = index << k
    return tile_level, first // TILE_WIDTH, k, index % (TILE_WIDTH >> k)


def perfect_nodes(begin: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, index)`` whose hashes ``MTH(leaves[begin:end])`` is
    built from, as RFC 9162 splits the range (``begin`` aligned, as in every proof)."""
    out: list[tuple[int, int]] = []
    stack = [(begin, end)]
    while stack:
        b, e = stack.pop()
        n = e - b
        if n <= 0:
            continue
        if n & (n - 1) == 0 and b % n == 0:
            out.append((n.bit_length() - 1, b // n))
            continue
        k = 1 << ((n - 1).bit_length() - 1)
        stack.append((b + k, e))
        stack.append((b, b + k))
    return out


def _nodes_of_proof(index_or_first: int, size: int, consistency: bool) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []

    def record(b: int, e: int) -> bytes:
        ranges.append((b, e))
        return EMPTY_ROOT

    if consistency:
        if 0 < index_or_first < size:
            consistency_path(record, index_or_first, size)
    else:
        inclusion_path(record, index_or_first, size)
        ranges.append((index_or_first, index_or_first + 1))
    ranges.append((0, size))  # the root, checked against the signed checkpoint
    return [node for b, e in ranges for node in perfect_nodes(b, e)]


def proof_tiles(index_or_first: int, size: int, *, consistency: bool = False) -> set[TileKey]:
    """The tiles holding every hash of the inclusion proof of ``index`` (or the
    consistency proof from ``first``) in the tree of ``size``, its leaf hash and the
    tree's root: at most two per tile level."""
    return {
        node_tile(level, i)[:2] for level, i in _nodes_of_proof(index_or_first, size, consistency)
    }


class TiledTree:
    """The tree of ``size`` leaves read from loaded tiles (``tiles[(L, N)]``, each with
    at least the hashes complete at ``size``; longer ones are fine: a tile only grows
    at its end). Raises ``TileError`` when a needed tile is missing or too short."""

    def __init__(self, size: int, tiles: Mapping[TileKey, TileNodes]) -> None:
        self.size = size
        self._tiles = tiles

    def node(self, level: int, index: int) -> bytes:
        tile_level, tile_index, k, i = node_tile(level, index)
        tile = self._tiles.get((tile_level, tile_index))
        if tile is None:
            raise TileError(f"tile {tile_level}/{tile_index} is not loaded")
        return tile.node(k, i)

    def range_root(self, begin: int, end: int) -> bytes:
        if end <= begin:
            return EMPTY_ROOT
        nodes = [self.node(level, i) for level, i in perfect_nodes(begin, end)]
        root = nodes[-1]
        for h in reversed(nodes[:-1]):
            root = node_hash(h, root)
        return root

    def root(self) -> bytes:
        return self.range_root(0, self.size)

    def leaf(self, index: int) -> bytes:
        return self.node(0, index)

    def inclusion_proof(self, index: int) -> list[bytes]:
        return inclusion_path(self.range_root, index, self.size)

    def consistency_proof(self, first: int) -> list[bytes]:
        if first == 0 or first == self.size:
            return []
        return consistency_path(self.range_root, first, self.size)


def level_slice(levels: Sequence[bytes | bytearray], level: int, index: int, width: int) -> bytes:
    """Tile ``(level, index)`` of ``width`` hashes cut from whole-tree hash levels
    (``HashLevels.level_bytes()``): what a stored tile must equal."""
    tree_level = level * TILE_HEIGHT
    if tree_level >= len(levels):
        return b""
    start = index * FULL_TILE_BYTES
    return bytes(levels[tree_level][start : start + width * HASH_SIZE])


def first_difference(got: bytes, want: bytes) -> int:
    """The position of the first hash where two tiles differ (the shorter's width if
    one is a prefix of the other)."""
    for i in range(0, min(len(got), len(want)), HASH_SIZE):
        if got[i : i + HASH_SIZE] != want[i : i + HASH_SIZE]:
            return i // HASH_SIZE
    return min(len(got), len(want)) // HASH_SIZE


def entry_bundle(bodies: Iterable[bytes]) -> bytes:
    """C2SP entry bundle: each entry as a big-endian uint16 length, then its bytes."""
    out = bytearray()
    for body in bodies:
        if len(body) > 0xFFFF:
            raise TileError(f"entry of {len(body)} bytes does not fit an entry bundle")
        out += len(body).to_bytes(2, "big") + body
    return bytes(out)
