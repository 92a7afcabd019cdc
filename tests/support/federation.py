"""Federated gateways on loopback for tests: each its own home, CA, store and ports."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from authz.catalog import Catalog
from authz.credit_code import make_code
from gateway.host.assemble import build_runtime
from gateway.host.config import GatewayConfig
from gateway.host.federation_cli import init_top, link
from gateway.host.home import init_home
from gateway.host.server import start
from gateway.store import schema
from support.harness import Gateway, LoopThread
from support.postgres import free_port
from xinlian.batch import BatchRecord, canonical_batch
from xinlian.identity import Identity
from xinlian.signing import sign
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc
from xinlian_samples.enterprises import Enterprise, generate_enterprises
from xinlian_samples.generator import generate_records

CATALOG = Catalog.default()
FAST = {
    "federation_relay_interval_s": 0.2,
    "federation_directory_interval_s": 0.5,
    "federation_forward_deadline_s": 5.0,
}


def federated_config(
    tmp: Path, name: str, region: str, db_url: str | None = None, **extra: Any
) -> GatewayConfig:
    home = tmp / name
    listen, enroll = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    config = init_home(home, db_url=db_url, origin=f"xinlian.test/{name}", region=region)
    values = {**config.model_dump(), "listen": listen, "enroll_listen": enroll}
    values.update({"federation_region": region, "ops_listen": "", **FAST, **extra})
    config = GatewayConfig(home=config.home, **values)
    config.save()
    return config


def serve(config: GatewayConfig, tmp: Path) -> Gateway:
    loop = LoopThread()
    runtime = build_runtime(config)
    running = loop.run(start(runtime, config.listen, config.enroll_listen))
    return Gateway(config.home, config, runtime, running, loop, tmp / config.home.name)


@contextmanager
def gateway_at(
    tmp: Path, name: str, region: str, db_url: str | None = None, *, top: bool = False
) -> Iterator[Gateway]:
    config = federated_config(tmp, name, region, db_url)
    if top:
        init_top(config)
    gw = serve(config, tmp)
    try:
        yield gw
    finally:
        gw.stop()


def link_to(member: Gateway, top: Gateway) -> dict[str, Any]:
    """Apply, admit at the top (a recorded review), then enroll and join."""
    link(member.config, top.enroll_address, top.ca_pem, None)
    gateway_id = f"gw-{member.config.federation_region}"
    token = top.admit(gateway_id)
    return link(member.config, top.enroll_address, top.ca_pem, token)


def admit_at(home: Path, address: str, node_id: str) -> str:
    """The upstream's administrator admits an applied node (a recorded review)."""
    from xinlian.v1 import registry_pb2, registry_pb2_grpc

    admin = Identity.load(home / "admin", gateway=address)
    with admin.channel() as channel:
        response = registry_pb2_grpc.RegistryServiceStub(channel).AdmitNode(
            registry_pb2.AdmitNodeRequest(
                node_id=node_id,
                security_assessment="等保三级测评通过",
                authorization_assessment="级联互联协议",
            ),
            timeout=30,
        )
    return str(response.enrollment_token)


def link_config(
    member: GatewayConfig, top_home: Path, top_address: str, top_enroll: str
) -> dict[str, Any]:
    """``link_to`` for gateways given by their config and addresses (processes)."""
    ca = (top_home / "ca" / "ca.pem").read_bytes()
    link(member, top_enroll, ca, None)
    token = admit_at(top_home, top_address, f"gw-{member.federation_region}")
    return link(member, top_enroll, ca, token)


def wait_for(check: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


def directory_size(gw: Gateway) -> int:
    fed = gw.runtime.federation
    return len(fed.directory.members) if fed is not None and fed.directory else 0


def enterprise_of(region_division: str, seed: int = 7) -> Enterprise:
    """A synthetic enterprise registered in ``region_division`` (6 digits)."""
    base = generate_enterprises(1, seed)[0]
    code = make_code("9", "1", region_division, base.credit_code[8:16])
    return dataclasses.replace(base, credit_code=code, division=region_division)


def records_for(enterprise: Enterprise, category: str, n: int, seed: int = 3) -> list[BatchRecord]:
    return [
        BatchRecord(s.credit_code, s.record_id, s.version, s.event_time, dict(s.fields))
        for s in generate_records(enterprise, CATALOG.categories[category], n, seed)
    ]


def push_signed(
    department: Identity, batch_id: str, category: str, records: list[BatchRecord]
) -> pb.PushResponse:
    """One signed batch pushed by ``department``; returns its response."""
    from node_agent.push import load_signing_key

    data = canonical_batch(department.node_id, batch_id, category, records)
    request = pb.PushRequest(
        batch=pb.Batch(
            batch_id=batch_id,
            category=category,
            signed_content=data,
            signature=sign(load_signing_key(department), data),
        )
    )
    with department.channel() as channel:
        stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
        (response,) = list(stub.Push(iter([request]), timeout=60))
    return response


def entries(gw: Gateway, action: str) -> list[Any]:
    e = schema.ledger_entries.c
    return list(
        gw.runtime.store.read(
            lambda conn: conn.execute(
                select(e.idx, e.trace_id, e.actor, e.outcome, e.body)
                .where(e.action == action)
                .order_by(e.idx)
            ).all()
        )
    )


def relayed(gw: Gateway) -> list[Any]:
    f = schema.federation_relayed.c
    return list(
        gw.runtime.store.read(
            lambda conn: conn.execute(
                select(
                    f.source_gateway_id, f.source_node_id, f.batch_id, f.outcomes, f.direction
                ).order_by(f.id)
            ).all()
        )
    )
