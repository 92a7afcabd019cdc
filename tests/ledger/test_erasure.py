"""Retention erases the signed batch bytes that hold expired negative credit records
(征信业管理条例 第十六条): the record and its fields are gone from the database files, the
records of the batch not yet due keep their provenance, and verification still detects
any change to them, to the erasure or to its ledger entry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, delete, event, func, select, update
from support.harness import Gateway
from support.ledger_helpers import checkpoint, cli_verify, verify

from authz.catalog import Catalog, Purpose
from gateway.core.bounds import MIN_RETENTION_DAYS
from gateway.flows.retention import NEGATIVE_RETENTION_DAYS, PruneResult, prune
from gateway.store import schema
from gateway.store.db import Store
from gateway.store.erasure import decode_kept, record_sha256
from gateway.verify import stored_bytes
from node_agent.push import load_signing_key
from node_agent.query import QueryClient
from xinlian.batch import BatchRecord, canonical_batch
from xinlian.clock import FakeClock
from xinlian.identity import Identity
from xinlian.signing import sign
from xinlian.v1 import audit_pb2, audit_pb2_grpc, exchange_pb2_grpc
from xinlian.v1 import exchange_pb2 as pb
from xinlian_cli.main import cli
from xinlian_samples.generator import generate_enterprises, generate_records

pytestmark = pytest.mark.integration

CATALOG = Catalog.default()
MARKER = "ERASE-ME-4f1c9a2e-only-in-the-due-record"
"""A field value of the expired record and nowhere else: it must leave the files."""
ENTERPRISE = generate_enterprises(1, seed=11)[0]
CODE = ENTERPRISE.credit_code


@dataclass
class Pushed:
    gw: Gateway
    store: Store
    court: Identity
    request: pb.PushRequest
    canonical: bytes
    push_index: int
    due: BatchRecord
    kept: BatchRecord


def _push(identity: Identity, *requests: pb.PushRequest) -> list[pb.PushResponse]:
    with identity.channel() as channel:
        stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
        return list(stub.Push(iter(requests), timeout=60))


def _request(
    identity: Identity, batch_id: str, category: str, records: list[BatchRecord]
) -> tuple[pb.PushRequest, bytes]:
    data = canonical_batch(identity.node_id, batch_id, category, records)
    signature = sign(load_signing_key(identity), data)
    batch = pb.Batch(batch_id=batch_id, category=category, signed_content=data, signature=signature)
    return pb.PushRequest(batch=batch), data


def _records(category: str, now: datetime, marker_field: str) -> tuple[BatchRecord, BatchRecord]:
    """Two valid records of ``category``: one past the negative retention period (with
    MARKER in ``marker_field``), one a year old."""
    old, recent = generate_records(ENTERPRISE, CATALOG.categories[category], 2, seed=11)
    due = BatchRecord(
        CODE,
        old.record_id,
        1,
        now - timedelta(days=NEGATIVE_RETENTION_DAYS + 200),
        {**old.fields, marker_field: MARKER},
    )
    kept = BatchRecord(CODE, recent.record_id, 1, now - timedelta(days=365), dict(recent.fields))
    return due, kept


def _pushed(
    gw: Gateway,
    node_id: str = "court",
    category: str = "judicial",
    batch_id: str = "j-1",
    marker_field: str = "case_cause",
) -> Pushed:
    """A department pushes one batch: one record past the negative retention period (if
    the category is negative, due for deletion), one not."""
    dept = gw.enroll_node("department", node_id, categories=(category,))
    due, kept = _records(category, datetime.now(UTC), marker_field)
    request, data = _request(dept, batch_id, category, [due, kept])
    [response] = _push(dept, request)
    assert response.accepted == 2, response
    return Pushed(gw, gw.runtime.store, dept, request, data, response.ledger_index, due, kept)


@pytest.fixture
def pushed(gateway: Gateway) -> Pushed:
    return _pushed(gateway)


def _prune(store: Store, *, dry_run: bool = False) -> PruneResult:
    return prune(store, FakeClock(datetime.now(UTC)), CATALOG, 183, dry_run=dry_run)


def _read(store: Store, fn: Callable[[Connection], Any]) -> Any:
    return store.read(fn)


def _batch(store: Store) -> Any:
    return _read(store, lambda c: c.execute(select(schema.batches)).one())


def _erasure(store: Store) -> Any:
    return _read(store, lambda c: c.execute(select(schema.batch_erasures)).one())


def _record_ids(store: Store) -> list[str]:
    r = schema.records.c
    return list(_read(store, lambda c: c.execute(select(r.record_id).order_by(r.id)).scalars()))


def _entry(store: Store, index: int) -> dict[str, Any]:
    t = schema.ledger_entries.c
    body = _read(store, lambda c: c.execute(select(t.body).where(t.idx == index)).scalar_one())
    return json.loads(body)  # type: ignore[no-any-return]


def _exec(store: Store, *statements: Any) -> None:
    def run(conn: Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    store.write(run)


def _erase_and_check(p: Pushed) -> Any:
    """Prune; the bytes are erased, the due record deleted; returns the erasure row."""
    result = _prune(p.store)
    assert (result.batches_erased, result.records_deleted, result.erase_refused) == (1, 1, ())
    assert _batch(p.store).canonical is None
    assert _record_ids(p.store) == [p.kept.record_id]
    return _erasure(p.store)


def test_prune_erases_the_bytes_and_keeps_provenance(gateway_any: Gateway) -> None:
    p = _pushed(gateway_any)
    officer = p.gw.enroll_node("officer", "officer-1")
    bank = p.gw.enroll_node("institution", "bank-1")
    erasure = _erase_and_check(p)
    batch = _batch(p.store)
    assert bytes(batch.signature) and batch.signer_fingerprint  # signature and signer stay
    # the erasure row: hash of the erased bytes, digest of the kept record
    assert erasure.canonical_sha256 == hashlib.sha256(p.canonical).hexdigest()
    kept = decode_kept(erasure.kept)
    [(key, item)] = kept.items()
    assert key == (p.kept.record_id, 1)
    assert item.sha256 == record_sha256(p.kept.to_json())
    # the ledger entry: by the gateway, naming the batch, hashes and counts only
    entry = _entry(p.store, int(erasure.ledger_index))
    assert (entry["action"], entry["actor"], entry["subject"]) == (
        "retention.erased",
        "gateway",
        "j-1",
    )
    assert entry["details"] == {
        "node_id": "court",
        "category": "judicial",
        "batch_sha256": erasure.canonical_sha256,
        "records_deleted": 1,
        "kept": 1,
        "kept_sha256": hashlib.sha256(erasure.kept.encode()).hexdigest(),
    }
    assert MARKER not in json.dumps(entry, ensure_ascii=False)
    # verification passes, and says the batch's bytes are erased
    report = verify(p.gw.config, p.store)
    assert report.ok, report.problems
    assert (report.batches, report.erased_batches, report.records) == (1, 1, 1)
    result = cli_verify(p.gw.home)
    assert result.exit_code == 0 and "1 with erased bytes" in result.output, result.output
    # the kept record still answers queries …
    with QueryClient(bank) as client:
        response = client.query(CODE, Purpose.FINANCING, ["judicial"])
    [judicial] = response.categories
    assert judicial.allowed
    assert [r.record_id for r in judicial.records] == [p.kept.record_id]
    # … and traces: its source names the batch and the entry that erased its bytes
    with officer.channel() as channel:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        trace = stub.TraceRecord(
            audit_pb2.TraceRecordRequest(record_id=p.kept.record_id), timeout=10
        )
        flows = stub.TraceEnterprise(audit_pb2.TraceEnterpriseRequest(credit_code=CODE), timeout=10)
        with pytest.raises(grpc.RpcError) as info:  # the deleted record is gone
            stub.TraceRecord(audit_pb2.TraceRecordRequest(record_id=p.due.record_id), timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
    [source] = trace.sources
    assert (source.batch_id, source.ledger_index) == ("j-1", p.push_index)
    assert source.erasure_ledger_index == erasure.ledger_index
    assert {p.push_index, int(erasure.ledger_index)} <= {e.index for e in flows.entries}
    base = ["audit", "trace", "--identity", str(officer.files.root), "--gateway", p.gw.address]
    table = CliRunner().invoke(cli, [*base, "--record", p.kept.record_id])
    assert table.exit_code == 0, table.output
    assert f"erased (entry {erasure.ledger_index})" in table.output
    shown = json.loads(
        CliRunner().invoke(cli, [*base, "--record", p.kept.record_id, "--json"]).output
    )
    assert shown["sources"][0]["bytes_erased_by"] == erasure.ledger_index
    # a second prune finds nothing more to erase
    again = _prune(p.store)
    assert (again.batches_erased, again.records_deleted) == (0, 0)
    assert verify(p.gw.config, p.store).ok


def _files(gw: Gateway) -> dict[str, bytes]:
    db = Path(str(gw.runtime.store.engine.url.database))
    return {
        path.name: path.read_bytes()
        for path in (db, db.with_name(db.name + "-wal"))
        if path.exists()
    }


def test_no_deleted_value_is_left_in_the_sqlite_files(pushed: Pushed) -> None:
    marker = MARKER.encode()
    assert any(marker in data for data in _files(pushed.gw).values())  # it was there
    # SQLite builds differ in their default (Debian's overwrites deleted content, the
    # upstream default does not): connections that do not, so prune must ask for it
    engine = pushed.store.engine

    @event.listens_for(engine, "connect")
    def _keep_deleted_content(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA secure_delete=OFF")

    engine.dispose()
    result = _prune(pushed.store)
    assert result.batches_erased == 1 and result.wal_truncated is True
    files = _files(pushed.gw)
    assert files and all(marker not in data for data in files.values()), list(files)
    # the kept record is still in the file (the check above reads what it should)
    assert pushed.kept.record_id.encode() in files[next(iter(files))]


# Each alteration after the erasure, and what verification names.
def _edit_kept_fields(p: Pushed) -> None:
    fields = {**p.kept.fields, "court_name": "某某人民法院"}
    _exec(
        p.store,
        update(schema.records).values(fields=json.dumps(fields, ensure_ascii=False)),
    )


def _edit_kept_list(p: Pushed) -> None:
    erasure = _erasure(p.store)
    forged = json.loads(erasure.kept)
    forged[0][3] = "0" * 64
    _exec(
        p.store,
        update(schema.batch_erasures).values(
            kept=json.dumps(forged, separators=(",", ":"), ensure_ascii=False)
        ),
    )


def _edit_kept_fields_and_digest(p: Pushed) -> None:
    """A forger who also recomputes the kept digest: the ledger entry still differs."""
    fields = {**p.kept.fields, "court_name": "某某人民法院"}
    _exec(p.store, update(schema.records).values(fields=json.dumps(fields, ensure_ascii=False)))
    item = {**p.kept.to_json(), "fields": fields}
    forged = [[p.kept.record_id, 1, item["event_time"], record_sha256(item)]]
    _exec(
        p.store,
        update(schema.batch_erasures).values(
            kept=json.dumps(forged, separators=(",", ":"), ensure_ascii=False)
        ),
    )


def _delete_erasure_row(p: Pushed) -> None:
    _exec(p.store, delete(schema.batch_erasures))


def _change_canonical_sha256(p: Pushed) -> None:
    _exec(p.store, update(schema.batch_erasures).values(canonical_sha256="ab" * 32))


def _delete_kept_row(p: Pushed) -> None:
    _exec(p.store, delete(schema.records))


def _remove_erasure_entry_body(p: Pushed) -> None:
    index = int(_erasure(p.store).ledger_index)
    t = schema.ledger_entries
    _exec(p.store, update(t).where(t.c.idx == index).values(**p.store.dialect.prune_values()))


def _point_erasure_at_another_entry(p: Pushed) -> None:
    _exec(p.store, update(schema.batch_erasures).values(ledger_index=p.push_index))


@pytest.mark.parametrize(
    ("tamper", "code", "named"),
    [
        (_edit_kept_fields, "RECORD_MISMATCH", "record"),
        (_edit_kept_list, "ERASURE_MISMATCH", "batch"),
        (_edit_kept_fields_and_digest, "ERASURE_MISMATCH", "batch"),
        (_delete_erasure_row, "BATCH_BYTES_MISSING", "batch"),
        (_change_canonical_sha256, "ERASURE_MISMATCH", "batch"),
        (_delete_kept_row, "RECORD_MISSING", "record"),
        (_remove_erasure_entry_body, "ERASURE_MISMATCH", "batch"),
        (_point_erasure_at_another_entry, "ERASURE_MISMATCH", "batch"),
    ],
)
def test_tampering_after_the_erasure_is_named(
    pushed: Pushed, tamper: Callable[[Pushed], None], code: str, named: str
) -> None:
    _erase_and_check(pushed)
    tamper(pushed)
    report = verify(pushed.gw.config, pushed.store)
    assert not report.ok
    codes = {problem.code for problem in report.problems}
    assert code in codes, report.problems
    expected = f"court/{pushed.kept.record_id}@1" if named == "record" else "batch court/j-1"
    assert report.first_bad_object == expected, report.problems
    result = cli_verify(pushed.gw.home)
    assert result.exit_code == 1 and expected in result.output, result.output


def test_the_kept_list_binds_the_push_entry_hash_too(pushed: Pushed) -> None:
    """Changing the kept hash of the erased bytes also breaks the push.batch entry."""
    _erase_and_check(pushed)
    _change_canonical_sha256(pushed)
    report = verify(pushed.gw.config, pushed.store)
    assert {"ERASURE_MISMATCH", "ENTRY_MISMATCH"} <= {p.code for p in report.problems}


def test_a_batch_tampered_before_prune_is_not_erased(pushed: Pushed) -> None:
    _edit_kept_fields(pushed)
    dry = _prune(pushed.store, dry_run=True)
    assert dry.batches_erased == 0 and len(dry.erase_refused) == 1
    result = CliRunner().invoke(cli, ["audit", "prune", "--home", str(pushed.gw.home)])
    assert result.exit_code == 1, result.output
    assert "REFUSED to erase 1 batches" in result.output
    assert "batch court/j-1: record court/" in result.output
    assert "fields differs from the signed batch" in result.output
    # the bytes stay (the expired record itself is deleted, as the law asks)
    assert stored_bytes(_batch(pushed.store)) == pushed.canonical
    assert _record_ids(pushed.store) == [pushed.kept.record_id]
    assert _read(pushed.store, lambda c: c.execute(select(schema.batch_erasures)).all()) == []
    # and verification names the tampered record, as before
    assert verify(pushed.gw.config, pushed.store).first_bad_object == (
        f"court/{pushed.kept.record_id}@1"
    )


def test_dry_run_changes_nothing(pushed: Pushed) -> None:
    def state(conn: Connection) -> tuple[Any, ...]:
        return (
            conn.execute(select(schema.batches.c.canonical)).scalar_one(),
            conn.execute(select(func.count()).select_from(schema.records)).scalar_one(),
            conn.execute(select(func.count()).select_from(schema.batch_erasures)).scalar_one(),
            conn.execute(select(schema.ledger_head.c.size)).scalar_one(),
        )

    before = _read(pushed.store, state)
    result = _prune(pushed.store, dry_run=True)
    assert (result.batches_erased, result.records_deleted, result.erase_refused) == (1, 1, ())
    assert result.wal_truncated is None
    assert _read(pushed.store, state) == before
    cli_dry = CliRunner().invoke(
        cli, ["audit", "prune", "--home", str(pushed.gw.home), "--dry-run"]
    )
    assert cli_dry.exit_code == 0, cli_dry.output
    assert "would erase the signed bytes of 1 negative batches" in cli_dry.output
    assert _read(pushed.store, state) == before


def test_replay_of_an_erased_batch_answers_as_before(gateway_any: Gateway) -> None:
    p = _pushed(gateway_any)
    _erase_and_check(p)
    # the same bytes again: a replay, answered from the stored batch, nothing written
    [again] = _push(p.court, p.request)
    assert again.ledger_index == p.push_index
    assert (again.accepted, again.duplicates) == (0, 2)
    assert _record_ids(p.store) == [p.kept.record_id]
    # other bytes under that batch id: refused
    other, _ = _request(p.court, "j-1", "judicial", [p.kept])
    with pytest.raises(grpc.RpcError) as info:
        _push(p.court, other)
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "BATCH_ID_REUSED" in str(dict(info.value.trailing_metadata() or ()))
    assert verify(p.gw.config, p.store).ok


def test_a_batch_of_a_category_that_is_not_negative_is_never_erased(gateway: Gateway) -> None:
    p = _pushed(gateway, "tax-bureau", "tax", "t-1", "taxpayer_type")
    store = p.store
    result = _prune(store)
    assert (result.batches_erased, result.records_deleted) == (0, 0)
    assert stored_bytes(_batch(store)) == p.canonical
    assert len(_record_ids(store)) == 2
    assert verify(gateway.config, store).ok


def test_erasure_entries_outlive_the_pruning_of_bodies(pushed: Pushed) -> None:
    """Their bodies are hashes and counts only, and keep the kept records verifiable."""
    erasure = _erase_and_check(pushed)
    checkpoint(pushed.gw.config, pushed.store)
    later = FakeClock(datetime.now(UTC) + timedelta(days=MIN_RETENTION_DAYS + 1))
    result = prune(pushed.store, later, CATALOG, 183)
    assert result.entries_pruned > 0
    assert _entry(pushed.store, int(erasure.ledger_index))["action"] == "retention.erased"
    report = verify(pushed.gw.config, pushed.store, later.now())
    assert report.ok, report.problems
    _edit_kept_fields(pushed)
    assert not verify(pushed.gw.config, pushed.store, later.now()).ok


def test_a_kept_record_may_go_once_it_is_due_too(pushed: Pushed) -> None:
    _erase_and_check(pushed)
    _delete_kept_row(pushed)
    now = datetime.now(UTC)
    assert not verify(pushed.gw.config, pushed.store, now).ok
    # once the kept record is past the period too, its absence is what retention does
    later = now + timedelta(days=NEGATIVE_RETENTION_DAYS)
    assert verify(pushed.gw.config, pushed.store, later).ok


def test_prune_reads_only_batches_holding_a_due_record(gateway: Gateway) -> None:
    """Push records each batch's earliest event time; prune selects by it and never
    reads the bytes of a batch with nothing due (here: bytes it could not even parse,
    which it would report). A batch stored without that time is read as before."""
    now = datetime.now(UTC)
    court = gateway.enroll_node("department", "court", categories=("judicial",))
    _, kept = _records("judicial", now, "case_cause")
    recent = BatchRecord(CODE, "recent-2", 1, now - timedelta(days=30), dict(kept.fields))
    request, _ = _request(court, "j-recent", "judicial", [kept, recent])
    [response] = _push(court, request)
    assert response.accepted == 2
    store = gateway.runtime.store
    b = schema.batches.c
    assert _read(store, lambda c: c.execute(select(b.earliest_event_us)).scalar_one()) == (
        int((kept.event_time - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    )
    _exec(store, update(schema.batches).values(canonical=b"not the signed bytes"))
    result = _prune(store)
    assert (result.batches_erased, result.erase_refused) == (0, ())
    # without the recorded time (a batch stored before it existed) the bytes are read
    _exec(store, update(schema.batches).values(earliest_event_us=None))
    result = _prune(store)
    assert result.batches_erased == 0
    assert len(result.erase_refused) == 1


def test_verify_names_an_altered_earliest_event_time(pushed: Pushed) -> None:
    """A later earliest_event_us would hide the batch's due record from retention."""
    assert verify(pushed.gw.config, pushed.store).ok
    _exec(pushed.store, update(schema.batches).values(earliest_event_us=2**52))
    report = verify(pushed.gw.config, pushed.store)
    assert [p.code for p in report.problems] == ["EARLIEST_EVENT_MISMATCH"]
    assert _prune(pushed.store).batches_erased == 0
