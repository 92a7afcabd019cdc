"""The stored record rows say exactly what the agent signed, column by column.

On SQLite the gateway inserts a batch's rows with ONE multi-row ``VALUES`` statement with
numbered parameters (``gateway.store.batch_writes._sqlite_insert``); on PostgreSQL with ``COPY``.
Either way each column must hold the value and SQL type the record had: texts as texts
(quotes, backslashes, tabs, CJK and astral characters unchanged), versions and event
times as integers up to their limits, fields as the record's canonical JSON text.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select
from support.harness import Gateway

from authz.catalog import Catalog
from gateway.store import schema
from gateway.store.timeutil import to_us
from node_agent.push import Pusher
from xinlian.batch import BatchRecord
from xinlian.identity import Identity
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc
from xinlian_samples.generator import generate_enterprises, generate_records

pytestmark = pytest.mark.integration

MAX_VERSION = 2**63 - 1
TRICKY_TEXTS = (
    'a "quoted" value',
    "back\\slash and a tab\there",
    "一般纳税人（增值税）",
    "emoji 🧾 and é",
    '[1, 2] {"k": 3}',
)


def _records() -> list[BatchRecord]:
    tax = Catalog.default().categories["tax"]
    base = [
        BatchRecord(s.credit_code, s.record_id, s.version, s.event_time, dict(s.fields))
        for e in generate_enterprises(2, 11)
        for s in generate_records(e, tax, 3, 11)
    ]
    tricky = [
        replace(
            base[i],
            record_id=f"tricky-{i}",
            fields={**base[i].fields, "taxpayer_type": text, "basic_account_no": text[::-1]},
        )
        for i, text in enumerate(TRICKY_TEXTS)
    ]
    edges = [
        replace(base[0], record_id="max-version", version=MAX_VERSION),
        replace(base[1], record_id="old-event", event_time=datetime(1900, 1, 1, tzinfo=UTC)),
    ]
    return [*base, *tricky, *edges]


def _push(identity: Identity, requests: list[pb.PushRequest]) -> list[pb.PushResponse]:
    with identity.channel() as channel:
        stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
        return list(stub.Push(iter(requests), timeout=60))


def _stored(gateway: Gateway) -> dict[str, dict[str, object]]:
    r = schema.records

    def read(conn):  # type: ignore[no-untyped-def]
        rows = conn.execute(select(r).where(r.c.source_node_id == "tax-rows")).mappings()
        return {row["record_id"]: dict(row) for row in rows}

    return gateway.runtime.store.read(read)  # type: ignore[no-any-return]


@pytest.mark.parametrize("structured", [False, True], ids=["signed-content", "structured"])
def test_stored_columns_are_the_signed_values(gateway_any: Gateway, structured: bool) -> None:
    _check_stored_columns(gateway_any, structured)


def test_rows_split_over_statements_when_sqlite_allows_few_parameters(
    gateway: Gateway,
) -> None:
    """A SQLite built with a low parameter limit gets the rows in several statements
    (here three rows each), with the same rows stored and the same duplicates found."""
    engine = gateway.runtime.store.engine

    @event.listens_for(engine, "connect")
    def _few_parameters(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 4 + 5 * 3)

    engine.dispose()
    _check_stored_columns(gateway, structured=False)


def _check_stored_columns(gateway_any: Gateway, structured: bool) -> None:
    dept = gateway_any.enroll_node("department", "tax-rows", categories=("tax",))
    pusher = Pusher(dept)
    records = _records()
    first, rest = records[:4], records[4:]
    # (1) part of the records, then a batch mixing those (duplicates) with new ones:
    #     the insert must tell which rows it stored
    responses = _push(
        dept,
        [
            pusher.make_request("rows-1", "tax", first, structured=structured),
            pusher.make_request("rows-2", "tax", records, structured=structured),
        ],
    )
    assert [(r.accepted, r.duplicates, r.rejected) for r in responses] == [
        (len(first), 0, 0),
        (len(rest), len(first), 0),
    ]
    outcomes = {res.record_id: res.outcome for res in responses[1].results}
    assert all(outcomes[r.record_id] == pb.RECORD_OUTCOME_DUPLICATE for r in first)
    assert all(outcomes[r.record_id] == pb.RECORD_OUTCOME_ACCEPTED for r in rest)
    # (2) every column holds the signed value, with its SQL type
    stored = _stored(gateway_any)
    assert set(stored) == {r.record_id for r in records}
    for record in records:
        row = stored[record.record_id]
        assert type(row["version"]) is int and row["version"] == record.version
        assert type(row["event_time_us"]) is int
        assert row["event_time_us"] == to_us(record.event_time)
        assert row["credit_code"] == record.credit_code
        assert row["category"] == "tax"
        assert type(row["fields"]) is str
        assert row["fields"] == json.dumps(
            record.fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert json.loads(str(row["fields"])) == record.fields
    assert stored["max-version"]["version"] == MAX_VERSION
    batch_pks = {row["batch_pk"] for row in stored.values()}
    assert len(batch_pks) == 2  # the first four rows stay with the batch that stored them
