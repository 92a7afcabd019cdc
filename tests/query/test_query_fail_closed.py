"""No response without its audit entry: if the ledger cannot be written, the query fails
and nothing is disclosed (on both stores)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select, text
from support.authz_helpers import CODE, make_world, reason_of, seed_records
from support.harness import Gateway

from gateway.store import schema
from gateway.store.dialect import SQLITE
from node_agent.enterprise import AuthzClient, make_grant, sign_grant
from node_agent.query import QueryClient

pytestmark = pytest.mark.integration

SQLITE_TRIGGER = (
    "CREATE TRIGGER ledger_read_only BEFORE INSERT ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger is read-only'); END",
)
SQLITE_DROP = ("DROP TRIGGER ledger_read_only",)
POSTGRES_TRIGGER = (
    "CREATE FUNCTION ledger_read_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'ledger is read-only'; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER ledger_read_only BEFORE INSERT ON ledger_entries "
    "FOR EACH ROW EXECUTE FUNCTION ledger_read_only()",
)
POSTGRES_DROP = ("DROP TRIGGER ledger_read_only ON ledger_entries",)


def _exec(gw: Gateway, statements: tuple[str, ...]) -> None:
    def run(conn):  # type: ignore[no-untyped-def]
        for statement in statements:
            conn.execute(text(statement))

    gw.runtime.store.write(run)


def _counts(gw: Gateway) -> tuple[int, int, int]:
    def read(conn):  # type: ignore[no-untyped-def]
        return (
            conn.execute(select(func.count()).select_from(schema.disclosures)).scalar_one(),
            conn.execute(select(func.count()).select_from(schema.ledger_entries)).scalar_one(),
            conn.execute(select(func.sum(schema.grants.c.uses))).scalar_one(),
        )

    return gw.runtime.store.read(read)


def test_query_fails_closed_when_the_ledger_cannot_be_written(
    gateway_any: Gateway, tmp_path: Path
) -> None:
    gw = gateway_any
    seed_records(gw.runtime.store)
    world = make_world(gw, tmp_path)
    grant = make_grant(credit_code=CODE, grantee_node_id="bank-a", categories=["tax"], max_uses=100)
    with AuthzClient(world.platform) as client:
        client.submit(grant, sign_grant(world.key, grant))
    sqlite = gw.runtime.store.dialect is SQLITE
    with QueryClient(world.bank) as bank:
        assert bank.query(CODE, categories=["tax", "registration"]).categories[0].allowed
        before = _counts(gw)
        _exec(gw, SQLITE_TRIGGER if sqlite else POSTGRES_TRIGGER)
        try:
            for categories in (["tax", "registration"], ["registration"], ["social_insurance"]):
                with pytest.raises(grpc.RpcError) as err:
                    bank.query(CODE, categories=categories)
                assert err.value.code() == grpc.StatusCode.UNAVAILABLE
                assert reason_of(err.value) == "LEDGER_UNAVAILABLE"
            # nothing disclosed, no use counted, no entry
            assert _counts(gw) == before
        finally:
            _exec(gw, SQLITE_DROP if sqlite else POSTGRES_DROP)
        # the ledger is writable again: so are queries
        after = bank.query(CODE, categories=["tax"])
        assert after.categories[0].allowed and after.ledger_index == before[1]
