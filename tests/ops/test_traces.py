"""With tracing on, a call is a server span that continues the caller's W3C
``traceparent`` and carries method, node, code, request id and the ledger trace id; a
call to a peer gateway passes the context on (``inject_traceparent``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from ops.conftest import ops_gateway
from support.authz_helpers import CODE, make_world, seed_records

from authz.catalog import Purpose
from gateway.core.metrics import TRACING, tracer
from gateway.host.telemetry import inject_traceparent
from node_agent.query import query_request
from xinlian.v1 import exchange_pb2_grpc

pytestmark = pytest.mark.integration

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for this test only (the provider is set once a process)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        pytest.skip("another tracer provider is set in this process")
    TRACING.enabled = True
    try:
        yield _EXPORTER
    finally:
        TRACING.enabled = False
        _EXPORTER.clear()


def test_rpc_span_continues_traceparent(tmp_path: Path, spans: InMemorySpanExporter) -> None:
    with ops_gateway(tmp_path) as gw:
        seed_records(gw.runtime.store)
        world = make_world(gw, tmp_path)
        spans.clear()
        with world.bank.channel() as channel:
            response = exchange_pb2_grpc.ExchangeServiceStub(channel).Query(
                query_request(CODE, Purpose.FINANCING, ["registration"]),
                metadata=(("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),),
                timeout=30,
            )
    (span,) = [s for s in spans.get_finished_spans() if s.name == "Query"]
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT_ID
    attributes = dict(span.attributes or {})
    assert attributes["rpc.method"] == "/xinlian.v1.ExchangeService/Query"
    assert attributes["xinlian.node"] == "bank-a"
    assert attributes["xinlian.code"] == "OK"
    assert len(str(attributes["xinlian.request_id"])) == 16
    assert attributes["xinlian.trace_id"] == response.trace_id


def test_inject_traceparent_for_peer_calls(spans: InMemorySpanExporter) -> None:
    with tracer.start_as_current_span("relay") as span:
        metadata = dict(inject_traceparent([("x-other", "1")]))
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert metadata["x-other"] == "1"
    assert metadata["traceparent"].split("-")[1] == trace_id


def test_no_traceparent_while_tracing_off() -> None:
    assert not TRACING.enabled
    assert inject_traceparent([("x-other", "1")]) == [("x-other", "1")]
