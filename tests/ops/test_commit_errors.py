"""``xinlian_commit_errors_total{kind}`` counts the groups whose commit the database
refused or lost (the alert ``XinLianCommitErrors``): PostgreSQL stopped under a running
gateway (``operational``), a row the database refuses (``integrity``); a unit that
refuses (a XinLianError, rolled back alone) is no commit error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ops.conftest import grown, http_get, ops_gateway
from sqlalchemy import Connection, insert
from support.harness import Gateway
from support.postgres import Cluster, private_cluster_fixture

from gateway.store import schema
from xinlian.errors import InvalidArgument, Unavailable

pytestmark = pytest.mark.integration

ERRORS = "xinlian_commit_errors_total"


def _metrics(gw: Gateway) -> str:
    status, text = http_get(gw.running.ops_port, "/metrics")
    assert status == 200
    return str(text)


def _submit(gw: Gateway, work: Any) -> BaseException | None:
    try:
        gw.loop.run(gw.runtime.committer.submit(work))
    except Exception as exc:
        return exc
    return None


def _nothing(conn: Connection, ledger: Any) -> None:
    return None


def _duplicate_head(conn: Connection, ledger: Any) -> None:
    conn.execute(insert(schema.ledger_head).values(id=1, size=0, frontier=b"", updated_at_us=0))


def _refuse(conn: Connection, ledger: Any) -> None:
    raise InvalidArgument("refused by the unit", reason="TEST")


def test_refused_row_counts_and_refused_unit_does_not(ops_gw: Gateway) -> None:
    before = _metrics(ops_gw)
    assert isinstance(_submit(ops_gw, _refuse), InvalidArgument)
    assert _submit(ops_gw, _nothing) is None
    assert grown(before, _metrics(ops_gw), ERRORS) == 0

    assert isinstance(_submit(ops_gw, _duplicate_head), Unavailable)
    after = _metrics(ops_gw)
    assert grown(before, after, ERRORS, kind="integrity") == 1
    assert grown(before, after, ERRORS) == 1


pg_cluster = private_cluster_fixture()


@pytest.mark.postgres
def test_stopped_database_counts(tmp_path: Path, pg_cluster: Cluster) -> None:
    with ops_gateway(tmp_path, pg_cluster.create_database()) as gw:
        before = _metrics(gw)
        pg_cluster.stop("immediate")
        try:
            assert isinstance(_submit(gw, _nothing), Unavailable)
        finally:
            pg_cluster.start()
        assert grown(before, _metrics(gw), ERRORS, kind="operational") == 1
        assert _submit(gw, _nothing) is None  # the next group commits again
