"""tracing_overhead: the query rate with metrics and tracing on ÷ the rate with them off.

The same single-enterprise query load as ``bench_query`` (SQLite, a gateway subprocess,
concurrency 16, ``ctx.duration_s``), run in this run with the ``OTEL_*`` variables
unset (the Prometheus reader only; tracing off: the chain makes no span), and with
traces and metrics exported over OTLP (``http/protobuf``, the default protocol;
``OTEL_TRACES_EXPORTER=otlp``, ``OTEL_METRICS_EXPORTER=otlp``, sampler ``always_on`` =
sampling 1.0) to a local OTLP receiver this benchmark starts in a process of its own
(opentelemetry-proto's request messages, counting the spans and metric exports it
receives; decoding them must not take the load generator's CPU). Target: ratio ≥ 0.85.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from common import BenchContext, Figure

TARGET_RATIO = 0.85
ROUNDS = 3
RECEIVER_POLL_S = 0.1
RECEIVER_START_S = 30.0
OTEL_ON = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_TRACES_SAMPLER": "always_on",
    "OTEL_METRIC_EXPORT_INTERVAL": "5000",
}


class Receiver:
    """A minimal OTLP/HTTP collector (``http/protobuf``) on loopback: accepts, counts."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        self.spans = 0
        self.metric_exports = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/v1/traces":
                    request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                    count = sum(
                        len(scope.spans)
                        for resource in request.resource_spans
                        for scope in resource.scope_spans
                    )
                    with lock:
                        receiver.spans += count
                    answer = trace_service_pb2.ExportTraceServiceResponse()
                else:
                    with lock:
                        receiver.metric_exports += 1
                    answer = metrics_service_pb2.ExportMetricsServiceResponse()
                data = answer.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _receive(port: Any, spans: Any, exports: Any, stop: Any) -> None:
    """The receiver's process: serve until ``stop``, then report the counts."""
    receiver = Receiver()
    port.value = receiver.port
    while not stop.wait(RECEIVER_POLL_S):
        spans.value, exports.value = receiver.spans, receiver.metric_exports
    receiver.stop()
    spans.value, exports.value = receiver.spans, receiver.metric_exports


class ReceiverProcess:
    """The receiver in a process of its own: decoding the spans must not take CPU from
    the load generator (this process) or the gateway."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.port, self.spans, self.exports = (context.Value("i", 0) for _ in range(3))
        self.stop_event = context.Event()
        self.process = context.Process(
            target=_receive, args=(self.port, self.spans, self.exports, self.stop_event)
        )
        self.process.start()
        deadline = time.monotonic() + RECEIVER_START_S
        while self.port.value == 0:
            if time.monotonic() > deadline or not self.process.is_alive():
                raise RuntimeError("the OTLP receiver did not start")
            time.sleep(RECEIVER_POLL_S)

    def stop(self) -> tuple[int, int]:
        self.stop_event.set()
        self.process.join(RECEIVER_START_S)
        return int(self.spans.value), int(self.exports.value)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ while the gateway subprocess starts (it inherits them)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _gateway_cpu_s() -> float:
    """CPU seconds of the child processes that ended (the gateway, once stopped)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _round(ctx: BenchContext, name: str) -> tuple[float, float]:
    """One query load: the rate, and the gateway's CPU milliseconds per query over its
    whole life (start-up included, so an upper bound)."""
    import bench_query

    before = _gateway_cpu_s()
    figure = bench_query._measure(ctx, name, None)
    queries = figure.value * ctx.duration_s
    return figure.value, (_gateway_cpu_s() - before) * 1000 / max(queries, 1.0)


def run(ctx: BenchContext) -> dict[str, Figure]:
    """``ROUNDS`` rounds of (off, on), interleaved so that a drift of the machine's load
    falls on both; the figure is the median on-rate over the median off-rate."""
    offs: list[tuple[float, float]] = []
    ons: list[tuple[float, float]] = []
    receiver = ReceiverProcess()
    spans = exports = 0
    try:
        endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port.value}"}
        for i in range(1 if ctx.quick else ROUNDS):
            offs.append(_round(ctx, f"tracing-off-{i}"))
            with _environment({**OTEL_ON, **endpoint}):
                ons.append(_round(ctx, f"tracing-on-{i}"))
    finally:
        spans, exports = receiver.stop()
    extra = {
        "off_qps": [round(rate, 1) for rate, _cpu in offs],
        "on_qps": [round(rate, 1) for rate, _cpu in ons],
        "off_gateway_cpu_ms_per_query": round(statistics.median(c for _r, c in offs), 3),
        "on_gateway_cpu_ms_per_query": round(statistics.median(c for _r, c in ons), 3),
        "spans_received": spans,
        "metric_exports_received": exports,
        "target_ratio": TARGET_RATIO,
        "baseline_setup": "the same query load with the OTEL_* variables unset",
    }
    off = statistics.median(rate for rate, _cpu in offs)
    on = statistics.median(rate for rate, _cpu in ons)
    return {"tracing_overhead": Figure(on, off, "requests/s", extra)}


if __name__ == "__main__":
    sys.exit("run through bench/run.py")
