"""The ledger as a C2SP ``tlog-tiles`` log, read-only: the latest checkpoint, hash tiles
and entry bundles, each answered only within the latest signed checkpoint (what a
client can check). Who may read what is decided by the listener
(``gateway.host.tlog_http``); this module only reads.

1. ``checkpoint``: the latest signed note;
2. ``hash_tile``: tile ``(level, index)`` at ``width`` hashes, which must all be complete
   in the checkpoint's tree; the first ``width`` hashes of the stored tile (a stored
   tile only grows at its end, so a prefix is the tile at an earlier size);
3. ``entry_bundle``: the entries ``256·index … 256·index + width - 1``, complete in the
   checkpoint's tree, each length-prefixed; a bundle with a pruned entry is not served.
"""

from __future__ import annotations

from sqlalchemy import Connection

from audit.merkle import HASH_SIZE
from audit.tiles import TILE_WIDTH, TileError, entry_bundle, tile_width
from gateway.store.ledger import entries_page, latest_checkpoint
from gateway.store.ledger_tiles import read_tiles
from xinlian.errors import NotFound


def checkpoint(conn: Connection) -> str:
    stored = latest_checkpoint(conn)
    if stored is None:
        raise NotFound("no checkpoint has been signed yet", reason="NO_CHECKPOINT")
    return stored.note


def _check_width(conn: Connection, level: int, index: int, width: int) -> None:
    stored = latest_checkpoint(conn)
    size = stored.tree_size if stored is not None else 0
    if width > tile_width(level, index, size):
        raise NotFound(
            f"tile {level}/{index} has no {width} hashes in the latest checkpoint's tree",
            reason="NO_SUCH_TILE",
        )


def hash_tile(conn: Connection, level: int, index: int, width: int) -> bytes:
    _check_width(conn, level, index, width)
    data = read_tiles(conn, [(level, index)]).get((level, index), b"")
    if len(data) < width * HASH_SIZE:
        raise NotFound(f"tile {level}/{index} is not built yet", reason="NO_SUCH_TILE")
    return data[: width * HASH_SIZE]


def bundle(conn: Connection, index: int, width: int) -> bytes:
    _check_width(conn, 0, index, width)
    start = index * TILE_WIDTH
    rows = entries_page(conn, start, width, start + width)
    if len(rows) != width or any(r.body is None for r in rows):
        raise NotFound(
            f"entries {start}..{start + width - 1} are not all stored (pruned)",
            reason="ENTRY_PRUNED",
        )
    try:
        return entry_bundle(r.body for r in rows if r.body is not None)
    except TileError as exc:
        raise NotFound(str(exc), reason="ENTRY_TOO_LARGE") from None
