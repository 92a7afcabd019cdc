"""Readiness of one gateway process, and the gRPC health service that follows it.

The gateway is *ready* when, in this order:

1. the store answers ``SELECT 1`` within ``STORE_PING_TIMEOUT_S`` (the answer is cached
   ``STORE_PING_CACHE_S``; one ping in flight at a time);
2. the group committer's task runs;
3. the checkpointer's task runs (a background task that stops is logged once, with why);
4. the checkpointer covered the whole ledger less than the configured bound ago
   (``GatewayConfig.max_checkpoint_age_s``).

``Monitor.run`` re-checks every ``HEALTH_TICK_S`` and sets the gRPC health status of
every service (and of ``""``, the server) to SERVING or NOT_SERVING when it changes; it
also refreshes, at most every ``FIGURES_REFRESH_S``, the figures the metrics read from
the store (``refresh_figures``: the certificate expiry per node, the open objections
past their answer deadline per category), so a scrape never queries the database.
``/readyz`` on the ops port asks ``Monitor.check``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from grpc_health.v1 import health, health_pb2
from sqlalchemy import func, select

from gateway.flows.checkpointer import CheckpointerState
from gateway.flows.runtime import Runtime
from gateway.store import schema
from gateway.store.objections_store import count_overdue
from gateway.store.timeutil import to_us

log = logging.getLogger("xinlian.health")

HEALTH_TICK_S = 0.5
STORE_PING_TIMEOUT_S = 2.0
STORE_PING_CACHE_S = 1.0
FIGURES_REFRESH_S = 60.0
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class Readiness:
    ready: bool
    failing: tuple[str, ...]  # names of the failed checks: store, committer, …


class Monitor:
    """Readiness checks, gRPC health updates and the figures of the observable gauges
    (``gateway.host.telemetry.GaugeSource``) of one running gateway."""

    def __init__(
        self,
        rt: Runtime,
        servicer: health.aio.HealthServicer,  # type: ignore[name-defined]
        services: Sequence[str],
        max_checkpoint_age_s: float,
    ) -> None:
        self.rt = rt
        self.servicer = servicer
        self.services = tuple(services)
        self.max_age_s = max_checkpoint_age_s
        self.checkpoints = CheckpointerState()
        self.watched: list[asyncio.Task[None]] = []
        self.stopping = False
        self._started = rt.clock.now()
        self._ping: asyncio.Future[None] | None = None
        self._ping_at = 0.0
        self._store_ok = False
        self._status: int | None = None
        self._not_after_us: dict[str, int] = {}
        self._overdue: dict[str, int] = {}
        self._figures_at = float("-inf")
        self._last: Readiness = Readiness(False, ("starting",))

    # -- background tasks ---------------------------------------------------------------
    def watch(self, task: asyncio.Task[None]) -> None:
        """A task the gateway needs (the checkpointer): if it stops, readiness fails."""
        self.watched.append(task)
        task.add_done_callback(self._stopped)

    def _stopped(self, task: asyncio.Task[None]) -> None:
        if self.stopping:
            return
        if task.cancelled():
            why = "cancelled"
        else:
            exc = task.exception()
            why = type(exc).__name__ if exc is not None else "returned"
        log.error("background task %s stopped (%s): the gateway is not ready", task.get_name(), why)

    # -- checks ------------------------------------------------------------------------
    async def _store_reachable(self) -> bool:
        # (1) one ping in flight; its answer cached STORE_PING_CACHE_S
        now = time.monotonic()
        ping = self._ping
        if ping is None:
            if now - self._ping_at < STORE_PING_CACHE_S:
                return self._store_ok
            self._ping_at = now
            loop = asyncio.get_running_loop()
            ping = self._ping = loop.run_in_executor(None, self.rt.store.ping)
        try:
            await asyncio.wait_for(asyncio.shield(ping), STORE_PING_TIMEOUT_S)
        except TimeoutError:
            self._store_ok = False
            return False  # the ping stays in flight; no second one is started
        except Exception:
            self._store_ok = False
        else:
            self._store_ok = True
        self._ping = None
        return self._store_ok

    async def check(self) -> Readiness:
        failing: list[str] = []
        if not await self._store_reachable():
            failing.append("store")
        if not self.rt.committer.alive:  # (2)
            failing.append("committer")
        if any(task.done() for task in self.watched):  # (3)
            failing.append("checkpointer")
        age = self.checkpoint_age_s()  # (4)
        if age is None:
            age = (self.rt.clock.now() - self._started).total_seconds()
        if age > self.max_age_s:
            failing.append("checkpoint_age")
        self._last = Readiness(not failing, tuple(failing))
        return self._last

    async def run(self) -> None:
        """Every HEALTH_TICK_S: check, and set the gRPC health statuses on a change."""
        while True:
            try:
                await self.publish(await self.check())
                if time.monotonic() - self._figures_at >= FIGURES_REFRESH_S:
                    await self.refresh_figures()
            except Exception as exc:  # the next tick tries again; /readyz checks on its own
                log.warning("health check failed: %s", type(exc).__name__)
            await asyncio.sleep(HEALTH_TICK_S)

    async def publish(self, readiness: Readiness) -> None:
        status = _SERVING if readiness.ready else _NOT_SERVING
        if status == self._status:
            return
        if self._status is not None:
            log.warning(
                "readiness %s%s",
                "recovered" if readiness.ready else "lost",
                "" if readiness.ready else f" (failing: {', '.join(readiness.failing)})",
            )
        self._status = status
        for name in (*self.services, ""):
            await self.servicer.set(name, status)

    async def refresh_figures(self) -> None:
        """Read the store-backed figures now (``run`` does, at most every minute)."""
        self._figures_at = time.monotonic()
        await self._refresh_certificates()
        await self._refresh_overdue()

    async def _refresh_overdue(self) -> None:
        now = self.rt.clock.now()
        try:
            self._overdue = await self.rt.read(lambda conn: count_overdue(conn, now))
        except Exception as exc:
            log.warning("overdue objections refresh failed: %s", type(exc).__name__)

    async def _refresh_certificates(self) -> None:
        c = schema.certificates
        query = (
            select(c.c.node_id, func.max(c.c.not_after_us))
            .where(c.c.revoked_at_us.is_(None))
            .group_by(c.c.node_id)
        )
        try:
            rows = await self.rt.read(lambda conn: conn.execute(query).all())
        except Exception as exc:
            log.warning("certificate expiry refresh failed: %s", type(exc).__name__)
            return
        self._not_after_us = {str(node): int(us) for node, us in rows}

    # -- figures (gateway.host.telemetry.GaugeSource) -----------------------------------
    def queue_depth(self) -> int:
        return self.rt.committer.queue_depth

    def ledger_size(self) -> int | None:
        sizes = [s for s in (self.rt.committer.ledger_size, self.checkpoints.tree_size) if s]
        return max(sizes) if sizes else None

    def checkpoint_age_s(self) -> float | None:
        covered: datetime | None = self.checkpoints.covered_at
        return None if covered is None else (self.rt.clock.now() - covered).total_seconds()

    def certificate_expiry_s(self) -> dict[str, float]:
        now_us = to_us(self.rt.clock.now())
        return {node: (us - now_us) / 1e6 for node, us in self._not_after_us.items()}

    def objections_overdue(self) -> dict[str, int]:
        return dict(self._overdue)

    def is_ready(self) -> bool:
        return self._last.ready

    @property
    def serving(self) -> bool | None:
        """The gRPC health status last published (None before the first)."""
        return None if self._status is None else self._status == _SERVING


__all__ = ["HEALTH_TICK_S", "Monitor", "Readiness"]
