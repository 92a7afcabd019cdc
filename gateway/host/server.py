"""Assemble and run the gateway's gRPC server.

Two listeners on one server: the main listener requires a client certificate from the
gateway CA (mTLS); the enrollment listener is server-authenticated TLS only and exists
for the bootstrap calls Apply and Enroll (every other call on it is refused, since it has
no client identity).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2_grpc

from gateway.edge.chain import ChainInterceptor
from gateway.flows.change_log import run_publicity_ends
from gateway.flows.checkpointer import run_checkpointer, sign_at_shutdown, sign_now
from gateway.flows.notices import run_notice_generator
from gateway.flows.runtime import Runtime
from gateway.flows.witness import Witness, run_witness
from gateway.flows.witness_peers import configured_peers
from gateway.host import telemetry
from gateway.host.assemble import build_federation
from gateway.host.certs import run_cert_watch
from gateway.host.config import DEFAULT_WITNESS_INTERVAL_S, GatewayConfig
from gateway.host.health import Monitor
from gateway.host.ops import OpsServer
from gateway.host.reflection import enable_reflection
from gateway.host.tlog_http import TlogServer
from gateway.services.audit_service import AuditServicer
from gateway.services.authorization_service import AuthorizationServicer
from gateway.services.catalog_service import CatalogServicer
from gateway.services.exchange_service import ExchangeServicer
from gateway.services.federation_service import FederationServicer, start_federation
from gateway.services.notices_service import NoticeServicer
from gateway.services.objection_service import ObjectionServicer
from gateway.services.peer_client import connect_peer
from gateway.services.registry_service import RegistryServicer
from gateway.services.repair_service import RepairServicer
from gateway.services.statistics_service import StatisticsServicer
from gateway.services.subscriptions_service import SubscriptionServicer
from gateway.services.withdrawal_service import WithdrawalServicer
from gateway.services.witness_service import WitnessServicer
from xinlian.exit_codes import CommandExit, ExitCode
from xinlian.limits import MAX_CONCURRENT_STREAMS, MAX_MESSAGE_BYTES
from xinlian.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    authorization_pb2,
    authorization_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    federation_pb2,
    federation_pb2_grpc,
    notices_pb2,
    notices_pb2_grpc,
    objections_pb2,
    objections_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    repairs_pb2,
    repairs_pb2_grpc,
    statistics_pb2,
    statistics_pb2_grpc,
    subscriptions_pb2,
    subscriptions_pb2_grpc,
    withdrawals_pb2,
    withdrawals_pb2_grpc,
    witness_pb2,
    witness_pb2_grpc,
)

# The committer thread holds the database write lock (SQLite: the one writer) while it
# runs a group; between its statements it needs the GIL back, which the event loop,
# busy parsing the next batches, hands over only every switch interval (5 ms by
# default). A shorter interval keeps the lock held for the work, not for the wait: on a
# push load the lock was held 17.7 instead of 22.6 ms per 1 000-record batch (one
# process), 15.6 instead of 19.6 ms (two). See docs/benchmarks.md.
GIL_SWITCH_INTERVAL_S = 0.0005

log = logging.getLogger("xinlian.gateway")

SERVICE_NAMES = (
    registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name,
    catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name,
    exchange_pb2.DESCRIPTOR.services_by_name["ExchangeService"].full_name,
    authorization_pb2.DESCRIPTOR.services_by_name["AuthorizationService"].full_name,
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    notices_pb2.DESCRIPTOR.services_by_name["NoticeService"].full_name,
    objections_pb2.DESCRIPTOR.services_by_name["ObjectionService"].full_name,
    repairs_pb2.DESCRIPTOR.services_by_name["RepairService"].full_name,
    withdrawals_pb2.DESCRIPTOR.services_by_name["WithdrawalService"].full_name,
    statistics_pb2.DESCRIPTOR.services_by_name["StatisticsService"].full_name,
    witness_pb2.DESCRIPTOR.services_by_name["WitnessService"].full_name,
    federation_pb2.DESCRIPTOR.services_by_name["FederationService"].full_name,
    subscriptions_pb2.DESCRIPTOR.services_by_name["SubscriptionService"].full_name,
)
GRACE_PERIOD_S = 5.0


@dataclass
class RunningGateway:
    server: aio.Server
    runtime: Runtime
    port: int
    enroll_port: int
    health: health.aio.HealthServicer
    background: list[asyncio.Task[None]]
    monitor: Monitor | None = None  # readiness, gRPC health, gauges (gateway.host.health)
    ops: OpsServer | None = None  # /healthz /readyz /metrics (gateway.host.ops)
    ops_port: int = 0
    tlog: TlogServer | None = None  # the read-only tlog-tiles listener (gateway.host.tlog_http)
    tlog_port: int = 0

    async def stop(self, grace: float | None = GRACE_PERIOD_S) -> None:
        if self.monitor is not None:
            self.monitor.stopping = True
            telemetry.remove_source(self.monitor)
        if self.ops is not None:
            await self.ops.stop()
        if self.tlog is not None:
            await self.tlog.stop()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        if self.runtime.denials is not None:  # its pending summaries, while the ledger runs
            await self.runtime.denials.close()
        await self.runtime.committer.stop()
        await sign_at_shutdown(self.runtime)  # no entry is left without a checkpoint
        self.runtime.store.close()


def witness_task(rt: Runtime) -> Coroutine[Any, Any, None]:
    """The witnessing rounds (gateway.flows.witness) over the configured peers; with no
    peers configured a round does nothing."""
    witness = Witness(rt.store, rt.signer, rt.clock, connect_peer)
    interval = float(getattr(rt.config, "witness_interval_s", DEFAULT_WITNESS_INTERVAL_S))
    return run_witness(witness, lambda: configured_peers(rt.config), interval)


def server_credentials(rt: Runtime, *, require_client_auth: bool) -> grpc.ServerCredentials:
    config = rt.config
    return grpc.ssl_server_credentials(
        [(config.server_key.read_bytes(), config.server_cert.read_bytes())],
        root_certificates=config.ca_cert.read_bytes() if require_client_auth else None,
        require_client_auth=require_client_auth,
    )


def add_services(server: aio.Server, rt: Runtime) -> None:
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(rt), server)
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(CatalogServicer(rt), server)
    exchange_pb2_grpc.add_ExchangeServiceServicer_to_server(ExchangeServicer(rt), server)
    authorization_pb2_grpc.add_AuthorizationServiceServicer_to_server(
        AuthorizationServicer(rt), server
    )
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(rt), server)
    objections_pb2_grpc.add_ObjectionServiceServicer_to_server(ObjectionServicer(rt), server)
    notices_pb2_grpc.add_NoticeServiceServicer_to_server(NoticeServicer(rt), server)
    repairs_pb2_grpc.add_RepairServiceServicer_to_server(RepairServicer(rt), server)
    withdrawals_pb2_grpc.add_WithdrawalServiceServicer_to_server(WithdrawalServicer(rt), server)
    statistics_pb2_grpc.add_StatisticsServiceServicer_to_server(StatisticsServicer(rt), server)
    witness_pb2_grpc.add_WitnessServiceServicer_to_server(WitnessServicer(rt), server)
    federation_pb2_grpc.add_FederationServiceServicer_to_server(FederationServicer(rt), server)
    subscriptions_pb2_grpc.add_SubscriptionServiceServicer_to_server(
        SubscriptionServicer(rt), server
    )


def _bind(server: aio.Server, address: str, credentials: grpc.ServerCredentials) -> int:
    """Add a listener; an address in use (or not this machine's) is one line, exit 6."""
    try:
        return server.add_secure_port(address, credentials)
    except RuntimeError:
        raise CommandExit(
            ExitCode.FAILED, f"error: cannot listen on {address}: in use or not an address here"
        ) from None


async def start(
    rt: Runtime,
    listen: str,
    enroll_listen: str | None,
    *,
    reuse_port: bool = False,
    ops_listen: str | None = None,
    tlog_listen: str | None = None,
) -> RunningGateway:
    """Start serving; ports ending in ``:0`` are chosen by the OS (tests). With
    ``reuse_port`` several worker processes listen on the same ports (SO_REUSEPORT; the
    kernel spreads new connections over them). ``ops_listen``: the plain-HTTP ops port
    (gateway.host.ops), none if empty. ``tlog_listen``: the read-only tlog-tiles
    listener (gateway.host.tlog_http); None: the config's ``tlog_listen``."""
    telemetry.setup()
    # a SIGKILL may have left entries that no checkpoint covers: sign them before serving
    await sign_now(rt)
    server = aio.server(
        interceptors=[ChainInterceptor(rt.gate, rt.denials)],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_concurrent_streams", MAX_CONCURRENT_STREAMS),
            ("grpc.so_reuseport", 1 if reuse_port else 0),
        ],
    )
    add_services(server, rt)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    enable_reflection((*SERVICE_NAMES, health.SERVICE_NAME), server)  # v1 and v1alpha
    port = _bind(server, listen, server_credentials(rt, require_client_auth=True))
    rt.served = (listen, port)
    enroll_port = 0
    if enroll_listen:
        enroll_port = _bind(
            server, enroll_listen, server_credentials(rt, require_client_auth=False)
        )
    rt.committer.start()
    await server.start()
    loop = asyncio.get_running_loop()
    max_age = getattr(rt.config, "max_checkpoint_age_s", 3 * rt.config.checkpoint_interval_s)
    monitor = Monitor(rt, health_servicer, SERVICE_NAMES, max_age)
    checkpointer = loop.create_task(run_checkpointer(rt, monitor.checkpoints), name="checkpointer")
    monitor.watch(checkpointer)
    await monitor.publish(await monitor.check())
    telemetry.add_source(monitor)
    background = [checkpointer, loop.create_task(monitor.run(), name="health")]
    background.append(loop.create_task(run_notice_generator(rt), name="notices"))
    background.append(loop.create_task(witness_task(rt), name="witness"))
    if isinstance(rt.config, GatewayConfig):  # directory and relay (docs/federation.md)
        config = rt.config
        background.extend(start_federation(rt, lambda: build_federation(config)))
    else:
        background.extend(start_federation(rt))
    background.append(loop.create_task(run_publicity_ends(rt), name="publicity-ends"))
    if isinstance(rt.config, GatewayConfig):  # the expiry warning, at start and daily
        background.append(loop.create_task(run_cert_watch(rt.config, rt.clock), name="certs"))
    ops, ops_port = None, 0
    if ops_listen:
        ops = OpsServer(monitor)
        ops_port = await ops.start(ops_listen)
    running = RunningGateway(
        server, rt, port, enroll_port, health_servicer, background, monitor, ops, ops_port
    )
    tlog_listen = rt.config.tlog_listen if tlog_listen is None else tlog_listen
    if tlog_listen:
        running.tlog = TlogServer(rt, rt.config.tlog_allow_networks, reuse_port=reuse_port)
        running.tlog_port = await running.tlog.start(tlog_listen)
    return running


async def serve_forever(
    rt: Runtime,
    listen: str,
    enroll_listen: str | None,
    *,
    reuse_port: bool = False,
    ops_listen: str | None = None,
) -> None:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    running = await start(rt, listen, enroll_listen, reuse_port=reuse_port, ops_listen=ops_listen)
    if running.ops is not None:
        log.info("ops endpoints on %s (port %d)", ops_listen, running.ops_port)
    if running.tlog is not None:
        log.info("tlog-tiles listener on port %d", running.tlog_port)
    log.info(
        "gateway serving mTLS on port %d, enrollment on port %d", running.port, running.enroll_port
    )
    print(
        f"serving mTLS on {listen} (port {running.port}); enrollment on {enroll_listen}", flush=True
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await running.stop()
    telemetry.shutdown()


__all__: Sequence[str] = ["RunningGateway", "serve_forever", "start"]
