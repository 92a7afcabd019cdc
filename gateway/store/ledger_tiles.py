"""The ledger's stored tiles (table ``ledger_tiles``, maths in ``audit.tiles``): written
with each checkpoint, built once for an older ledger, and read for proofs.

Rows are ``(level, idx, hashes)``: a full tile holds 256 hashes and never changes; the
last tile of each level holds the hashes complete at the size the tiles cover, and
grows at its end when a later checkpoint extends them (an upsert that keeps the longer
value: racing replicas write the same bytes). The size the tiles cover is read from the
last tile of level 0.

``TileProofs`` answers inclusion and consistency proofs from the O(log n) tiles each
one needs (``audit.tiles.proof_tiles``), through a per-process LRU of tiles; a ledger
whose tiles do not reach the latest checkpoint yet (never built) is served by the older
``LeafCache``, which holds every leaf hash.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import Connection, func, select

from audit.merkle import HASH_SIZE
from audit.tiles import (
    TILE_WIDTH,
    TiledTree,
    TileError,
    TileKey,
    TileNodes,
    grow,
    hash_count,
    proof_tiles,
)
from gateway.store import schema
from gateway.store.dialect import Dialect, dialect_of
from gateway.store.ledger import (
    InclusionProof,
    LeafCache,
    StoredCheckpoint,
    check_proof_size,
    leaf_hashes,
    require_checkpoint,
)
from xinlian.errors import IntegrityViolation, InvalidArgument

log = logging.getLogger(__name__)
R = TypeVar("R")

MAX_CHECKPOINT_TILE_LEAVES = 1 << 20
"""Most leaves a checkpoint reads to extend the tiles in its own transaction; further
behind (an older ledger whose tiles were never built) it signs without them and
``xinlian gateway tiles build`` catches up."""
BUILD_CHUNK_LEAVES = 1 << 16
"""Leaves per transaction of ``tiles build`` (one level-1 tile)."""

T = schema.ledger_tiles.c


# --------------------------------------------------------------------------- reads


def tiled_size(conn: Connection) -> int:
    """The tree size the stored tiles cover (0: none)."""
    dialect = dialect_of(conn)
    mark, hashes = dialect.placeholder, dialect.as_bytes.format("hashes")
    row = conn.exec_driver_sql(
        f"SELECT idx, length({hashes}) FROM ledger_tiles WHERE level = {mark} "
        "ORDER BY idx DESC LIMIT 1",
        (0,),
    ).first()
    if row is None:
        return 0
    return int(row[0]) * TILE_WIDTH + int(row[1]) // HASH_SIZE


def _tails(conn: Connection, size: int) -> dict[int, bytes]:
    """The partial last tile of every level at ``size`` (what ``grow`` continues)."""
    keys = []
    level = 0
    while hash_count(level, size):
        count = hash_count(level, size)
        if count % TILE_WIDTH:
            keys.append((level, count // TILE_WIDTH))
        level += 1
    found = read_tiles(conn, keys)
    return {lv: found.get((lv, i), b"") for lv, i in keys}


def read_tiles(conn: Connection, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
    """The stored tiles of ``keys`` (absent ones are left out), in one query (driver
    SQL: a proof's few tiles should not cost a statement compilation per shape)."""
    keys = list(keys)
    if not keys:
        return {}
    dialect = dialect_of(conn)
    mark, hashes = dialect.placeholder, dialect.as_bytes.format("hashes")
    where = " OR ".join([f"(level = {mark} AND idx = {mark})"] * len(keys))
    rows = conn.exec_driver_sql(
        f"SELECT level, idx, {hashes} FROM ledger_tiles WHERE {where}",
        tuple(v for key in keys for v in key),
    ).all()
    return {(int(lv), int(i)): bytes(h) for lv, i, h in rows}


def all_tiles(conn: Connection, level: int, start: int, limit: int) -> list[tuple[int, bytes]]:
    """``(idx, hashes)`` of level ``level`` from index ``start`` on, at most ``limit``."""
    dialect = dialect_of(conn)
    mark, hashes = dialect.placeholder, dialect.as_bytes.format("hashes")
    rows = conn.exec_driver_sql(
        f"SELECT idx, {hashes} FROM ledger_tiles WHERE level = {mark} AND idx >= {mark} "
        f"ORDER BY idx LIMIT {int(limit)}",
        (level, start),
    ).all()
    return [(int(i), bytes(h)) for i, h in rows]


def tile_levels_stored(conn: Connection) -> list[int]:
    return [int(v) for v in conn.execute(select(T.level).distinct().order_by(T.level)).scalars()]


# --------------------------------------------------------------------------- writes


def extend_tiles(conn: Connection, dialect: Dialect, size: int, max_leaves: int) -> int | None:
    """Extend the stored tiles to cover the first ``size`` leaves, in the caller's
    transaction; returns the size they cover, or None when more than ``max_leaves``
    would have to be read (or the stored tiles cannot be continued: logged).

    1. the size the tiles cover, and each level's last partial tile;
    2. the leaf hashes from there to ``size``, gapless;
    3. the tiles that change (``audit.tiles.grow``), upserted keeping the longer value.
    """
    # (1) where the tiles stand
    done = tiled_size(conn)
    if done >= size:
        return done
    if size - done > max_leaves:
        return None
    try:
        tails = _tails(conn, done)
        # (2) the new leaf hashes, in order and gapless
        rows = leaf_hashes(conn, done, size)
        if len(rows) != size - done or (rows and rows[-1][0] != size - 1):
            raise TileError(f"ledger entries {done}..{size - 1} are not all stored")
        changed = grow(done, tails, b"".join(h for _, h in rows))
    except TileError as exc:
        log.warning("ledger tiles not extended to %d: %s", size, exc)
        return None
    # (3) write them
    if changed:
        ins = dialect.insert(schema.ledger_tiles)
        stmt = ins.values(
            [{"level": lv, "idx": i, "hashes": data} for lv, i, data in changed]
        ).on_conflict_do_update(
            index_elements=["level", "idx"],
            set_={"hashes": ins.excluded.hashes},
            where=func.length(ins.excluded.hashes) > func.length(T.hashes),
        )
        conn.execute(stmt)
    return size


def build_tiles(
    write: Callable[[Callable[[Connection], int | None]], int | None],
    dialect: Dialect,
    target: int,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = BUILD_CHUNK_LEAVES,
) -> int:
    """Build the tiles up to ``target`` leaves, one transaction per
    ``BUILD_CHUNK_LEAVES``: resumable (each run continues where the stored tiles end);
    ``progress(done, target)`` after each. Returns the size the tiles cover."""
    done = 0
    while True:
        done = write(lambda conn: _build_step(conn, dialect, target, chunk)) or 0
        if progress is not None:
            progress(min(done, target), target)
        if done >= target:
            return done


def _build_step(conn: Connection, dialect: Dialect, target: int, chunk: int) -> int:
    start = tiled_size(conn)
    upto = min(target, (start // chunk + 1) * chunk)
    done = extend_tiles(conn, dialect, upto, chunk)
    if done is None:
        raise IntegrityViolation(
            f"the ledger tiles cannot be extended from {start}: see the log",
            reason="TILES_BROKEN",
        )
    return done


# --------------------------------------------------------------------------- proofs


class TileCache:
    """A bounded LRU of loaded tiles (with their inner nodes), by ``(level, index)``.
    A cached tile shorter than a request needs is read again. Thread-safe."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._tiles: OrderedDict[TileKey, TileNodes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._tiles)

    def clear(self) -> None:
        with self._lock:
            self._tiles.clear()

    def load(self, conn: Connection, wanted: dict[TileKey, int]) -> dict[TileKey, TileNodes]:
        """The tiles of ``wanted`` (key → hashes needed), from the cache or one query."""
        out: dict[TileKey, TileNodes] = {}
        with self._lock:
            for key, width in wanted.items():
                tile = self._tiles.get(key)
                if tile is not None and tile.width >= width:
                    self._tiles.move_to_end(key)
                    out[key] = tile
        missing = [key for key in wanted if key not in out]
        for key, data in read_tiles(conn, missing).items():
            if key[0] == 0:
                _check_leaves(conn, key[1], data)
            out[key] = TileNodes(data)
        with self._lock:
            for key in missing:
                if key in out:
                    self._tiles[key] = out[key]
                    self._tiles.move_to_end(key)
            while len(self._tiles) > self.capacity:
                self._tiles.popitem(last=False)
        return out


def _check_leaves(conn: Connection, index: int, data: bytes) -> None:
    """A level-0 tile read from the store must equal the leaf hashes stored with its
    entries (at most 256 rows): a proof never rests on a tile the ledger disagrees with."""
    start = index * TILE_WIDTH
    mark = dialect_of(conn).placeholder
    rows = conn.exec_driver_sql(
        f"SELECT leaf_hash FROM ledger_entries WHERE idx >= {mark} AND idx < {mark} ORDER BY idx",
        (start, start + len(data) // HASH_SIZE),
    ).all()
    if b"".join(bytes(h) for (h,) in rows) != data:
        raise IntegrityViolation(
            f"stored leaf hashes of entries {start}.. do not match ledger tile 0/{index}",
            reason="CHECKPOINT_MISMATCH",
        )


class TileProofs:
    """Inclusion and consistency proofs from stored tiles, checked against the latest
    signed checkpoint; same answers and errors as ``LeafCache``.

    1. the latest checkpoint, the sizes asked for within it;
    2. tiles that do not reach it → the ``LeafCache`` (a ledger whose tiles are not built);
    3. the tiles the proof and the checkpoint's root need, from the LRU or one query;
    4. the root from the tiles must be the signed root, else ``CHECKPOINT_MISMATCH``;
    5. the proof from the tiles.
    """

    def __init__(self, cache_tiles: int) -> None:
        self.cache = TileCache(cache_tiles)
        self.fallback = LeafCache()
        self._seen = 0
        self._tiled = 0  # the size the stored tiles were last seen to cover

    def inclusion(self, conn: Connection, index: int, tree_size: int) -> InclusionProof:
        checkpoint = require_checkpoint(conn)
        size = tree_size or checkpoint.tree_size
        check_proof_size("tree_size", size, checkpoint.tree_size)
        if not 0 <= index < size:
            raise InvalidArgument.field("index", index, f"0..{size - 1}")
        tree = self._tree(conn, checkpoint, size, proof_tiles(index, size))
        if tree is None:
            return self.fallback.inclusion(conn, index, tree_size)
        return _guard(
            lambda: InclusionProof(index, size, tree.leaf(index), tree.inclusion_proof(index))
        )

    def consistency(self, conn: Connection, first: int, second: int) -> list[bytes]:
        checkpoint = require_checkpoint(conn)
        second = second or checkpoint.tree_size
        check_proof_size("second_size", second, checkpoint.tree_size)
        if not 0 <= first <= second:
            raise InvalidArgument.field("first_size", first, f"0..{second}")
        tree = self._tree(conn, checkpoint, second, proof_tiles(first, second, consistency=True))
        if tree is None:
            return self.fallback.consistency(conn, first, second)
        return _guard(lambda: tree.consistency_proof(first))

    def _tree(
        self, conn: Connection, checkpoint: StoredCheckpoint, size: int, needed: set[TileKey]
    ) -> TiledTree | None:
        latest = checkpoint.tree_size
        # a database that shrank (restored, replaced) invalidates the cache
        if latest < self._seen:
            self.cache.clear()
            self._tiled = 0
        self._seen = latest
        # (2) tiles that do not reach the checkpoint (they only grow: read again only
        # when a newer checkpoint is beyond what they were seen to cover)
        if self._tiled < latest:
            self._tiled = tiled_size(conn)
        if self._tiled < latest:
            return None
        # (3) the tiles of the proof and of the signed root, at their widths
        keys = needed | proof_tiles(latest - 1, latest)
        wanted = {key: _width(key, latest) for key in keys}
        tiles = self.cache.load(conn, wanted)
        # (4) the stored tiles must reproduce the signed root
        root = _guard(lambda: TiledTree(latest, tiles).root())
        if root != checkpoint.root_hash:
            self.cache.clear()
            self._tiled = 0
            raise IntegrityViolation(
                f"stored tiles do not match the checkpoint of size {latest}",
                reason="CHECKPOINT_MISMATCH",
            )
        return TiledTree(size, tiles)


def _width(key: TileKey, size: int) -> int:
    level, index = key
    return max(0, min(TILE_WIDTH, hash_count(level, size) - index * TILE_WIDTH))


def _guard(make: Callable[[], R]) -> R:
    try:
        return make()
    except TileError as exc:
        raise IntegrityViolation(
            f"stored ledger tiles: {exc}", reason="CHECKPOINT_MISMATCH"
        ) from None
