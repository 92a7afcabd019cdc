"""relay_vs_push and forwarded_query_vs_local: the federation against local work, same run.

Three gateway SUBPROCESSES (``xinlian gateway serve``), each with its own CA and SQLite
store: the national node (100000, the top) and two provinces, Shaanxi (610000) and
Fujian (350000), linked as ``gateway link`` links them.

relay_vs_push
    value:    records/s relayed from Shaanxi to the national node, relay alone: the
              national node is stopped while a Shaanxi department pushes ``RELAY_RECORDS``
              public registration records (the agent, ``RELAY_BATCH``-record batches);
              then it starts again and the clock runs from its first answer until the
              Shaanxi cursor has passed the last batch (each batch verified at the
              national node with the department's certificate through the Shaanxi CA).
    baseline: records/s of that local push, same records, same run.
forwarded_query_vs_local
    value:    queries/s a Fujian bank gets for a Shaanxi enterprise (tax, under its grant
              ``bank@gw-350000``, masked at Shaanxi): Fujian → national → Shaanxi, so two
              forwards, since the routing rule goes through the upstream. ``extra``
              has the one-forward figure: a bank of the national node asking the same.
    baseline: queries/s a Shaanxi bank gets for the same enterprise at Shaanxi, same
              concurrency (``CONCURRENCY``), same duration; p50/p99 in ``extra``.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from common import BenchContext, Figure, closed_loop

CONCURRENCY = 16
RELAY_RECORDS = 20_000
RELAY_BATCH = 1000
WARMUP_CALLS = 30
WAIT_S = 300.0


def _process(config: Any) -> Any:
    from support.processes import GatewayProcess

    port = int(config.listen.rpartition(":")[2])
    enroll = int(config.enroll_listen.rpartition(":")[2])
    return GatewayProcess(config.home, port=port, enroll_port=enroll).start()


def _wait(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.02)


def _members(config: Any) -> int:
    from gateway.flows.federation_directory import parse_body

    note = config.home / "federation" / "directory.note"
    if not note.exists():
        return 0
    body = note.read_text().rsplit("\n\n", 1)[0] + "\n"
    return len(parse_body(body.encode()).members)


def _cursor(config: Any) -> tuple[int, int]:
    from sqlalchemy import func, select

    from gateway.store import federation_store, schema
    from gateway.store.db import Store

    store = Store(config.database_url)
    try:
        return store.read(
            lambda c: (
                federation_store.cursor(c, "gw-100000", "up"),
                int(c.execute(select(func.max(schema.batches.c.id))).scalar_one() or 0),
            )
        )
    finally:
        store.close()


def _relay(tmp: Path, national_cfg: Any, national: Any, shaanxi_cfg: Any, sx: Any) -> Figure:
    from support.federation import CATALOG, enterprise_of

    from node_agent.push import Pusher
    from xinlian_samples.generator import generate_records

    department = sx.enroll("department", "sx-amr", ("registration",))
    enterprise = enterprise_of("610102", seed=31)
    samples = generate_records(enterprise, CATALOG.categories["registration"], RELAY_RECORDS, 31)
    path = tmp / "registration.jsonl"
    path.write_text("".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in samples))
    national.stop()  # relay alone, after the push
    started = time.perf_counter()
    summary = Pusher(department).push_file(path, "registration", batch_size=RELAY_BATCH)
    push_s = time.perf_counter() - started
    assert summary.accepted == RELAY_RECORDS, summary
    national.start()
    started = time.perf_counter()
    _wait(lambda: (lambda c: c[0] >= c[1])(_cursor(shaanxi_cfg)), "the relay")
    relay_s = time.perf_counter() - started
    push_rate = RELAY_RECORDS / push_s
    relay_rate = RELAY_RECORDS / relay_s
    return Figure(
        relay_rate,
        push_rate,
        "records/s",
        {
            "records": RELAY_RECORDS,
            "batch": RELAY_BATCH,
            "relay_s": round(relay_s, 3),
            "push_s": round(push_s, 3),
            "target": 0.5,
        },
    )


def _world(tmp: Path, national: Any, sx: Any, fj: Any) -> tuple[str, Any, Any, Any]:
    """A Shaanxi enterprise with a tax record, its grants to a Fujian, a Shaanxi and a
    national bank. Returns (credit code, Fujian bank, Shaanxi bank, national bank)."""
    from support.federation import enterprise_of, push_signed, records_for

    from node_agent.enterprise import (
        AuthzClient,
        generate_key,
        load_signing_key,
        make_grant,
        sign_grant,
    )

    enterprise = enterprise_of("610102", seed=41)
    tax = sx.enroll("department", "sx-tax", ("tax",))
    push_signed(tax, "tax-1", "tax", records_for(enterprise, "tax", 1))
    platform = sx.enroll("city_platform", "sx-platform")
    pub = generate_key(tmp / "enterprise.pem")
    key = load_signing_key(tmp / "enterprise.pem")
    banks = (
        fj.enroll("institution", "bank-fj"),
        sx.enroll("institution", "bank-sx"),
        national.enroll("institution", "bank-nat"),
    )
    with AuthzClient(platform) as client:
        client.register(enterprise.credit_code, enterprise.name, pub.read_text(), "face")
        for grantee in ("bank-fj@gw-350000", "bank-sx", "bank-nat@gw-100000"):
            grant = make_grant(
                credit_code=enterprise.credit_code, grantee_node_id=grantee, categories=["tax"]
            )
            client.submit(grant, sign_grant(key, grant))
    return (enterprise.credit_code, *banks)


def _rate(identity: Any, code: str, duration_s: float) -> tuple[float, dict[str, float]]:
    from authz.catalog import Purpose
    from node_agent.query import query_request
    from xinlian.v1 import exchange_pb2_grpc

    request = query_request(code, Purpose.FINANCING, ("tax",))

    async def run() -> tuple[float, dict[str, float]]:
        async with identity.aio_channel() as channel:
            stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
            for _ in range(WARMUP_CALLS):
                response = await stub.Query(request, timeout=30)
            assert response.categories[0].allowed and response.categories[0].records, response
            result = await closed_loop(
                lambda i: stub.Query(request, timeout=30),
                concurrency=CONCURRENCY,
                duration_s=duration_s,
            )
        return result.rate, result.summary()

    return asyncio.run(run())


def run(ctx: BenchContext) -> dict[str, Figure]:
    from support.federation import federated_config, link_config

    from gateway.host.federation_cli import init_top

    tmp = ctx.scratch("federation")
    fast = {"federation_relay_interval_s": 0.05, "federation_forward_deadline_s": 10.0}
    national_cfg = federated_config(tmp, "national", "100000", **fast)
    init_top(national_cfg)
    shaanxi_cfg = federated_config(tmp, "shaanxi", "610000", **fast)
    fujian_cfg = federated_config(tmp, "fujian", "350000", **fast)
    national = _process(national_cfg)
    sx = _process(shaanxi_cfg)
    fj = _process(fujian_cfg)
    try:
        for member in (shaanxi_cfg, fujian_cfg):
            link_config(member, national_cfg.home, national.address, national.enroll_address)
        _wait(lambda: _members(shaanxi_cfg) == 3 and _members(fujian_cfg) == 3, "directory")
        relay = _relay(tmp, national_cfg, national, shaanxi_cfg, sx)
        _wait(lambda: _members(fujian_cfg) == 3, "directory after restart")
        code, bank_fj, bank_sx, bank_nat = _world(tmp, national, sx, fj)
        local_qps, local = _rate(bank_sx, code, ctx.duration_s)
        forwarded_qps, forwarded = _rate(bank_fj, code, ctx.duration_s)
        one_hop_qps, one_hop = _rate(bank_nat, code, ctx.duration_s)
    finally:
        for process in (fj, sx, national):
            process.stop()
    query = Figure(
        forwarded_qps,
        local_qps,
        "queries/s",
        {
            **{f"forwarded_{k}": v for k, v in forwarded.items()},
            **{f"local_{k}": v for k, v in local.items()},
            "one_forward_qps": round(one_hop_qps, 1),
            "one_forward_ratio": round(one_hop_qps / local_qps, 3) if local_qps else 0,
            "one_forward_p50_ms": one_hop["p50_ms"],
            "one_forward_p99_ms": one_hop["p99_ms"],
            "hops": 2,
            "concurrency": CONCURRENCY,
            "target": 0.3,
        },
    )
    return {"relay_vs_push": relay, "forwarded_query_vs_local": query}
