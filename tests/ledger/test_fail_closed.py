"""Point 4: if the ledger cannot be written, the call fails (UNAVAILABLE) and none of its
state change is visible; once the ledger accepts writes again, calls succeed."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import select, text
from support.harness import Gateway

from gateway.store import schema
from gateway.store.dialect import SQLITE
from node_agent import enroll as enrollment
from xinlian.v1 import audit_pb2, audit_pb2_grpc, common_pb2, registry_pb2

pytestmark = pytest.mark.integration

_SQLITE_BLOCK = (
    "CREATE TRIGGER ledger_read_only BEFORE INSERT ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger is read-only'); END",
)
_SQLITE_UNBLOCK = ("DROP TRIGGER ledger_read_only",)
_PG_BLOCK = (
    "CREATE FUNCTION ledger_read_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'ledger is read-only'; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER ledger_read_only BEFORE INSERT ON ledger_entries "
    "FOR EACH ROW EXECUTE FUNCTION ledger_read_only()",
)
_PG_UNBLOCK = ("DROP TRIGGER ledger_read_only ON ledger_entries",)


def _run(gateway: Gateway, statements: tuple[str, ...]) -> None:
    def run(conn):  # type: ignore[no-untyped-def]
        for statement in statements:
            conn.execute(text(statement))

    gateway.runtime.store.write(run)


def _reason(err: grpc.RpcError) -> str:
    return dict(err.trailing_metadata() or ()).get("xinlian-reason", "")


def _state(gateway: Gateway, node_id: str) -> str | None:
    return gateway.runtime.store.read(
        lambda c: c.execute(
            select(schema.nodes.c.state).where(schema.nodes.c.node_id == node_id)
        ).scalar_one_or_none()
    )


def _size(gateway: Gateway) -> int:
    return int(
        gateway.runtime.store.read(
            lambda c: c.execute(select(schema.ledger_head.c.size)).scalar_one()
        )
    )


def test_no_ledger_no_state_change(gateway_any: Gateway) -> None:
    gateway = gateway_any
    node = gateway.enroll_node("city_platform", "fz-platform")
    officer = gateway.enroll_node("officer", "officer-1")
    sqlite = gateway.runtime.store.dialect is SQLITE
    _run(gateway, _SQLITE_BLOCK if sqlite else _PG_BLOCK)
    size = _size(gateway)
    admin = gateway.admin_stub()
    # an administrator's suspension: refused, the node stays admitted
    with pytest.raises(grpc.RpcError) as err:
        admin.SuspendNode(
            registry_pb2.SuspendNodeRequest(node_id=node.node_id, reason="x"), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert _reason(err.value) == "LEDGER_UNAVAILABLE"
    assert _state(gateway, node.node_id) == "admitted"
    # an application: refused, no node row
    with pytest.raises(grpc.RpcError) as err:
        enrollment.apply(
            gateway.enroll_address,
            gateway.ca_pem,
            name="新平台",
            kind="city_platform",
            region="350100",
            categories=[],
            requested_id="new-platform",
        )
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert _state(gateway, "new-platform") is None
    # an officer's search: no results leave without its own entry
    with officer.channel() as channel, pytest.raises(grpc.RpcError) as err:
        audit_pb2_grpc.AuditServiceStub(channel).SearchEntries(
            audit_pb2.SearchEntriesRequest(), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert _size(gateway) == size
    # the ledger back: the same call goes through
    _run(gateway, _SQLITE_UNBLOCK if sqlite else _PG_UNBLOCK)
    response = admin.SuspendNode(
        registry_pb2.SuspendNodeRequest(node_id=node.node_id, reason="x"), timeout=10
    )
    assert response.node.state == common_pb2.NODE_STATE_SUSPENDED
    assert _size(gateway) == size + 1
