"""The gateway's metric instruments and its tracer, in one place.

Instruments are created here, at import, on the OpenTelemetry API's global meter; the
SDK (Prometheus ``/metrics`` on the ops port, OTLP when the ``OTEL_*`` variables ask for
it) is wired once per process by ``gateway.host.telemetry.setup``. Until then, and in
tools that never wire it, every instrument is the API's no-op.

Adding a metric for a new flow (objections, notices, repairs …):

1. add a name constant and the instrument below, with its unit and a description;
2. call it from the flow (``OBJECTIONS.add(1, {"outcome": "filed"})``), with attributes
   of bounded cardinality only (a category, a reason code, a node id — never a credit
   code, a record id or a trace id);
3. add a row to the metrics reference in ``docs/operations.md``.

A value that is read rather than counted (a queue depth, an age) is an observable gauge
registered in ``gateway.host.telemetry`` from in-memory state: a scrape never queries the
database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry import metrics, trace

METER_NAME = "xinlian.gateway"
_meter = metrics.get_meter(METER_NAME)
tracer = trace.get_tracer(METER_NAME)

# -- names ------------------------------------------------------------------------------
RPC_CALLS = "xinlian.rpc.calls"
RPC_DURATION = "xinlian.rpc.duration"
PUSH_RECORDS = "xinlian.push.records"
QUERY_DECISIONS = "xinlian.query.decisions"
COMMIT_GROUP_SIZE = "xinlian.committer.group_size"
COMMIT_DURATION = "xinlian.committer.duration"
COMMIT_ERRORS = "xinlian.commit.errors"
COMMIT_QUEUE_DEPTH = "xinlian.committer.queue_depth"
LEDGER_SIZE = "xinlian.ledger.size"
CHECKPOINT_AGE = "xinlian.ledger.checkpoint_age"
CERTIFICATE_EXPIRY = "xinlian.node.certificate_expiry"
READY = "xinlian.ready"
OBJECTIONS = "xinlian.objections"
OBJECTIONS_OVERDUE = "xinlian.objections.overdue"
WITNESS_ROUNDS = "xinlian.witness.rounds"
SPLIT_VIEWS = "xinlian.witness.split_views"
RELAY_LAG = "xinlian.federation.relay_lag"

# -- counters and histograms (observable gauges: gateway.host.telemetry) ----------------
rpc_calls = _meter.create_counter(
    RPC_CALLS, unit="{call}", description="RPCs by method and status code"
)
rpc_duration = _meter.create_histogram(
    RPC_DURATION, unit="ms", description="RPC latency by method and status code"
)
push_records = _meter.create_counter(
    PUSH_RECORDS,
    unit="{record}",
    description="Pushed records by category, department and outcome",
)
query_decisions = _meter.create_counter(
    QUERY_DECISIONS,
    unit="{decision}",
    description="Query decisions per category by outcome and reason code",
)
objections = _meter.create_counter(
    OBJECTIONS,
    unit="{objection}",
    description="Objections filed and answered, by category, event and lateness",
)
commit_group_size = _meter.create_histogram(
    COMMIT_GROUP_SIZE, unit="{unit}", description="Units of work per committed group"
)
commit_duration = _meter.create_histogram(
    COMMIT_DURATION, unit="ms", description="Time to commit one group (ledger included)"
)
commit_errors = _meter.create_counter(
    COMMIT_ERRORS,
    unit="{group}",
    description="Groups whose commit the database refused or lost, by error kind",
)
witness_rounds = _meter.create_counter(
    WITNESS_ROUNDS,
    unit="{round}",
    description="Witnessing of a peer's checkpoint, by peer and outcome",
)
split_views = _meter.create_counter(
    SPLIT_VIEWS,
    unit="{split}",
    description="Split views found (two signed trees of one size), by peer",
)


class _Tracing:
    """Whether spans are recorded (an exporter is configured); off, the chain skips
    span work entirely."""

    enabled = False


TRACING = _Tracing()


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """A child span for one flow step while tracing is on; nothing otherwise."""
    if not TRACING.enabled:
        yield
        return
    with tracer.start_as_current_span(name):
        yield


def annotate(key: str, value: str) -> None:
    """Set an attribute on the current span (e.g. the ledger trace id), if tracing."""
    if TRACING.enabled:
        trace.get_current_span().set_attribute(key, value)


__all__ = [
    "TRACING",
    "annotate",
    "commit_duration",
    "commit_errors",
    "commit_group_size",
    "push_records",
    "query_decisions",
    "rpc_calls",
    "rpc_duration",
    "split_views",
    "step",
    "tracer",
    "witness_rounds",
]
