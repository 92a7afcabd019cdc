"""The agent's Prometheus metrics (service mode, on ``metrics_port`` of 127.0.0.1 only):
progress, lag behind the source, last success per category, rejects by reason."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from node_agent.sync.runner import RunResult
from node_agent.sync.watermark import SyncState


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.records = Counter(
            "xinlian_agent_records",
            "Records synced, by outcome",
            ["category", "outcome"],
            registry=r,
        )
        self.pending = Gauge(
            "xinlian_agent_pending_rows",
            "Rows waiting at the source (lag)",
            ["category"],
            registry=r,
        )
        self.last_success = Gauge(
            "xinlian_agent_last_success_timestamp_seconds",
            "When the category last synced without error",
            ["category"],
            registry=r,
        )
        self.failures = Counter(
            "xinlian_agent_run_failures", "Runs that stopped early", ["category"], registry=r
        )
        self.rejects = Gauge(
            "xinlian_agent_rejects",
            "Records in the rejects store",
            ["category", "reason"],
            registry=r,
        )

    def serve(self, port: int) -> None:
        start_http_server(port, addr="127.0.0.1", registry=self.registry)

    def ran(self, result: RunResult, when: datetime) -> None:
        c = result.category
        for outcome in ("accepted", "duplicates", "rejected", "withdrawn"):
            self.records.labels(c, outcome).inc(getattr(result, outcome))
        if result.pending is not None:
            self.pending.labels(c).set(result.pending)
        self.last_success.labels(c).set(when.timestamp())

    def failed(self, category: str) -> None:
        self.failures.labels(category).inc()

    def rejects_from(self, state: SyncState) -> None:
        self.rejects.clear()
        for (category, reason), count in state.rejects_by_reason().items():
            self.rejects.labels(category, reason).set(count)
