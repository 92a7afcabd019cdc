"""``xinlian gateway tiles build``: build the stored tiles of a ledger written before
revision 0008 (or whose tiles fell behind), once, resumably, with progress.

Steps: (1) the schema must be current (``xinlian gateway migrate`` first); (2) the
target is the latest checkpoint's size; (3) the tiles are extended from where they
stand in transactions of ``BUILD_CHUNK_LEAVES`` leaves, each committed on its own, so
an interrupted build continues where it stopped; a serving gateway may keep running
(its checkpoints extend the tiles themselves once the build has reached them).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from gateway.host.cli import HOME_OPTION, load_config
from gateway.store.db import Store
from gateway.store.ledger import latest_checkpoint
from gateway.store.ledger_tiles import build_tiles, tiled_size
from xinlian.console import print_json

PROGRESS_EVERY_S = 1.0
"""Least time between two progress lines."""


@click.group("tiles")
def tiles_group() -> None:
    """The ledger's stored tiles (C2SP tlog-tiles)."""


@tiles_group.command("build")
@HOME_OPTION
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def build_cmd(home: Path, as_json: bool) -> None:
    """Build the ledger's tiles up to the latest checkpoint (resumable)."""
    config = load_config(home)
    store = Store(config.database_url)
    try:
        # (1) a current schema
        store.check_schema()
        # (2) the target
        checkpoint = store.read(latest_checkpoint)
        target = checkpoint.tree_size if checkpoint is not None else 0
        before = store.read(tiled_size)
        # (3) chunk by chunk, each committed
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or done >= total:
                last[0] = now
                percent = 100 * done // total if total else 100
                click.echo(f"tiles: {done}/{total} entries ({percent} %)", err=True)

        after = before
        if target > before:
            after = build_tiles(store.write, store.dialect, target, progress)
    finally:
        store.close()
    if as_json:
        print_json({"before": before, "tiled_size": after, "checkpoint_size": target})
        return
    if after == before:
        click.echo(f"tiles already cover {after} entries (latest checkpoint {target})")
    else:
        click.echo(f"tiles built: they cover {after} entries (were {before})")
