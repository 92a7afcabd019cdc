"""query_vs_echo_{sqlite,postgres}: single-enterprise queries through the whole path.

A gateway SUBPROCESS (``xinlian gateway serve``) with mTLS; the client, in this process,
is a bank with a grant on ``tax``, asking for one enterprise's ``registration`` (public)
and ``tax`` (granted, masked) with the same closed loop as bench_echo (concurrency 16,
``ctx.duration_s``). Every call runs the edge chain, the cached grant and state lookup,
the decision, the record read, the masking, and the group-committed ledger entry with its
disclosures rows before the reply. The figure is the query rate divided by
``mtls_echo_qps`` measured in the same run; p50 and p99 latencies are in ``extra``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from pathlib import Path
from typing import Any

import grpc
from common import BenchContext, Figure, closed_loop

CONCURRENCY = 16
CATEGORIES = ("registration", "tax")
WARMUP_CALLS = 50
# The gateway runs as `xinlian gateway serve --workers GATEWAY_WORKERS` (SO_REUSEPORT);
# a connection stays on one worker, so with several workers the client spreads its
# CONCURRENCY callers over CLIENT_CHANNELS connections (round robin). The echo baseline
# is ONE server process and ONE connection; extra says which setting this run used.
GATEWAY_WORKERS = int(os.environ.get("XINLIAN_BENCH_QUERY_WORKERS", "1"))
CLIENT_CHANNELS = int(os.environ.get("XINLIAN_BENCH_QUERY_CHANNELS", "8"))


def _start_gateway(home: Path, db_url: str | None, workers: int) -> Any:
    """``xinlian gateway serve [--workers N]`` as a subprocess."""
    from support.processes import GatewayProcess

    return GatewayProcess(home, db_url=db_url, workers=workers).start()


def _prepare(home: Path, db_url: str | None) -> tuple[Any, Any, str]:
    """A gateway process with a platform, a bank, a registered enterprise, records and a
    grant. Returns (process, bank identity, credit code)."""
    from gateway.host.home import init_home
    from gateway.store.db import Store
    from node_agent import enroll as enrollment
    from node_agent.enterprise import (
        AuthzClient,
        generate_key,
        load_signing_key,
        make_grant,
        sign_grant,
    )
    from xinlian.identity import Identity
    from xinlian.v1 import registry_pb2, registry_pb2_grpc
    from xinlian_samples.generator import generate_enterprises

    config = init_home(home / "gw", db_url=db_url)
    proc = _start_gateway(config.home, db_url, GATEWAY_WORKERS)
    ca = config.ca_cert.read_bytes()
    admin = Identity.load(config.admin_identity, gateway=proc.address)

    def enroll(kind: str, node_id: str) -> Identity:
        enrollment.apply(
            proc.enroll_address, ca, name=node_id, kind=kind, region="350100", requested_id=node_id
        )
        with admin.channel() as channel:
            token = (
                registry_pb2_grpc.RegistryServiceStub(channel)
                .AdmitNode(
                    registry_pb2.AdmitNodeRequest(
                        node_id=node_id, security_assessment="ok", authorization_assessment="ok"
                    ),
                    timeout=30,
                )
                .enrollment_token
            )
        enrollment.enroll(proc.enroll_address, token, ca, home / node_id)
        return Identity.load(home / node_id, gateway=proc.address)

    platform = enroll("city_platform", "bench-platform")
    bank = enroll("institution", "bench-bank")
    enterprise = generate_enterprises(1, seed=11)[0]
    code = enterprise.credit_code
    _seed(Store(config.database_url), code, enterprise.name)
    pub = generate_key(home / "enterprise.pem")
    key = load_signing_key(home / "enterprise.pem")
    grant = make_grant(credit_code=code, grantee_node_id="bench-bank", categories=["tax"])
    with AuthzClient(platform) as client:
        client.register(code, enterprise.name, pub.read_text(), "legal_rep_face_match")
        client.submit(grant, sign_grant(key, grant))
    return proc, bank, code


def _seed(store: Any, code: str, name: str) -> None:
    import json
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from gateway.store import schema
    from gateway.store.timeutil import to_us

    rows = [
        (
            "registration",
            "reg-1",
            {
                "enterprise_name": name,
                "legal_representative": "张三丰",
                "legal_rep_id_number": "350102198001011234",
                "registered_capital": "500.00",
                "establishment_date": "2015-03-02",
                "status": "存续",
            },
        ),
        (
            "tax",
            "tax-1",
            {
                "tax_period": "2025-09-01",
                "taxpayer_type": "一般纳税人",
                "tax_credit_rating": "A",
                "taxable_revenue": "1234567.89",
                "vat_paid": "45678.12",
                "total_tax_paid": "56789.01",
                "arrears_amount": "0",
                "basic_account_no": "6222021234567890123",
            },
        ),
    ]
    now = to_us(datetime.now(UTC))

    def write(conn: Any) -> None:
        for category, record_id, fields in rows:
            conn.execute(
                insert(schema.records).values(
                    source_node_id="bench-dept",
                    record_id=record_id,
                    version=1,
                    credit_code=code,
                    category=category,
                    event_time_us=now,
                    fields=json.dumps(fields, ensure_ascii=False),
                    batch_pk=0,
                    received_at_us=now,
                )
            )

    store.write(write)
    store.close()


def _measure(ctx: BenchContext, name: str, db_url: str | None) -> Figure:
    from authz.catalog import Purpose
    from node_agent.query import query_request
    from xinlian.v1 import exchange_pb2_grpc

    home = ctx.scratch(name)
    proc, bank, code = _prepare(home, db_url)
    channels_used = CLIENT_CHANNELS if GATEWAY_WORKERS > 1 else 1
    try:
        request = query_request(code, Purpose.FINANCING, CATEGORIES)

        async def client() -> tuple[float, dict[str, float]]:
            # one connection per channel: a distinct channel argument keeps grpc from
            # sharing one subchannel between them
            channels = [
                grpc.aio.secure_channel(
                    bank.gateway,
                    bank.credentials(),
                    options=[*bank.channel_options(), ("xinlian.bench.channel", i)],
                )
                for i in range(channels_used)
            ]
            try:
                stubs = [exchange_pb2_grpc.ExchangeServiceStub(c) for c in channels]
                for stub in stubs:
                    for _ in range(WARMUP_CALLS):
                        response = await stub.Query(request, timeout=10)
                    assert all(r.allowed and r.records for r in response.categories), response
                next_stub = itertools.cycle(stubs)
                result = await closed_loop(
                    lambda i: next(next_stub).Query(request, timeout=10),
                    concurrency=CONCURRENCY,
                    duration_s=ctx.duration_s,
                )
            finally:
                for c in channels:
                    await c.close()
            return result.rate, result.summary()

        qps, summary = asyncio.run(client())
    finally:
        proc.stop()
    baseline = float(ctx.shared.get("mtls_echo_qps") or 0.0)
    extra = {
        **summary,
        "categories": ",".join(CATEGORIES),
        "gateway_workers": GATEWAY_WORKERS,
        "client_channels": channels_used,
        "baseline_setup": "mtls_echo_qps: one server process, one client channel",
    }
    return Figure(qps, baseline, "requests/s", extra)


def run(ctx: BenchContext) -> dict[str, Figure]:
    return {
        "query_vs_echo_sqlite": _measure(ctx, "query-sqlite", None),
        "query_vs_echo_postgres": _measure(ctx, "query-postgres", ctx.pg_url()),
    }


if __name__ == "__main__":
    sys.exit("run through bench/run.py")
