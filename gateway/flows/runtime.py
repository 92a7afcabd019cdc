"""The gateway's dependencies, passed to every flow and servicer; assembled once per process
by ``gateway.host.assemble.build_runtime``."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection

from audit.checkpoint import NoteSigner
from audit.entry import Entry
from authz.catalog import Catalog
from gateway.core.caller import CURRENT_REQUEST_ID, Gate
from gateway.flows.denials import DenialRecorder
from gateway.flows.grants import AuthzCaches
from gateway.flows.registry import Registry
from gateway.store.committer import GroupCommitter, Work
from gateway.store.db import Store
from xinlian.clock import Clock
from xinlian.errors import InvalidArgument
from xinlian.limits import MAX_TRACE_ID_LEN
from xinlian.workdays import WorkdayCalendar, load_calendar

T = TypeVar("T")


class Settings(Protocol):
    """What is read of the gateway's configuration (``gateway.host.config.GatewayConfig``)
    through the runtime."""

    @property
    def origin(self) -> str: ...
    @property
    def listen(self) -> str: ...
    @property
    def checkpoint_interval_s(self) -> float: ...
    @property
    def ledger_tile_cache_tiles(self) -> int: ...
    @property
    def tlog_listen(self) -> str: ...
    @property
    def tlog_allow_networks(self) -> tuple[str, ...]: ...
    def advertised(self, listen: str | None = None, port: int = 0) -> tuple[str, str]: ...
    @property
    def ca_cert(self) -> Path: ...
    @property
    def server_cert(self) -> Path: ...
    @property
    def server_key(self) -> Path: ...


@dataclass
class Runtime:
    config: Settings
    store: Store
    clock: Clock
    catalog: Catalog
    registry: Registry
    committer: GroupCommitter
    gate: Gate
    signer: NoteSigner = field(repr=False)
    pseudonym_secret: bytes = field(repr=False)
    # Per-process caches of grants and enterprise state (≤ 0.5 s, see grants_store).
    authz_caches: AuthzCaches = field(default_factory=AuthzCaches)
    # Refusals of known nodes as ledger entries, with flood control (gateway.flows.denials);
    # the chain writes them. Closed (pending summaries written) at shutdown.
    denials: DenialRecorder | None = None
    # Chinese working days (xinlian.workdays), loaded once: objection deadlines
    calendar: WorkdayCalendar = field(default_factory=load_calendar, repr=False)
    # The main listener as served (address, bound port), set by the server at start: what
    # enrollment hands to nodes derives from it (``Settings.advertised``).
    served: tuple[str | None, int] = (None, 0)
    # The federation (gateway.flows.federation_link.Federation) when this gateway is
    # federated, and its client to peer gateways (gateway.services.federation_client).
    federation: Any = None
    peer_client: Any = None

    async def commit(self, work: Work[T]) -> T:
        return await self.committer.submit(work)

    async def commit_entry(self, entry: Entry) -> int:
        """Commit one ledger entry on its own; returns its index (raises if not durable)."""
        return await self.committer.submit(lambda conn, ledger: ledger.append(entry))

    async def read(self, fn: Callable[[Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, self.store.read, fn)


def new_trace_id() -> str:
    request_id = CURRENT_REQUEST_ID.get()
    return request_id + secrets.token_hex(4) if request_id else secrets.token_hex(12)


_TRACE_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def checked_trace_id(trace_id: str) -> str:
    """A request's trace id, checked, or a new one if it names none (every flow that
    takes one from the caller: queries, objections)."""
    if not trace_id:
        return new_trace_id()
    if len(trace_id) > MAX_TRACE_ID_LEN or _TRACE_ID_RE.fullmatch(trace_id) is None:
        raise InvalidArgument.field(
            "trace_id", trace_id, f"1-{MAX_TRACE_ID_LEN} characters [A-Za-z0-9._:-]"
        )
    return trace_id
