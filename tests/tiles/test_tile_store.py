"""Stored tiles: written with each checkpoint, equal to the tree's levels; proofs from
them equal the reference model's; a restarted gateway's first proof reads O(log n)
tiles and a few hundred leaf hashes, not the ledger; a tampered tile is refused."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import event, select, text
from support.harness import LoopThread, running_gateway
from tile_seed import seed

from audit import merkle
from audit.levels import HashLevels
from audit.tiles import level_slice, tiles_of
from gateway.host.assemble import build_runtime
from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from gateway.host.server import start
from gateway.store import schema
from gateway.store.db import Store
from gateway.store.ledger import LeafCache, latest_checkpoint
from gateway.store.ledger_tiles import TileProofs, build_tiles, tiled_size
from xinlian.errors import IntegrityViolation
from xinlian.identity import Identity
from xinlian.v1 import audit_pb2, audit_pb2_grpc

SIZES = [1, 2, 300, 301, 700, 3000, 3001]


def _leaves(store: Store) -> list[bytes]:
    t = schema.ledger_entries.c
    return [
        bytes(h)
        for h in store.read(lambda c: c.execute(select(t.leaf_hash).order_by(t.idx)).scalars())
    ]


def _tiles(store: Store) -> dict[tuple[int, int], bytes]:
    t = schema.ledger_tiles.c
    rows = store.read(lambda c: c.execute(select(t.level, t.idx, t.hashes)).all())
    return {(int(lv), int(i)): bytes(h) for lv, i, h in rows}


def test_checkpoints_store_the_tiles_and_proofs_match(tmp_path: Path, db_url: str) -> None:
    config = init_home(tmp_path / "gw", db_url=db_url)
    store = Store(config.database_url)
    try:
        seed(config, store, SIZES)
        leaves = _leaves(store)
        size = len(leaves)
        assert store.read(tiled_size) == size == SIZES[-1]
        levels = HashLevels()
        levels.extend_bulk(b"".join(leaves))
        stored = _tiles(store)
        assert sorted(stored) == sorted((lv, i) for lv, i, _ in tiles_of(size))
        for lv, i, width in tiles_of(size):
            assert stored[(lv, i)] == level_slice(levels.level_bytes(), lv, i, width)
        proofs = TileProofs(64)
        rng = random.Random(5)
        for _ in range(60):
            n = rng.randint(1, size)
            index = rng.randrange(n)
            got = store.read(lambda c, i=index, n=n: proofs.inclusion(c, i, n))
            assert got.proof == merkle.inclusion_proof(leaves, index, n)
            assert got.leaf_hash == leaves[index] and got.tree_size == n
            first = rng.randint(0, n)
            assert store.read(
                lambda c, f=first, n=n: proofs.consistency(c, f, n)
            ) == merkle.consistency_proof(leaves, first, n)
        assert len(proofs.cache) <= 64
        assert proofs.fallback.size == 0  # never read every leaf
    finally:
        store.close()


def test_build_resumes_and_matches_checkpoint_written_tiles(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw")
    store = Store(config.database_url)
    try:
        seed(config, store, [5000])
        want = _tiles(store)
        # a ledger from before revision 0008: no tiles; the old cache serves proofs
        store.write(lambda c: c.execute(schema.ledger_tiles.delete()))
        proofs = TileProofs(64)
        leaves = _leaves(store)
        assert store.read(lambda c: proofs.inclusion(c, 7, 0)).proof == (
            merkle.inclusion_proof(leaves, 7, 5000)
        )
        assert proofs.fallback.size == 5000
        # built in chunks, stopped after the first and resumed
        seen: list[tuple[int, int]] = []

        def stop_after_one(done: int, target: int) -> None:
            seen.append((done, target))
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            build_tiles(store.write, store.dialect, 5000, stop_after_one, chunk=1024)
        assert store.read(tiled_size) == 1024
        build_tiles(store.write, store.dialect, 5000, lambda d, t: seen.append((d, t)), chunk=1024)
        assert seen[-1] == (5000, 5000) and seen[1] == (2048, 5000)
        assert _tiles(store) == want
        fresh = TileProofs(64)
        assert store.read(lambda c: fresh.inclusion(c, 7, 0)).proof == (
            merkle.inclusion_proof(leaves, 7, 5000)
        )
        assert fresh.fallback.size == 0
    finally:
        store.close()


def test_a_tampered_tile_is_refused(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw")
    store = Store(config.database_url)
    try:
        seed(config, store, [3000])
        t = schema.ledger_tiles
        # the last tile of level 0 (on the root's path): its first hash changed
        data = _tiles(store)[(0, 11)]
        store.write(
            lambda c: c.execute(
                t.update().where(t.c.level == 0, t.c.idx == 11).values(hashes=bytes(32) + data[32:])
            )
        )
        with pytest.raises(IntegrityViolation) as err:
            store.read(lambda c: TileProofs(64).inclusion(c, 5, 0))
        assert err.value.reason == "CHECKPOINT_MISMATCH"
        # a full tile off the root's path: its leaf hashes disagree with the entries
        data = _tiles(store)[(0, 2)]
        store.write(
            lambda c: c.execute(
                t.update().where(t.c.level == 0, t.c.idx == 2).values(hashes=data[::-1])
            )
        )
        with pytest.raises(IntegrityViolation, match="tile 0/2"):
            store.read(lambda c: TileProofs(64).inclusion(c, 600, 0))
    finally:
        store.close()


class RowCounter:
    """Counts the rows each SELECT on a table returned, by running the statement again
    with the same parameters on a second connection."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.statements: list[tuple[str, Any]] = []
        event.listen(store.engine, "after_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, *a: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.statements.append((statement, parameters))

    def rows(self, table: str) -> int:
        total = 0
        with self.store.engine.connect() as conn:
            for statement, parameters in self.statements:
                if f"FROM {table}" in statement:
                    total += len(conn.exec_driver_sql(statement, parameters).all())
        return total

    def close(self) -> None:
        event.remove(self.store.engine, "after_cursor_execute", self._seen)


@pytest.mark.integration
def test_restarted_gateway_first_proof_reads_few_rows(tmp_path: Path) -> None:
    with running_gateway(tmp_path) as gw:
        bank = gw.enroll_node("institution", "bank-1")
        seed(gw.config, gw.runtime.store, [20_000, 30_000])
    # the same home, a new runtime and server: a restart
    loop = LoopThread()
    runtime = build_runtime(GatewayConfig.load(gw.home))
    running = loop.run(start(runtime, "127.0.0.1:0", "127.0.0.1:0"))
    try:
        store = runtime.store
        size = store.read(latest_checkpoint).tree_size
        counter = RowCounter(store)
        bank = Identity.load(bank.files.root, gateway=f"127.0.0.1:{running.port}")
        try:
            with bank.channel() as channel:
                stub = audit_pb2_grpc.AuditServiceStub(channel)
                reply = stub.GetInclusionProof(
                    audit_pb2.GetInclusionProofRequest(index=12_345), timeout=30
                )
                consistency = stub.GetConsistencyProof(
                    audit_pb2.GetConsistencyProofRequest(first_size=20_000), timeout=30
                )
        finally:
            counter.close()
        leaves = _leaves(store)
        assert list(reply.proof) == merkle.inclusion_proof(leaves, 12_345, size)
        assert list(consistency.proof) == merkle.consistency_proof(leaves, 20_000, size)
        # two proofs: at most 3 level-0 tiles cross-checked with their entries' leaf
        # hashes, a few tiles, against 30 000+ entries
        assert counter.rows("ledger_entries") <= 3 * 256
        assert 0 < counter.rows("ledger_tiles") <= 12
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one() >= 30_000
    finally:
        loop.run(running.stop(grace=1))
        loop.close()


def test_a_restarted_gateway_refuses_proofs_past_tampered_leaves(tmp_path: Path) -> None:
    """The leaf hashes of a loaded level-0 tile are compared with the stored entries, so
    the old behaviour (a changed leaf hash refuses the proof) holds."""
    config = init_home(tmp_path / "gw")
    store = Store(config.database_url)
    try:
        seed(config, store, [600])
        t = schema.ledger_entries
        store.write(lambda c: c.execute(t.update().where(t.c.idx == 3).values(leaf_hash=bytes(32))))
        with pytest.raises(IntegrityViolation):
            store.read(lambda c: TileProofs(64).inclusion(c, 2, 0))
        # the old cache agrees
        with pytest.raises(IntegrityViolation):
            store.read(lambda c: LeafCache().inclusion(c, 2, 0))
    finally:
        store.close()


def test_grpc_status_of_a_tampered_tile(tmp_path: Path) -> None:
    with running_gateway(tmp_path) as gw:
        bank = gw.enroll_node("institution", "bank-1")
        seed(gw.config, gw.runtime.store, [400])
        t = schema.ledger_tiles
        width = len(_tiles(gw.runtime.store)[(0, 1)])
        gw.runtime.store.write(
            lambda c: c.execute(
                t.update().where(t.c.level == 0, t.c.idx == 1).values(hashes=bytes(width))
            )
        )
        with bank.channel() as channel:
            stub = audit_pb2_grpc.AuditServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.GetInclusionProof(audit_pb2.GetInclusionProofRequest(index=0), timeout=10)
        assert err.value.code() == grpc.StatusCode.DATA_LOSS
