"""Wiring of metrics, traces and logs for one gateway process.

* Metrics: the OpenTelemetry SDK's meter provider with a Prometheus reader (served as
  ``/metrics`` on the ops port, ``gateway.host.ops``) and, when the standard variables
  ask for it (``OTEL_METRICS_EXPORTER=otlp``, or ``OTEL_EXPORTER_OTLP_ENDPOINT`` set and
  the exporter not ``none``), an OTLP exporter (``OTEL_EXPORTER_OTLP_PROTOCOL``:
  ``http/protobuf`` by default, or ``grpc``). The instruments live in
  ``gateway.core.metrics``; the observable gauges here read in-memory state of the
  running gateways (``GaugeSource``), never the database.
* Traces: off by default (the API's no-op tracer, and the chain skips span work). On
  when ``OTEL_TRACES_EXPORTER=otlp`` or an OTLP endpoint is set: a batch span processor
  to OTLP (protocol as for metrics), sampler from ``OTEL_TRACES_SAMPLER``.
  ``inject_traceparent`` puts the W3C ``traceparent`` into the metadata of a call to a
  peer gateway.
* Logs: one tree, the root logger, one handler; ``json`` writes one JSON object a line.
  gRPC core (``grpc``) and Alembic (``alembic``) loggers propagate to it.

``setup`` is idempotent per process (the SDK's providers can be set once).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation

from gateway.core import metrics as names
from gateway.core.metrics import TRACING
from gateway.flows.relay import RELAY_LAG

SERVICE_NAME = "xinlian-gateway"
LOG_LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_LOG_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
ROUTED_LOGGERS = ("grpc", "alembic", "sqlalchemy")  # propagate to the root handler

_lock = threading.Lock()
_done = False
_sources: list[GaugeSource] = []


class GaugeSource(Protocol):
    """One running gateway's in-memory figures (``gateway.host.health.Monitor``)."""

    def queue_depth(self) -> int: ...
    def ledger_size(self) -> int | None: ...
    def checkpoint_age_s(self) -> float | None: ...
    def certificate_expiry_s(self) -> dict[str, float]: ...
    def objections_overdue(self) -> dict[str, int]: ...
    def is_ready(self) -> bool: ...


def add_source(source: GaugeSource) -> None:
    with _lock:
        _sources.append(source)


def remove_source(source: GaugeSource) -> None:
    with _lock:
        if source in _sources:
            _sources.remove(source)


def _wanted(kind: str) -> bool:
    """Whether the OTEL_* variables ask for OTLP export of ``kind`` (traces, metrics)."""
    chosen = os.environ.get(f"OTEL_{kind.upper()}_EXPORTER", "").strip().lower()
    if chosen:
        return "otlp" in chosen.split(",")
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def _protocol(kind: str) -> str:
    """``OTEL_EXPORTER_OTLP_{KIND}_PROTOCOL`` or ``OTEL_EXPORTER_OTLP_PROTOCOL``:
    ``grpc`` or ``http/protobuf`` (the default, as the specification says; it also
    keeps a second gRPC stack out of the gateway's process: ``tracing_overhead``)."""
    for name in (f"OTEL_EXPORTER_OTLP_{kind.upper()}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = os.environ.get(name, "").strip().lower()
        if value:
            return value
    return "http/protobuf"


def setup() -> None:
    """Set the meter provider (Prometheus reader; OTLP if asked) and, if asked, the
    tracer provider. Once per process; later calls do nothing."""
    global _done
    with _lock:
        if _done:
            return
        _done = True
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({"service.name": SERVICE_NAME})
    readers: list[MetricReader] = [PrometheusMetricReader()]
    if _wanted("metrics"):
        if _protocol("metrics") == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter,
            )
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
                OTLPMetricExporter,
            )
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    _observable_gauges()
    if _wanted("traces"):
        if _protocol("traces") == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
                OTLPSpanExporter,
            )
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        TRACING.enabled = True


def shutdown() -> None:
    """Flush spans and metrics still buffered (at a graceful stop)."""
    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
        flush = getattr(provider, "force_flush", None)
        if flush is not None:
            flush()


def _each(read: str) -> Iterator[object]:
    with _lock:
        sources = list(_sources)
    for source in sources:
        yield getattr(source, read)()


def _plain(read: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
    """A gauge callback: one observation per running gateway that has the figure."""

    def callback(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(float(v)) for v in _each(read) if v is not None]  # type: ignore[arg-type]

    return callback


def _ready(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(1 if value else 0) for value in _each("is_ready")]


def _expiry(options: CallbackOptions) -> Iterable[Observation]:
    return [
        Observation(seconds, {"node": node})
        for per_node in _each("certificate_expiry_s")
        for node, seconds in per_node.items()  # type: ignore[attr-defined]
    ]


def _overdue(options: CallbackOptions) -> Iterable[Observation]:
    totals: dict[str, int] = {}
    for per_category in _each("objections_overdue"):
        for category, n in per_category.items():  # type: ignore[attr-defined]
            totals[category] = max(totals.get(category, 0), n)  # one store, many gateways
    return [Observation(n, {"category": category}) for category, n in totals.items()]


def _relay_lag(options: CallbackOptions) -> Iterable[Observation]:
    return [
        Observation(n, {"peer": peer, "direction": direction})
        for (peer, direction), n in list(RELAY_LAG.items())
    ]


_GAUGES: tuple[tuple[str, Callable[[CallbackOptions], Iterable[Observation]], str, str], ...] = (
    (names.COMMIT_QUEUE_DEPTH, _plain("queue_depth"), "{unit}", "Units waiting to commit"),
    (names.LEDGER_SIZE, _plain("ledger_size"), "{entry}", "Ledger entries (tree size)"),
    (
        names.CHECKPOINT_AGE,
        _plain("checkpoint_age_s"),
        "s",
        "Seconds since the checkpointer last covered the whole ledger",
    ),
    (names.READY, _ready, "1", "1 when the gateway is ready, else 0"),
    (
        names.CERTIFICATE_EXPIRY,
        _expiry,
        "s",
        "Seconds until a node's latest unrevoked certificate expires",
    ),
    (
        names.OBJECTIONS_OVERDUE,
        _overdue,
        "{objection}",
        "Open objections past their answer deadline, by category",
    ),
    (
        names.RELAY_LAG,
        _relay_lag,
        "{batch}",
        "Batches of relayed categories not yet acknowledged, by peer gateway and direction",
    ),
)


def _observable_gauges() -> None:
    meter = metrics.get_meter(names.METER_NAME)
    for name, callback, unit, description in _GAUGES:
        meter.create_observable_gauge(name, [callback], unit=unit, description=description)


def inject_traceparent(metadata: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """``metadata`` plus the W3C ``traceparent`` (and ``tracestate``) of the current
    span, for a call to a peer gateway; unchanged while tracing is off."""
    out = list(metadata)
    if TRACING.enabled:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        out.extend(carrier.items())
    return out


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    """One logger tree: a single handler on the root logger (stderr), text or JSON; the
    loggers of gRPC, Alembic and SQLAlchemy propagate to it. Log lines carry the
    message and its logger, level and time — never request bodies (the code logs none)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(JSON_LOG_FIELDS, rename_fields={"levelname": "level", "name": "logger"})
        )
    else:
        handler.setFormatter(logging.Formatter(LOG_LINE_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ROUTED_LOGGERS:
        routed = logging.getLogger(name)
        for old in list(routed.handlers):
            routed.removeHandler(old)
        routed.propagate = True


__all__ = [
    "GaugeSource",
    "add_source",
    "configure_logging",
    "inject_traceparent",
    "remove_source",
    "setup",
    "shutdown",
]
