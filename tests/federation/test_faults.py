"""Faults across the federation: the national gateway killed (SIGKILL) in the middle of a
relay and restarted loses and duplicates nothing; the member restarted resumes from its
cursor; a partition gives UPSTREAM_UNAVAILABLE while local pushes and queries go on; a
category the receiver's catalog does not know is refused with a reason."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select
from support.authz_helpers import reason_of
from support.federation import (
    directory_size,
    enterprise_of,
    entries,
    federated_config,
    gateway_at,
    link_config,
    link_to,
    push_signed,
    records_for,
    relayed,
    serve,
    wait_for,
)
from support.harness import Gateway
from support.processes import GatewayProcess

from authz.catalog import Catalog
from gateway.host.federation_cli import init_top
from gateway.store import federation_store, schema
from gateway.store.db import Store
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHAANXI = enterprise_of("610102")
BATCHES = 24
PER_BATCH = 20


def _relayed_rows(store: Store) -> list[tuple[str, str]]:
    f = schema.federation_relayed.c
    return [
        (r.batch_id, r.outcomes)
        for r in store.read(
            lambda conn: conn.execute(select(f.batch_id, f.outcomes).order_by(f.id)).all()
        )
    ]


def _cursor(gw: Gateway) -> int:
    return int(gw.runtime.store.read(lambda c: federation_store.cursor(c, "gw-100000", "up")))


def _last_batch(gw: Gateway) -> int:
    b = schema.batches.c
    return int(gw.runtime.store.read(lambda c: c.execute(select(func.max(b.id))).scalar_one()))


def test_national_killed_mid_relay_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    config = federated_config(tmp_path, "national", "100000")
    init_top(config)
    national = GatewayProcess(
        config.home,
        port=int(config.listen.rpartition(":")[2]),
        enroll_port=int(config.enroll_listen.rpartition(":")[2]),
    ).start()
    national_store = Store(config.database_url)
    member_config = federated_config(tmp_path, "shaanxi", "610000")
    shaanxi = serve(member_config, tmp_path)
    try:
        link_config(member_config, config.home, national.address, national.enroll_address)
        wait_for(lambda: directory_size(shaanxi) == 2, what="the directory")
        department = shaanxi.enroll_node("department", "sx-registry", ("registration",))
        records = records_for(SHAANXI, "registration", BATCHES * PER_BATCH)
        for i in range(BATCHES):
            chunk = records[i * PER_BATCH : (i + 1) * PER_BATCH]
            push_signed(department, f"b-{i}", "registration", chunk)
            if i == BATCHES // 3:
                # some batches are across: kill the national gateway in the middle
                wait_for(lambda: _relayed_rows(national_store), what="a first relayed batch")
                national.kill()
        national.start()
        last = _last_batch(shaanxi)
        wait_for(lambda: _cursor(shaanxi) >= last, timeout=120, what="the relay to catch up")
        rows = _relayed_rows(national_store)
        assert sorted(batch for batch, _ in rows) == sorted(f"b-{i}" for i in range(BATCHES))
        assert all(outcomes == "A" * PER_BATCH for _, outcomes in rows)
        # the member restarted resumes from its cursor: only the new batch goes up
        shaanxi.stop()
        shaanxi = serve(member_config, tmp_path)
        department = dataclasses.replace(department, gateway=shaanxi.address)
        more = records_for(SHAANXI, "registration", 3, seed=21)
        push_signed(department, "b-after-restart", "registration", more)
        wait_for(lambda: len(_relayed_rows(national_store)) == BATCHES + 1, what="the new batch")
        assert len(entries(shaanxi, "relay.sent")) >= 1
    finally:
        shaanxi.stop()
        national.kill()
        national_store.close()


def test_partition_is_upstream_unavailable_and_local_work_goes_on(tmp_path: Path) -> None:
    top_config = federated_config(tmp_path, "national", "100000")
    init_top(top_config)
    national = serve(top_config, tmp_path)
    with gateway_at(tmp_path, "fujian", "350000") as fujian:
        try:
            link_to(fujian, national)
            wait_for(lambda: directory_size(fujian) == 2, what="the directory")
            bank = fujian.enroll_node("institution", "bank-cib")
            department = fujian.enroll_node("department", "fj-tax", ("tax",))
        finally:
            national.stop()  # the partition: nothing answers at the national address
        with bank.channel() as channel:
            stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
            # an enterprise registered at the national level: forwarded, unreachable
            code = enterprise_of("100000", seed=9).credit_code
            with pytest.raises(grpc.RpcError) as err:
                stub.Query(pb.QueryRequest(credit_code=code, purpose=1), timeout=30)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert reason_of(err.value) == "UPSTREAM_UNAVAILABLE"
            # local work goes on: a push and a query of a Fujian enterprise
            local = enterprise_of("350102")
            pushed = push_signed(department, "b-local", "tax", records_for(local, "tax", 2))
            assert pushed.accepted == 2
            answer = stub.Query(
                pb.QueryRequest(credit_code=local.credit_code, purpose=1), timeout=30
            )
            assert answer.ledger_index > 0
        (failed,) = [r for r in entries(fujian, "query.forwarded") if r.outcome == "error"]
        assert failed.actor == "bank-cib"


def test_category_unknown_to_the_receiver_is_refused_with_a_reason(tmp_path: Path) -> None:
    with (
        gateway_at(tmp_path, "national", "100000", top=True) as national,
        gateway_at(tmp_path, "shaanxi", "610000") as shaanxi,
    ):
        # the national node runs an older catalog without "honors"
        catalog = Catalog.default()
        older = dataclasses.replace(
            catalog,
            version="older",
            categories={k: v for k, v in catalog.categories.items() if k != "honors"},
        )
        national.runtime.catalog = older
        link_to(shaanxi, national)
        wait_for(lambda: directory_size(shaanxi) == 2, what="the directory")
        department = shaanxi.enroll_node("department", "sx-honors", ("honors",))
        push_signed(department, "b-honors", "honors", records_for(SHAANXI, "honors", 1))
        (sent,) = wait_for(lambda: entries(shaanxi, "relay.sent"), what="relay.sent")
        batches = json.loads(sent.body)["details"]["batches"]
        assert batches == [["sx-honors", "b-honors", "honors", "", "CATEGORY_UNKNOWN"]]
        assert relayed(national) == []
