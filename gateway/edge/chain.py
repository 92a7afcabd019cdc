"""The named, ordered interceptor chain of the gateway.

Every RPC passes these steps, in this order:

1. ``request_id``  — a fresh request id (returned in trailing metadata on errors);
2. ``authenticate`` — the peer certificate → a checked :class:`Caller` (bootstrap methods
   skip this; they are authorized by their own token);
3. ``authorize``   — the method's entry in ``gateway.edge.access.ACCESS``; a method with
   no entry is refused;
   then ``decode`` — the request bytes become the method's request message
   (``gateway.edge.decode``; bytes that do not decode are INVALID_ARGUMENT);
4. ``observe``     — one log line and metrics per call (no request bodies, no secrets);
   while tracing is on (``gateway.core.metrics.TRACING``), the call is one server span,
   a child of the caller's W3C ``traceparent``, carrying method, node, code and request id;
5. ``translate``   — XinLian errors become gRPC statuses here, once; any other exception
   becomes INTERNAL with only the request id, never its text. A refusal of a known node,
   or of a signed statement, is first written to the ledger (``gateway.flows.denials``).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
from grpc import aio
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from audit.entry import Action
from gateway.core.caller import CURRENT_CALLER, CURRENT_REQUEST_ID, Caller, Gate
from gateway.core.metrics import TRACING, rpc_calls, rpc_duration, tracer
from gateway.edge.access import ACCESS, BOOTSTRAP
from gateway.edge.decode import decode_stream, decoder
from gateway.edge.gate import CURRENT_PEER
from gateway.edge.status import (
    REQUEST_ID_METADATA_KEY,
    details,
    status_of,
    trailing_metadata,
)
from gateway.flows.denials import Denial, DenialRecorder, Refusal, mark, refusal_of
from xinlian.errors import PermissionDenied, Unauthenticated, XinLianError

log = logging.getLogger("xinlian.rpc")
MAX_WRAPPED_METHODS = 1024  # bounds the per-method cache (unknown methods never reach it)


class ChainInterceptor(aio.ServerInterceptor):
    """Applies the steps of the module docstring around every method handler."""

    def __init__(self, gate: Gate, denials: DenialRecorder | None = None) -> None:
        self._gate = gate
        self._denials = denials  # where refusals of known nodes are written (None: logged only)
        # method → (the service's handler, its wrapped handler): the steps are per
        # method, not per call, so each handler is wrapped once
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = _wrap(handler, _Steps(self._gate, self._denials, method))
        if len(self._wrapped) < MAX_WRAPPED_METHODS:
            self._wrapped[method] = (handler, wrapped)
        return wrapped


class _Steps:
    def __init__(self, gate: Gate, denials: DenialRecorder | None, method: str) -> None:
        self.gate = gate
        self.denials = denials
        self.method = method
        self.rule = ACCESS.get(method)

    async def before(self, context: aio.ServicerContext, request_id: str) -> None:
        # (1) request id
        CURRENT_REQUEST_ID.set(request_id)
        CURRENT_CALLER.set(None)
        CURRENT_PEER.set(None)
        # (3, checked first so an unlisted method is refused even without identity)
        if self.rule is None:
            raise PermissionDenied(f"{self.method} has no access rule", reason="NO_ACCESS_RULE")
        if self.rule == BOOTSTRAP:
            CURRENT_CALLER.set(None)
            return
        # (2) authenticate
        pem = _peer_pem(context)
        try:
            caller = await self.gate.authenticate(pem)
            # (3) authorize
            if caller.kind not in self.rule:
                raise PermissionDenied(
                    f"node kind {caller.kind} may not call {self.method.rsplit('/', 1)[-1]}",
                    reason="KIND_NOT_ALLOWED",
                )
        except (PermissionDenied, Unauthenticated) as exc:
            # an access.denied entry if the peer is a known node (see ``_record``)
            peer = CURRENT_PEER.get()
            state = {"node_state": peer.state} if peer is not None and peer.state else {}
            mark(exc, Refusal(Action.ACCESS_DENIED, details=state))
            raise
        CURRENT_CALLER.set(caller)

    def observe(
        self, request_id: str, started: float, code: grpc.StatusCode, reason: str = "-"
    ) -> None:
        # (4) observe: a refused call is logged at WARNING, naming the node the
        # certificate claims (even when authentication refused it) and the reason
        elapsed_ms = (time.perf_counter() - started) * 1000
        attrs = {"method": self.method, "code": code.name}
        rpc_calls.add(1, attrs)
        rpc_duration.record(elapsed_ms, attrs)
        if TRACING.enabled:
            _annotate_span(code, request_id)
        level = logging.WARNING if code in _REFUSED_CODES else logging.INFO
        if not log.isEnabledFor(level):
            return
        log.log(
            level,
            "rpc method=%s caller=%s code=%s reason=%s ms=%.1f request_id=%s",
            self.method,
            _caller_name(),
            code.name,
            reason,
            elapsed_ms,
            request_id,
        )

    async def _record(self, exc: XinLianError, request_id: str) -> None:
        """A refusal of a known node (marked where it was decided) becomes a ledger
        entry before it is answered (gateway.flows.denials: flood control, fail closed)."""
        refusal = refusal_of(exc)
        recorder = self.denials
        if refusal is None or recorder is None:
            return
        caller, peer = CURRENT_CALLER.get(), CURRENT_PEER.get()
        if caller is not None:
            node_id, kind = caller.node_id, caller.kind
        elif peer is not None and peer.known:
            node_id, kind = peer.node_id, peer.kind
        else:
            return  # no known node to name: logged only
        await recorder.record(
            Denial(
                node_id=node_id,
                node_kind=kind,
                method=self.method,
                reason=exc.reason,
                code=status_of(exc).name,
                time=recorder.clock.now(),
                refusal=refusal,
                request_id=request_id,
            )
        )

    async def fail(
        self, context: aio.ServicerContext, exc: BaseException, request_id: str, started: float
    ) -> None:
        # (5) translate, once
        if isinstance(exc, XinLianError):
            code = status_of(exc)
            await self._record(exc, request_id)
            self.observe(request_id, started, code, exc.reason)
            context.set_trailing_metadata(trailing_metadata(exc, request_id))
            await context.abort(code, details(exc))
        if isinstance(exc, NotImplementedError):
            self.observe(request_id, started, grpc.StatusCode.UNIMPLEMENTED)
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{self.method} is not implemented")
        log.exception("unexpected error in %s (request_id=%s)", self.method, request_id)
        self.observe(request_id, started, grpc.StatusCode.INTERNAL)
        context.set_trailing_metadata(((REQUEST_ID_METADATA_KEY, request_id),))
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})")


_REFUSED_CODES = frozenset({grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED})


def _annotate_span(code: grpc.StatusCode, request_id: str) -> None:
    span = trace.get_current_span()
    span.set_attributes(
        {
            "rpc.grpc.status_code": code.value[0],
            "xinlian.code": code.name,
            "xinlian.node": _caller_name(),
            "xinlian.request_id": request_id,
        }
    )
    if code is not grpc.StatusCode.OK:
        span.set_status(trace.Status(trace.StatusCode.ERROR, code.name))


def _span_start(steps: _Steps, context: aio.ServicerContext) -> Any:
    """Tracing on: a server span for the call, a child of the caller's W3C
    ``traceparent`` (gRPC metadata) if it sent one, made current; its detach token."""
    carrier = {key: value for key, value in (context.invocation_metadata() or ())}
    parent = propagate.extract(carrier)
    span = tracer.start_span(
        steps.method.rsplit("/", 1)[-1] or steps.method,
        context=parent,
        kind=trace.SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "rpc.method": steps.method},
    )
    return span, otel_context.attach(trace.set_span_in_context(span, parent))


def _span_end(started: Any) -> None:
    span, token = started
    otel_context.detach(token)
    span.end()


def _caller_name() -> str:
    caller = CURRENT_CALLER.get()
    if isinstance(caller, Caller):
        return caller.node_id
    peer = CURRENT_PEER.get()
    return peer.node_id if peer is not None else "-"


def _peer_pem(context: aio.ServicerContext) -> bytes | None:
    values = list(context.auth_context().get("x509_pem_cert") or ())
    if not values:
        return None
    return bytes(values[0])


def _is_abort(exc: BaseException) -> bool:
    return isinstance(exc, aio.AbortError) or type(exc).__name__ == "AbortError"


async def _drain(result: Any) -> AsyncIterator[Any]:
    """Stream handlers either yield responses or write them with ``context.write``."""
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    else:
        await result


@asynccontextmanager
async def _around(steps: _Steps, context: aio.ServicerContext) -> AsyncIterator[str]:
    """The steps around one call: (1)-(3) before it, (4) after it, (5) if it fails."""
    request_id, started = secrets.token_hex(8), time.perf_counter()
    span = _span_start(steps, context) if TRACING.enabled else None
    try:
        await steps.before(context, request_id)
        yield request_id
    except Exception as exc:
        if _is_abort(exc):
            raise
        await steps.fail(context, exc, request_id, started)
        raise
    else:
        steps.observe(request_id, started, grpc.StatusCode.OK)
    finally:
        if span is not None:
            _span_end(span)


def _wrap(handler: grpc.RpcMethodHandler, steps: _Steps) -> grpc.RpcMethodHandler:
    # gRPC passes the request bytes through; they are decoded after ``steps.before``
    # (gateway.edge.decode), so a malformed request gets a status with reason and id
    decode = decoder(handler.request_deserializer)
    kwargs = {
        "request_deserializer": None,
        "response_serializer": handler.response_serializer,
    }
    inner = (
        handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    )

    def adapt(request: Any) -> Any:
        return decode_stream(request, decode) if handler.request_streaming else decode(request)

    if handler.response_streaming:

        async def streaming(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            async with _around(steps, context):
                async for item in _drain(inner(adapt(request), context)):
                    yield item

        if handler.request_streaming:
            return grpc.stream_stream_rpc_method_handler(streaming, **kwargs)
        return grpc.unary_stream_rpc_method_handler(streaming, **kwargs)

    async def single(request: Any, context: aio.ServicerContext) -> Any:
        async with _around(steps, context):
            return await inner(adapt(request), context)

    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(single, **kwargs)
    return grpc.unary_unary_rpc_method_handler(single, **kwargs)


__all__ = ["ChainInterceptor", "Unauthenticated"]
