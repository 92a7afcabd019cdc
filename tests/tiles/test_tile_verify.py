"""Verify checks the stored tiles against the tree recomputed from the entries: a
tampered, missing, extra or truncated tile is named by its position; with one process
and with the split scan alike. Pruning and erasure leave the tiles as they are."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from support.ledger_helpers import cli_verify, verify
from tile_seed import seed

from gateway.host.home import init_home
from gateway.store import schema
from gateway.store.db import Store

T = schema.ledger_tiles


@pytest.fixture
def ledger(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = init_home(tmp_path / "gw")
    store = Store(config.database_url)
    seed(config, store, [3000, 70_000])
    try:
        yield config, store
    finally:
        store.close()


def _tile(store: Store, level: int, index: int) -> bytes:
    return bytes(
        store.read(
            lambda c: c.execute(
                select(T.c.hashes).where(T.c.level == level, T.c.idx == index)
            ).scalar_one()
        )
    )


def _set(store: Store, level: int, index: int, data: bytes) -> None:
    store.write(
        lambda c: c.execute(
            T.update().where(T.c.level == level, T.c.idx == index).values(hashes=data)
        )
    )


@pytest.mark.parametrize("split", [1, 10**9], ids=["two-processes", "one-process"])
def test_clean_ledger_verifies_with_its_tiles(ledger, split: int) -> None:  # type: ignore[no-untyped-def]
    config, store = ledger
    report = verify(config, store, split_min_entries=split)
    assert report.ok, report.problems
    assert report.tiled_size == 70_000
    assert report.tiles == 274 + 2 + 1  # level 0: 274 tiles, level 1: 2, level 2: 1


@pytest.mark.parametrize("split", [1, 10**9], ids=["two-processes", "one-process"])
def test_a_tampered_tile_is_named_with_its_position(ledger, split: int) -> None:  # type: ignore[no-untyped-def]
    config, store = ledger
    data = bytearray(_tile(store, 0, 100))
    data[17 * 32] ^= 1
    _set(store, 0, 100, bytes(data))
    report = verify(config, store, split_min_entries=split)
    assert not report.ok
    [problem] = report.problems
    assert problem.code == "TILE_MISMATCH"
    assert problem.object_id == "tile/0/100"
    assert "hash 17 (entries 25617..25617)" in problem.message
    assert report.first_bad_object == "tile/0/100"
    assert report.first_bad_index is None  # the entries themselves are fine


def test_a_tampered_upper_tile_names_the_entries_its_hash_covers(ledger) -> None:  # type: ignore[no-untyped-def]
    config, store = ledger
    data = bytearray(_tile(store, 1, 0))
    data[3 * 32 + 5] ^= 0xFF
    _set(store, 1, 0, bytes(data))
    [problem] = verify(config, store).problems
    assert problem.code == "TILE_MISMATCH"
    assert "tile 1/0 (tile/1/000), hash 3 (entries 768..1023)" in problem.message


def test_missing_truncated_and_extra_tiles(ledger) -> None:  # type: ignore[no-untyped-def]
    config, store = ledger
    store.write(lambda c: c.execute(T.delete().where(T.c.level == 0, T.c.idx == 5)))
    _set(store, 1, 1, _tile(store, 1, 1)[:-32])
    store.write(lambda c: c.execute(T.insert().values(level=3, idx=0, hashes=bytes(32))))
    codes = {(p.code, p.object_id) for p in verify(config, store).problems}
    assert codes == {
        ("TILE_MISSING", "tile/0/005"),
        ("TILE_MISMATCH", "tile/1/001"),
        ("TILE_UNEXPECTED", "tile/3/000"),
    }


def test_tiles_behind_the_checkpoints_are_a_notice(ledger) -> None:  # type: ignore[no-untyped-def]
    config, store = ledger
    store.write(lambda c: c.execute(T.delete()))
    report = verify(config, store)
    assert report.ok
    assert [n.code for n in report.notices] == ["TILES_BEHIND"]


def test_cli_names_the_tile(ledger) -> None:  # type: ignore[no-untyped-def]
    config, store = ledger
    _set(store, 0, 3, bytes(8192))
    result = cli_verify(config.home)
    assert result.exit_code == 1
    assert "first bad object tile/0/003" in result.output
    assert "[TILE_MISMATCH] tile 0/3 (tile/0/003), hash 0 (entries 768..768)" in result.output


def test_pruned_bodies_keep_the_tiles(ledger) -> None:  # type: ignore[no-untyped-def]
    config, store = ledger
    before = store.read(lambda c: c.execute(select(T)).all())
    # pruning sets bodies to NULL (and, on SQLite, the summary): the tiles stay as they are
    e = schema.ledger_entries
    from gateway.store.dialect import SQLITE

    store.write(
        lambda c: c.execute(e.update().where(e.c.idx < 500).values(**SQLITE.prune_values()))
    )
    assert store.read(lambda c: c.execute(select(T)).all()) == before
    report = verify(config, store)
    assert report.ok and report.pruned == 500


@pytest.mark.parametrize("split", [1, 10**9], ids=["two-processes", "one-process"])
def test_tiles_read_ahead_and_after_are_all_checked(
    ledger, split: int, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Small chunks: the read-ahead while the worker finishes holds 2 × 16 level-0
    tiles, the rest is read after it; a change on either side is found, every tile is
    counted once."""
    from gateway.verify import tiles

    monkeypatch.setattr(tiles, "TILE_READ_CHUNK", 16)
    monkeypatch.setattr(tiles, "PREFETCH_CHUNKS", 2)
    config, store = ledger
    for index in (5, 31, 32, 200):
        data = bytearray(_tile(store, 0, index))
        data[0] ^= 1
        _set(store, 0, index, bytes(data))
    report = verify(config, store, split_min_entries=split)
    assert report.tiles == 274 + 2 + 1
    assert [p.object_id for p in report.problems] == [
        "tile/0/005",
        "tile/0/031",
        "tile/0/032",
        "tile/0/200",
    ]


def test_a_tile_stored_as_text_is_named_not_a_crash(ledger) -> None:  # type: ignore[no-untyped-def]
    """SQLite keeps any type in any column: a tile rewritten as TEXT is still read as
    bytes and compared."""
    config, store = ledger
    store.write(
        lambda c: c.exec_driver_sql(
            "UPDATE ledger_tiles SET hashes = CAST(zeroblob(32) || substr(hashes, 33) AS TEXT) "
            "WHERE level = 0 AND idx = 7"
        )
    )
    [problem] = verify(config, store).problems
    assert (problem.code, problem.object_id) == ("TILE_MISMATCH", "tile/0/007")
