"""The demo's ledger-tiles step (scripts/demo.py runs it after the audit), on a copy of
the database so the serving gateway is untouched:

14b. the ledger's tiles (C2SP tlog-tiles, docs/ledger.md) are dropped from the copy, as
     in a ledger from before revision 0008, and built again with ``xinlian gateway tiles
     build``; then one hash of a tile is changed and verification names the tile.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

Xl = Callable[..., str]
INTEGRITY = 1  # xinlian.exit_codes.ExitCode.INTEGRITY


def tiles_section(xl: Xl, banner: Callable[[str], None], home: Path, demo: Path) -> None:
    banner("14b. Ledger tiles: built for an older ledger; a tampered tile is named by verify")
    copy = demo / "tiles.db"
    source = sqlite3.connect(home / "gateway.db")
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.execute("DELETE FROM ledger_tiles")
    target.commit()
    print(f"(dropped the stored tiles of {copy})")
    env = {"XINLIAN_DB_URL": f"sqlite:///{copy}"}
    xl("gateway", "tiles", "build", "--home", str(home), env=env)
    target.execute(
        "UPDATE ledger_tiles SET hashes = CAST(zeroblob(32) || substr(hashes, 33) AS BLOB) "
        "WHERE level = 0 AND idx = 0"
    )
    target.commit()
    target.close()
    print("(changed the first hash of tile 0/0)")
    xl("audit", "verify", "--home", str(home), expect=INTEGRITY, env=env)
