"""Service mode (``xinlian agent sync --service``): every category on its schedule.

* each category runs every ``interval_s`` (config), else on its catalog update
  frequency — ``realtime`` every ``poll_interval_s``, the others daily at most apart
  (a monthly category is still looked at daily: its deadline counts working days from
  each event, and waiting a month would miss it); a run that fails is tried again after
  ``RETRY_S`` (the watermark did not move, so nothing is lost);
* after each round, deadline warnings (``node_agent.sync.deadlines``) are logged;
* the node certificate is renewed (``RenewCertificate``, ``node_agent.enroll.renew``)
  once it has less than ``renew_before_days`` left; the next run signs with the new key;
* metrics on ``metrics_port`` (127.0.0.1), if configured;
* SIGTERM or SIGINT end the service after the page in hand (a page is never left half
  saved: its watermark is saved whole or not at all).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography import x509

from authz.catalog import Catalog
from node_agent import enroll
from node_agent.push import PushFailed
from node_agent.sync.config import SyncConfig
from node_agent.sync.deadlines import deadline_warnings
from node_agent.sync.metrics import AgentMetrics
from node_agent.sync.runner import CategorySync, RunResult
from node_agent.sync.sources.base import SourceError
from node_agent.sync.watermark import SyncState
from xinlian.identity import Identity
from xinlian.workdays import WorkdayCalendar

log = logging.getLogger("xinlian.agent")

DAY_S = 86_400.0
FREQUENCY_S = {"daily": DAY_S, "weekly": DAY_S, "monthly": DAY_S, "yearly": DAY_S}
RETRY_S = 60.0  # after a failed run
RENEW_CHECK_S = 3600.0
MAX_SLEEP_S = 60.0


def interval_for(config: SyncConfig, sync: CategorySync) -> float:
    if sync.category.interval_s is not None:
        return sync.category.interval_s
    frequency = sync.mapper.category.update_frequency
    if frequency == "realtime":
        return config.poll_interval_s
    return FREQUENCY_S.get(frequency, DAY_S)


def record_run(sync: CategorySync, state: SyncState, run: Callable[[], RunResult]) -> RunResult:
    """Run, and record the run's end (its error, if any) in the state file."""
    now = datetime.now(UTC)
    try:
        result = run()
    except (PushFailed, SourceError) as exc:
        state.finish_run(sync.category.id, now, str(exc), None)
        raise
    state.finish_run(sync.category.id, datetime.now(UTC), None, result.pending)
    return result


def renew_if_due(config: SyncConfig, now: datetime) -> bool:
    """Renew the node certificate when it has less than ``renew_before_days`` left."""
    identity = Identity.load(config.identity, gateway=config.gateway)
    cert = x509.load_pem_x509_certificate(identity.files.cert.read_bytes())
    left = cert.not_valid_after_utc - now
    if left > timedelta(days=config.renew_before_days):
        return False
    not_after = enroll.renew(identity)
    log.warning("node certificate had %s left; renewed, valid until %s", left, not_after)
    return True


def run_service(
    config: SyncConfig,
    state: SyncState,
    syncs: list[CategorySync],
    stop: threading.Event | None = None,
) -> None:
    from node_agent.sync.cli import make_pusher

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    metrics = AgentMetrics()
    if config.metrics_port is not None:
        metrics.serve(config.metrics_port)
    catalog = Catalog.default()
    calendar = WorkdayCalendar.load(config.calendar_dirs)
    due = {sync.category.id: 0.0 for sync in syncs}
    next_renew_check = 0.0
    warned: set[str] = set()
    while not stop.is_set():
        clock = time.monotonic()
        if clock >= next_renew_check:
            try:
                renew_if_due(config, datetime.now(UTC))
            except Exception as exc:  # the old certificate still works: try again later
                log.error("certificate renewal failed: %s", exc)
            next_renew_check = clock + RENEW_CHECK_S
        pusher = make_pusher(config)
        for sync in syncs:
            cid = sync.category.id
            if stop.is_set() or time.monotonic() < due[cid]:
                continue
            try:
                result = record_run(sync, state, lambda s=sync, p=pusher: s.run(p))  # type: ignore[misc]
            except (PushFailed, SourceError) as exc:
                metrics.failed(cid)
                log.error("%s: sync stopped: %s; retrying in %.0f s", cid, exc, RETRY_S)
                due[cid] = time.monotonic() + min(RETRY_S, interval_for(config, sync))
                continue
            metrics.ran(result, datetime.now(UTC))
            log.info(
                "%s: read %d, accepted %d, duplicate %d, rejected %d, withdrawn %d",
                cid,
                result.read,
                result.accepted,
                result.duplicates,
                result.rejected,
                result.withdrawn,
            )
            due[cid] = time.monotonic() + interval_for(config, sync)
        metrics.rejects_from(state)
        for warning in deadline_warnings(
            state, catalog, calendar, config.warn_workdays, datetime.now(UTC)
        ):
            key = f"{warning.category}:{warning.record_id}:{warning.due}"
            if key not in warned:
                warned.add(key)
                log.warning("deadline: %s", warning.message)
        wait = min(due.values(), default=clock + MAX_SLEEP_S) - time.monotonic()
        stop.wait(max(0.1, min(MAX_SLEEP_S, wait)))
