"""Verification of the stored tiles (``ledger_tiles``) against the tree the scan
recomputed from the entries: every tile the size they cover needs is there, with exactly
its hashes; a tile that differs is named by its position (``tile/<L>/<N>``, the hash in
it, the entries that hash covers).

1. the size the tiles cover: not beyond the ledger (``TILES_BEYOND_LEDGER``); below the
   latest checkpoint is a notice (``TILES_BEHIND``: built by ``xinlian gateway tiles
   build``), not a failure: tiles are derived from the entries and nothing signed
   depends on them;
2. every stored tile, level by level in index order, equal to the same hashes of the
   recomputed tree (``TILE_MISMATCH``), and wanted at that size (``TILE_UNEXPECTED``);
   hashes over an entry whose stored leaf hash was changed (already named) differ from
   that tree as they should, and are not reported again;
3. every tile the size needs stored (``TILE_MISSING``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from sqlalchemy import Connection

from audit.levels import HashLevels
from audit.merkle import HASH_SIZE
from audit.tiles import (
    FULL_TILE_BYTES,
    TILE_HEIGHT,
    TILE_WIDTH,
    first_difference,
    tile_path,
    tiles_of,
)
from gateway.store.ledger_tiles import all_tiles, tile_levels_stored, tiled_size
from gateway.verify.report import Problem, VerifyReport

TILE_READ_CHUNK = 512
"""Tiles read per query (4 MiB of level-0 tiles)."""
PREFETCH_CHUNKS = 8
"""Chunks of level-0 tiles read ahead while the scan waits for its worker (32 MiB)."""


class TilePrefetch:
    """The first level-0 tiles, read while this process would otherwise wait for the
    scan's worker (``gateway.verify.scan``): the check then finds them in memory."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rows: list[tuple[int, bytes]] = []

    def read(self) -> None:
        start = 0
        for _ in range(PREFETCH_CHUNKS):
            rows = all_tiles(self.conn, 0, start, TILE_READ_CHUNK)
            self.rows += rows
            if len(rows) < TILE_READ_CHUNK:
                return
            start = rows[-1][0] + 1

    def take(self, level: int, start: int) -> list[tuple[int, bytes]]:
        """The prefetched rows of ``level`` from ``start`` on (then forgotten)."""
        if level != 0 or start != 0:
            return []
        rows, self.rows = self.rows, []
        return rows


def check_tiles(
    conn: Connection,
    report: VerifyReport,
    levels: HashLevels,
    bad_leaves: Sequence[int] = (),
    prefetch: TilePrefetch | None = None,
) -> None:
    """``bad_leaves``: entries whose stored leaf hash differs from their body's, already
    reported: a tile hash differing over them says nothing more and is not reported.
    ``prefetch``: level-0 tiles read ahead (the rows after them are read here)."""
    # (1) the size the tiles cover
    size = tiled_size(conn)
    report.tiled_size = size
    if size > levels.size:
        report.add(
            Problem(
                "tile",
                "TILES_BEYOND_LEDGER",
                f"the stored tiles cover {size} entries, only {levels.size} are stored",
                object_id=tile_path(0, (size - 1) // TILE_WIDTH),
            )
        )
        return
    if size < report.covered_size:
        report.notices.append(
            Problem(
                "tile",
                "TILES_BEHIND",
                f"the stored tiles cover {size} entries, the checkpoints {report.covered_size}"
                " (xinlian gateway tiles build)",
            )
        )
    # (2) every stored tile equals the recomputed hashes
    wanted = {(lv, i): w for lv, i, w in tiles_of(size)}
    for level in tile_levels_stored(conn):
        row_level = levels.level(level * TILE_HEIGHT)
        start = 0
        while True:
            rows = (prefetch.take(level, start) if prefetch else []) or all_tiles(
                conn, level, start, TILE_READ_CHUNK
            )
            for index, data in rows:
                report.tiles += 1
                width = wanted.pop((level, index), 0)
                if width == 0:
                    report.add(
                        _problem(
                            "TILE_UNEXPECTED",
                            level,
                            index,
                            0,
                            f"not a tile of the {size} entries the tiles cover",
                        )
                    )
                    continue
                offset = index * FULL_TILE_BYTES
                want = bytes(row_level[offset : offset + width * HASH_SIZE])
                if data != want and not _explained(data, want, level, index, bad_leaves):
                    at = first_difference(data, want)
                    what = (
                        f"{len(data) // HASH_SIZE} hashes, want {width}"
                        if len(data) != len(want) and at == min(len(data), len(want)) // 32
                        else "differs from the hash recomputed from the stored entries"
                    )
                    report.add(_problem("TILE_MISMATCH", level, index, at, what))
            if len(rows) < TILE_READ_CHUNK or len(rows) % TILE_READ_CHUNK:
                break
            start = rows[-1][0] + 1
    # (3) every tile the size needs
    for (level, index), _ in sorted(wanted.items())[:1]:
        report.add(
            _problem("TILE_MISSING", level, index, 0, f"missing ({len(wanted)} tiles missing)")
        )


def _explained(data: bytes, want: bytes, level: int, index: int, bad_leaves: Sequence[int]) -> bool:
    """Whether every hash where ``data`` and ``want`` differ covers a bad leaf."""
    if not bad_leaves or len(data) != len(want):
        return False
    span = TILE_WIDTH**level
    for at in range(len(data) // HASH_SIZE):
        cut = slice(at * HASH_SIZE, (at + 1) * HASH_SIZE)
        if data[cut] != want[cut]:
            first = (index * TILE_WIDTH + at) * span
            i = bisect_left(bad_leaves, first)
            if i == len(bad_leaves) or bad_leaves[i] >= first + span:
                return False
    return True


def _problem(code: str, level: int, index: int, at: int, what: str) -> Problem:
    span = TILE_WIDTH**level
    first = (index * TILE_WIDTH + at) * span
    return Problem(
        "tile",
        code,
        f"tile {level}/{index} ({tile_path(level, index)}), hash {at} (entries {first}.."
        f"{first + span - 1}): {what}",
        object_id=tile_path(level, index),
    )
