"""One store suite, run on SQLite and on a real PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from authz.catalog import Catalog
from gateway.core.caller import Caller
from gateway.flows.registry import Application, Registry, get_node
from gateway.store import migrate, schema
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from xinlian.clock import FakeClock
from xinlian.errors import (
    AlreadyExists,
    FailedPrecondition,
    SchemaMismatch,
    Unauthenticated,
)
from xinlian.pki import create_ca, make_csr, new_private_key

ADMIN = Caller("admin", "admin", "350000", "f" * 64, "1")


@pytest.fixture
def store(db_url: str) -> Store:
    store = Store(db_url)
    migrate.upgrade(store.engine)
    yield store  # type: ignore[misc]
    store.close()


@pytest.fixture
def registry() -> Registry:
    clock = FakeClock()
    ca_key, ca_cert = create_ca("CA", clock.now())
    return Registry(Catalog.default(), clock, ca_key, ca_cert)


def test_unmigrated_database_is_refused_with_instructions(db_url: str) -> None:
    store = Store(db_url)
    try:
        with pytest.raises(SchemaMismatch, match="xinlian gateway migrate"):
            store.check_schema()
        migrate.upgrade(store.engine)
        store.check_schema()
    finally:
        store.close()


def test_newer_schema_is_refused(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaMismatch, match="9999"):
        store.check_schema()


def test_migrations_downgrade_and_upgrade_cleanly(store: Store) -> None:
    migrate.downgrade(store.engine, "base")
    assert migrate.current_revision(store.engine) is None
    migrate.upgrade(store.engine)
    store.check_schema()


def test_migrations_create_the_tables_of_the_schema(store: Store) -> None:
    """gateway/store/schema.py and the migrations describe the same tables."""
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, schema.metadata) == []


def test_downgrade_refuses_to_drop_erased_batches(store: Store) -> None:
    """Erased signed bytes cannot come back: revision 0002 has no place for a batch
    without them."""
    with store.engine.begin() as conn:
        batch_pk = conn.execute(
            schema.batches.insert().values(
                node_id="court",
                batch_id="j-1",
                category="judicial",
                canonical=None,
                signature=b"s",
                signer_fingerprint="f" * 64,
                received_at_us=0,
                ledger_index=0,
                record_count=1,
                accepted=1,
                duplicates=0,
                rejected=0,
            )
        ).inserted_primary_key[0]
        conn.execute(
            schema.batch_erasures.insert().values(
                batch_pk=batch_pk,
                erased_at_us=0,
                ledger_index=1,
                canonical_sha256="0" * 64,
                kept="[]",
            )
        )
    with pytest.raises(FailedPrecondition, match="erased"):
        migrate.downgrade(store.engine, "0002")
    assert migrate.current_revision(store.engine) == migrate.head_revision()


def _apply(store: Store, registry: Registry, node_id: str, kind: str = "institution") -> None:
    commit_now(
        store,
        registry.clock,
        registry.apply(Application("n", kind, "350100", requested_id=node_id), "t"),
    )


def test_registry_lifecycle_and_ledger_indexes(store: Store, registry: Registry) -> None:
    _apply(store, registry, "bank-1")
    with pytest.raises(AlreadyExists):
        _apply(store, registry, "bank-1")
    admission = commit_now(
        store, registry.clock, registry.admit(ADMIN, "bank-1", "ok", "ok", "", "t")
    )
    assert admission.node.state == "admitted"
    csr = make_csr(new_private_key(), "bank-1").decode()
    issued = commit_now(store, registry.clock, registry.enroll(admission.token, csr, "t"))
    assert issued.node.node_id == "bank-1"
    with pytest.raises(Unauthenticated, match="already used"):
        commit_now(store, registry.clock, registry.enroll(admission.token, csr, "t"))
    commit_now(store, registry.clock, registry.change_state(ADMIN, "bank-1", "suspend", "r", "t"))
    with pytest.raises(FailedPrecondition):
        commit_now(
            store, registry.clock, registry.change_state(ADMIN, "bank-1", "suspend", "r", "t")
        )
    commit_now(store, registry.clock, registry.change_state(ADMIN, "bank-1", "exit", "r", "t"))
    with store.engine.connect() as conn:
        node = get_node(conn, "bank-1")
        indexes = [r.idx for r in conn.execute(select(schema.ledger_entries.c.idx))]
        revoked = conn.execute(select(schema.certificates.c.revoked_at_us)).scalars().all()
        size = conn.execute(select(schema.ledger_head.c.size)).scalar_one()
    assert node is not None and node.state == "exited"
    assert sorted(indexes) == list(range(len(indexes))) and size == len(indexes)
    assert len(indexes) == 5  # applied, admitted, enrolled, suspended, exited
    assert revoked and all(r is not None for r in revoked)


def test_expired_token_is_refused(store: Store, registry: Registry) -> None:
    _apply(store, registry, "bank-2")
    admission = commit_now(
        store, registry.clock, registry.admit(ADMIN, "bank-2", "ok", "ok", "", "t")
    )
    assert isinstance(registry.clock, FakeClock)
    registry.clock.advance(registry.token_ttl + timedelta(seconds=1))
    csr = make_csr(new_private_key(), "bank-2").decode()
    with pytest.raises(Unauthenticated, match="expired"):
        commit_now(store, registry.clock, registry.enroll(admission.token, csr, "t"))


def test_failed_unit_leaves_no_ledger_entry(store: Store, registry: Registry) -> None:
    _apply(store, registry, "bank-3")
    with pytest.raises(AlreadyExists):
        _apply(store, registry, "bank-3")
    with store.engine.connect() as conn:
        assert conn.execute(select(schema.ledger_head.c.size)).scalar_one() == 1


def test_token_is_one_time_under_concurrent_enrollment(store: Store, registry: Registry) -> None:
    _apply(store, registry, "bank-4")
    admission = commit_now(
        store, registry.clock, registry.admit(ADMIN, "bank-4", "ok", "ok", "", "t")
    )
    results: list[str] = []

    def attempt() -> None:
        csr = make_csr(new_private_key(), "bank-4").decode()
        try:
            commit_now(store, registry.clock, registry.enroll(admission.token, csr, "t"))
            results.append("ok")
        except Unauthenticated:
            results.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] + ["refused"] * 5


def test_concurrent_writers_keep_one_gapless_ledger(store: Store, registry: Registry) -> None:
    def work(i: int):  # type: ignore[no-untyped-def]
        return registry.apply(Application("n", "institution", "350100", requested_id=f"c-{i}"), "t")

    def worker(start: int) -> None:
        for i in range(start, start + 10):
            commit_now(store, registry.clock, work(i))

    threads = [threading.Thread(target=worker, args=(k * 10,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.engine.connect() as conn:
        indexes = sorted(r.idx for r in conn.execute(select(schema.ledger_entries.c.idx)))
    assert indexes == list(range(40))


def test_ledger_tx_undo_restores_frontier(store: Store, registry: Registry) -> None:
    from audit.entry import Action, Entry
    from audit.merkle import CompactRange

    ledger = LedgerTx(CompactRange())
    entry = Entry(
        action=Action.NODE_APPLIED,
        time=registry.clock.now(),
        actor="a",
        actor_kind="admin",
        outcome="ok",
        trace_id="t",
    )
    ledger.append(entry)
    mark = ledger.mark()
    root = ledger.frontier.root()
    ledger.append(entry)
    ledger.undo(mark)
    assert ledger.size == 1 and ledger.frontier.root() == root


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()
