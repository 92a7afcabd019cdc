"""Point 6: `xinlian audit verify` detects every alteration made directly in the database
and names the first bad index (or the bad batch/record), exiting non-zero."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import OperationalError
from support.harness import Gateway
from support.ledger_forgery import rebuild_with_stored_columns
from support.ledger_helpers import (
    CODE_A,
    checkpoint,
    cli_verify,
    seed_batch,
    seed_disclosure,
    tax_records,
    verify,
)

from audit.merkle import leaf_hash
from gateway.host.home import init_home
from gateway.store import schema
from gateway.store.db import Store

pytestmark = pytest.mark.integration


@dataclass
class Ledger:
    gw: Gateway
    store: Store
    batch_pk: int
    push_index: int
    record_pks: dict[str, int]


@pytest.fixture
def ledger(gateway: Gateway) -> Iterator[Ledger]:
    """A ledger with registry entries, one signed batch, disclosures, and checkpoints."""
    dept = gateway.enroll_node("department", "tax-bureau", categories=("tax",))
    gateway.enroll_node("institution", "bank-1")
    store = gateway.runtime.store
    checkpoint(gateway.config, store)
    seeded = seed_batch(store, dept, "b-1", "tax", tax_records(4))
    seed_disclosure(
        store,
        seeded.record_pks["r0"],
        "bank-1",
        CODE_A,
        {"tax_rating": "keep", "total_tax": "range"},
    )
    checkpoint(gateway.config, store)
    for _i in range(3):
        seed_disclosure(store, seeded.record_pks["r2"], "bank-1", CODE_A, {"tax_rating": "keep"})
        checkpoint(gateway.config, store)
    yield Ledger(gateway, store, seeded.batch_pk, seeded.ledger_index, seeded.record_pks)


def _body(store: Store, idx: int) -> bytes:
    return bytes(
        store.read(
            lambda c: c.execute(
                select(schema.ledger_entries.c.body).where(schema.ledger_entries.c.idx == idx)
            ).scalar_one()
        )
    )


def _exec(store: Store, *statements: object) -> None:
    def run(conn):  # type: ignore[no-untyped-def]
        for statement in statements:
            conn.execute(statement)

    store.write(run)


def _assert_cli_fails(ledger: Ledger, needle: str) -> dict:  # type: ignore[type-arg]
    result = cli_verify(ledger.gw.home)
    assert result.exit_code == 1, result.output
    assert needle in result.output, result.output
    as_json = cli_verify(ledger.gw.home, "--json")
    assert as_json.exit_code == 1
    return json.loads(as_json.stdout)  # type: ignore[no-any-return]


def test_untouched_ledger_verifies(ledger: Ledger) -> None:
    report = verify(ledger.gw.config, ledger.store)
    assert report.ok, report.problems
    assert report.batches == 1 and report.records == 4 and report.checkpoints >= 3
    result = cli_verify(ledger.gw.home)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")


def test_edited_body_is_named(ledger: Ledger) -> None:
    body = _body(ledger.store, 3).replace(b'"ok"', b'"denied"')
    _exec(
        ledger.store,
        update(schema.ledger_entries).where(schema.ledger_entries.c.idx == 3).values(body=body),
    )
    data = _assert_cli_fails(ledger, "first bad index 3")
    assert data["first_bad_index"] == 3
    assert data["problems"][0]["code"] == "LEAF_MISMATCH"


def test_edited_body_with_recomputed_hash_is_caught_by_the_checkpoint(ledger: Ledger) -> None:
    """The forger also rewrites the leaf hash: the signed roots still catch it."""
    idx = ledger.push_index + 1  # the first query entry, inside checkpointed range
    body = _body(ledger.store, idx).replace(b"bank-1", b"bank-9")
    _exec(
        ledger.store,
        update(schema.ledger_entries)
        .where(schema.ledger_entries.c.idx == idx)
        .values(body=body, leaf_hash=leaf_hash(body)),  # the columns follow the body
    )
    report = verify(ledger.gw.config, ledger.store)
    assert not report.ok
    codes = {p.code for p in report.problems}
    assert "ROOT_MISMATCH" in codes
    # the first checkpoint covering the entry no longer verifies; earlier entries do
    assert report.first_bad_index is not None and report.first_bad_index <= idx
    _assert_cli_fails(ledger, "first bad index")


def test_deleted_row_is_named(ledger: Ledger) -> None:
    _exec(ledger.store, delete(schema.ledger_entries).where(schema.ledger_entries.c.idx == 5))
    data = _assert_cli_fails(ledger, "first bad index 5")
    assert data["problems"][0]["code"] == "INDEX_GAP"


def test_swapped_bodies_are_named(ledger: Ledger) -> None:
    b4, b6 = _body(ledger.store, 4), _body(ledger.store, 6)
    t = schema.ledger_entries
    _exec(
        ledger.store,
        update(t).where(t.c.idx == 4).values(body=b6),
        update(t).where(t.c.idx == 6).values(body=b4),
    )
    data = _assert_cli_fails(ledger, "first bad index 4")
    bad = [p["index"] for p in data["problems"] if p["code"] == "LEAF_MISMATCH"]
    assert bad == [4, 6]


def test_swapped_rows_with_their_hashes_are_caught(ledger: Ledger) -> None:
    """Reordering whole rows (body and hash) keeps each row self-consistent."""
    t = schema.ledger_entries

    def row(idx: int) -> tuple[bytes, bytes]:
        r = ledger.store.read(
            lambda c: c.execute(select(t.c.body, t.c.leaf_hash).where(t.c.idx == idx)).one()
        )
        return bytes(r[0]), bytes(r[1])

    (b1, h1), (b2, h2) = row(1), row(2)
    _exec(
        ledger.store,
        update(t).where(t.c.idx == 1).values(body=b2, leaf_hash=h2),
        update(t).where(t.c.idx == 2).values(body=b1, leaf_hash=h1),
    )
    report = verify(ledger.gw.config, ledger.store)
    assert not report.ok
    assert report.first_bad_index is not None and report.first_bad_index <= 1


def test_row_appended_beyond_the_head_is_named(ledger: Ledger) -> None:
    size = verify(ledger.gw.config, ledger.store).tree_size
    body = _body(ledger.store, 2)
    _exec(
        ledger.store,
        insert(schema.ledger_entries).values(idx=size, leaf_hash=leaf_hash(body), body=body),
    )
    data = _assert_cli_fails(ledger, f"first bad index {size}")
    assert "SIZE_MISMATCH" in {p["code"] for p in data["problems"]}


def test_row_inserted_with_renumbering_is_named(ledger: Ledger) -> None:
    """Insert a forged entry at k, shifting the later rows up by one."""
    store, config = ledger.store, ledger.gw.config
    t = schema.ledger_entries
    k = int(checkpoint(config, store).tree_size)  # everything before k is signed
    seed_disclosure(store, ledger.record_pks["r1"], "bank-1", CODE_A, {"tax_rating": "keep"})
    seed_disclosure(store, ledger.record_pks["r1"], "bank-1", CODE_A, {"tax_rating": "keep"})
    checkpoint(config, store)
    forged = _body(store, k)
    size = verify(config, store).tree_size

    def shift(conn):  # type: ignore[no-untyped-def]
        for idx in range(size - 1, k - 1, -1):
            conn.execute(update(t).where(t.c.idx == idx).values(idx=idx + 1))
        conn.execute(insert(t).values(idx=k, leaf_hash=leaf_hash(forged), body=forged))

    store.write(shift)
    report = verify(config, store)
    assert not report.ok
    assert report.first_bad_index == k
    # only the roots disagree: checkpoint k verifies, k + 2 does not
    assert report.first_bad_interval == (k, k + 2)
    _assert_cli_fails(ledger, f"first bad index in [{k}, {k + 2})")


def test_edited_record_fields_are_named(ledger: Ledger) -> None:
    pk = ledger.record_pks["r1"]
    _exec(
        ledger.store,
        update(schema.records)
        .where(schema.records.c.id == pk)
        .values(fields=json.dumps({"taxpayer_type": "一般纳税人", "tax_rating": "D"})),
    )
    data = _assert_cli_fails(ledger, "first bad object tax-bureau/r1@1")
    assert data["problems"][0]["code"] == "RECORD_MISMATCH"
    assert data["first_bad_index"] is None


def test_forged_record_row_is_named(ledger: Ledger) -> None:
    row = ledger.store.read(
        lambda c: c.execute(
            select(schema.records).where(schema.records.c.id == ledger.record_pks["r0"])
        ).one()
    )
    values = dict(row._mapping)
    del values["id"]
    values["record_id"] = "r-forged"
    _exec(ledger.store, insert(schema.records).values(**values))
    data = _assert_cli_fails(ledger, "first bad object tax-bureau/r-forged@1")
    assert data["problems"][0]["code"] == "NOT_SIGNED"


def test_edited_batch_signature_is_named(ledger: Ledger) -> None:
    sig = ledger.store.read(
        lambda c: c.execute(
            select(schema.batches.c.signature).where(schema.batches.c.id == ledger.batch_pk)
        ).scalar_one()
    )
    forged = bytes(sig[:-1]) + bytes([sig[-1] ^ 1])
    _exec(
        ledger.store,
        update(schema.batches)
        .where(schema.batches.c.id == ledger.batch_pk)
        .values(signature=forged),
    )
    data = _assert_cli_fails(ledger, "first bad object batch tax-bureau/b-1")
    assert data["problems"][0]["code"] == "BAD_SIGNATURE"


def test_batch_row_counts_must_match_its_entry(ledger: Ledger) -> None:
    _exec(
        ledger.store,
        update(schema.batches).where(schema.batches.c.id == ledger.batch_pk).values(accepted=3),
    )
    data = _assert_cli_fails(ledger, "batch tax-bureau/b-1")
    assert data["problems"][0]["code"] == "ENTRY_MISMATCH"


def test_deleted_record_row_breaks_the_entry_outcomes(ledger: Ledger) -> None:
    _exec(
        ledger.store, delete(schema.records).where(schema.records.c.id == ledger.record_pks["r3"])
    )
    data = _assert_cli_fails(ledger, "batch tax-bureau/b-1")
    assert "outcomes" in data["problems"][0]["message"]


def test_edited_index_column_is_named(ledger: Ledger) -> None:
    """Search reads the indexed columns: they must say what the hashed body says. SQLite
    generates them from the body and refuses the edit; a forger who rebuilds the table
    with stored columns to make it is reported, and the edited row named."""
    edit = update(schema.ledger_entries).where(schema.ledger_entries.c.idx == 2)
    with (
        pytest.raises(OperationalError, match="cannot UPDATE generated column"),
        ledger.store.engine.begin() as conn,
    ):
        conn.execute(edit.values(actor="nobody"))
    rebuild_with_stored_columns(ledger.store)
    _exec(ledger.store, edit.values(actor="nobody"))
    data = _assert_cli_fails(ledger, "first bad index 2")
    codes = [(p["code"], p["index"]) for p in data["problems"]]
    assert codes == [("COLUMN_MISMATCH", 2), ("SCHEMA_CHANGED", None)]


def test_forged_checkpoint_is_refused(ledger: Ledger) -> None:
    t = schema.checkpoints
    note = ledger.store.read(
        lambda c: c.execute(select(t.c.note).order_by(t.c.tree_size.desc()).limit(1)).scalar_one()
    )
    lines = note.split("\n")
    lines[1] = str(int(lines[1]) + 1)
    _exec(
        ledger.store,
        update(t).where(t.c.tree_size == int(note.split("\n")[1])).values(note="\n".join(lines)),
    )
    data = _assert_cli_fails(ledger, "FAILED")
    assert data["problems"][-1]["kind"] == "checkpoint"


def test_verify_a_tampered_copy_on_sqlite(tmp_path: Path) -> None:
    """Verification needs nothing but the home: no server running."""
    config = init_home(tmp_path / "gw")
    store = Store(config.database_url)
    try:
        checkpoint(config, store)
        assert verify(config, store).ok
        # the body must stay an entry (SQLite derives the indexed columns from it)
        _exec(
            store,
            text(
                "UPDATE ledger_entries SET body = "
                "CAST(replace(CAST(body AS TEXT), '\"ok\"', '\"error\"') AS BLOB) WHERE idx = 0"
            ),
        )
        report = verify(config, store)
        assert report.first_bad_index == 0
    finally:
        store.close()
