"""The peer-facing witnessing steps on both engines, on a real store: who may hand in a
cosignature and what it must verify over, what a checkpoint is served with, which hop
entry a peer may read, a tampered cosignature row found by verification, and the
migration's tables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, update

from audit.checkpoint import Checkpoint, NoteSigner, NoteVerifier, open_note, verify_note
from audit.cosignature import Cosigner, verified_cosignatures
from audit.entry import Action, Entry, Outcome
from audit.merkle import leaf_hash
from gateway.flows.checkpointer import sign_checkpoint
from gateway.flows.witness_peers import WitnessPeer
from gateway.flows.witness_serve import (
    accept_cosignature,
    cosigned_checkpoint,
    hop_entry,
    witnessed_note,
)
from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from gateway.store import schema
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from gateway.store.witness_store import Cosigned, save_cosigned
from gateway.verify import VerifyReport
from gateway.verify.witnesses import check_witnesses
from xinlian.clock import SystemClock
from xinlian.errors import IntegrityViolation, InvalidArgument, NotFound, PermissionDenied

NOW = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)


@pytest.fixture
def home(db_url: str, tmp_path: Path) -> tuple[GatewayConfig, Store]:
    config = init_home(tmp_path / "gw", db_url=db_url, origin="gw-b.example/ledger")
    store = Store(config.database_url)
    yield config, store  # type: ignore[misc]
    store.close()


def _append(store: Store, trace_id: str, details: dict[str, object]) -> int:
    entry = Entry(Action.QUERY, NOW, "bank-1", "institution", Outcome.OK, trace_id, details=details)

    def work(conn: object, ledger: LedgerTx) -> int:
        return ledger.append(entry)

    return int(commit_now(store, SystemClock(), work))  # type: ignore[arg-type]


def _signer(config: GatewayConfig) -> NoteSigner:
    return NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip())


def test_migration_creates_the_witness_tables(home: tuple[GatewayConfig, Store]) -> None:
    _, store = home
    tables = set(inspect(store.engine).get_table_names())
    for table in (schema.witness_cosigned, schema.witness_received, schema.witness_views):
        assert table.name in tables
        columns = {c["name"] for c in inspect(store.engine).get_columns(table.name)}
        assert columns == {c.name for c in table.columns}
    indexes = {i["name"] for i in inspect(store.engine).get_indexes("ledger_entries")}
    assert "ix_ledger_trace" in indexes


def test_cosignatures_are_checked_kept_and_served(home: tuple[GatewayConfig, Store]) -> None:
    config, store = home
    _append(store, "t", {})
    size = sign_checkpoint(store, _signer(config), config.origin, SystemClock())
    assert size is not None
    witness_key = NoteSigner.generate("gw-a.example/ledger")
    peer = WitnessPeer("gw-a", witness_key.name, witness_key.verifier_key())
    body = verify_note(size.note, _signer(config).verifier()).decode()
    line = Cosigner(witness_key).cosign(body.encode(), int(NOW.timestamp())).line()
    peers = (peer,)
    # (1) only a configured peer
    with pytest.raises(PermissionDenied):
        store.write(lambda c: accept_cosignature(c, peers, "gw-x", size.tree_size, line, NOW))
    # (2) under its own key
    other = Cosigner(NoteSigner.generate("gw-a.example/ledger"))
    with pytest.raises(InvalidArgument):
        store.write(
            lambda c: accept_cosignature(
                c, peers, "gw-a", size.tree_size, other.cosign(body.encode(), 1).line(), NOW
            )
        )
    # (3) of a checkpoint this gateway signed
    with pytest.raises(NotFound):
        store.write(lambda c: accept_cosignature(c, peers, "gw-a", size.tree_size + 5, line, NOW))
    # (4) stamped no later than now + the allowed skew
    late = Cosigner(witness_key).cosign(body.encode(), int(NOW.timestamp()) + 3600).line()
    with pytest.raises(IntegrityViolation):
        store.write(lambda c: accept_cosignature(c, peers, "gw-a", size.tree_size, late, NOW))
    # (5) kept once, served with the checkpoint
    for _ in range(2):
        store.write(lambda c: accept_cosignature(c, peers, "gw-a", size.tree_size, line, NOW))
    served = store.read(lambda c: cosigned_checkpoint(c, 0))
    assert served.witnesses == ("gw-a",) and served.note.count("\u2014 ") == 2
    assert verified_cosignatures(served.note, [peer.cosignature_verifier])
    # verification names the witnessed checkpoint, and finds a tampered row
    report = VerifyReport(checkpoints=1)
    found = store.read(lambda c: check_witnesses(c, report, peers))
    assert [(w.tree_size, w.witnesses[0][0]) for w in found] == [(size.tree_size, "gw-a")]
    assert report.ok
    tampered = line[:-6] + ("AAAA==" if not line.endswith("AAAA==") else "BBBB==")
    store.write(lambda c: c.execute(update(schema.witness_received).values(line=tampered)))
    report = VerifyReport(checkpoints=1)
    assert store.read(lambda c: check_witnesses(c, report, peers)) == []
    assert [p.code for p in report.problems] == ["BAD_COSIGNATURE"]


def test_a_hop_entry_is_shown_only_to_the_peer_it_names(home: tuple[GatewayConfig, Store]) -> None:
    _, store = home
    index = _append(
        store, "trace-1", {"hop": {"peer": "gw-a", "peer_index": 3, "direction": "out"}}
    )
    plain = _append(store, "trace-1", {})
    body = store.read(lambda c: hop_entry(c, "gw-a", index, "trace-1"))
    assert Entry.decode(body).details["hop"]["peer"] == "gw-a"
    for caller, idx, trace in (
        ("gw-c", index, "trace-1"),
        ("gw-a", index, "trace-2"),
        ("gw-a", plain, "trace-1"),
    ):
        with pytest.raises(NotFound):
            store.read(lambda c, a=caller, i=idx, t=trace: hop_entry(c, a, i, t))


def test_witnessed_note_is_what_was_last_cosigned(home: tuple[GatewayConfig, Store]) -> None:
    _, store = home
    log = NoteSigner.generate("gw-a.example/ledger")
    me = Cosigner(NoteSigner.generate("gw-b.example/ledger"))
    assert store.read(lambda c: witnessed_note(c, log.name)) == ""
    for size in (3, 7):
        note = log.sign_checkpoint(Checkpoint(log.name, size, leaf_hash(bytes([size]))))
        cosig = me.cosign(note.split("\n\n")[0].encode() + b"\n", 100 + size)
        row = Cosigned(log.name, size, leaf_hash(bytes([size])), "gw-a", note, cosig.line(), 1)
        store.write(lambda c, r=row: save_cosigned(c, r))
    note = store.read(lambda c: witnessed_note(c, log.name))
    assert open_note(note, NoteVerifier.from_key_string(log.verifier_key())).size == 7
    (cosig,) = verified_cosignatures(note, [me.verifier()])
    assert cosig.timestamp == 107
