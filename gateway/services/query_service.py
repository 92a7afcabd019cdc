"""``Query``, ``QueryBatch`` and ``QueryStream`` on the wire: each request read into a
``QuerySpec`` (step 1 of ``gateway.flows.query``), each ``Committed`` answer written
back as a ``QueryResponse``.

QueryStream runs through ``gateway.services.streams.ordered``: one response per request,
in order, at most ``MAX_STREAM_INFLIGHT`` requests in progress at once, and at most
``MAX_QUERY_STREAM`` requests per stream; queries still in progress when the stream ends
early are cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from grpc import aio

from authz.decision import ReasonCode
from authz.objections import Note
from gateway.core.caller import Caller, current_caller
from gateway.core.metrics import annotate, query_decisions
from gateway.flows.denials import refusing_statement
from gateway.flows.federation_directory import Member
from gateway.flows.query import Committed, QueryHandler, QuerySpec
from gateway.flows.runtime import Runtime
from gateway.services.convert import purpose_from_wire
from gateway.services.forwarding import Forwarding
from gateway.services.streams import cancel, ordered
from xinlian.errors import InvalidArgument, ResourceExhausted
from xinlian.limits import MAX_QUERY_BATCH, MAX_QUERY_STREAM
from xinlian.v1 import exchange_pb2 as pb
from xinlian.wire import from_ts, ts

MAX_STREAM_INFLIGHT = 16


class QueryService:
    def __init__(self, rt: Runtime) -> None:
        self.handler = QueryHandler(rt)
        self.forwarding = Forwarding(rt)  # enterprises of other regions (docs/federation.md)

    # -- (1) a request read into a QuerySpec ---------------------------------------------

    def spec(
        self, credit_code: str, purpose: int, categories: Sequence[str], trace_id: str
    ) -> QuerySpec:
        """One enterprise's request, validated; the fields are checked in this order."""
        handler = self.handler
        return QuerySpec(
            credit_code=handler.credit_code(credit_code),
            categories=handler.categories(categories),
            purpose=purpose_from_wire(purpose),
            trace_id=handler.trace_id(trace_id),
        )

    def _with_self_query(
        self, spec: QuerySpec, caller: Caller, proof: pb.SelfQueryProof
    ) -> QuerySpec:
        self.handler.check_self_query_caller(caller)
        if not proof.HasField("issued_at"):
            raise InvalidArgument.field("self_query.issued_at", "unset", "a timestamp")
        return self.handler.with_self_query(
            spec,
            caller,
            proof.nonce,
            from_ts(proof.issued_at, field_name="self_query.issued_at"),
            bytes(proof.signature),
        )

    async def answer(self, caller: Caller, specs: Sequence[QuerySpec]) -> list[pb.QueryResponse]:
        """Steps (2)-(7) for these specs, one response each."""
        annotate("xinlian.trace_id", specs[0].trace_id)  # the RPC's span is the step
        homes = self.forwarding.homes(specs)
        if any(homes):
            return await self._some_forwarded(caller, specs, homes)
        committed = await self.handler.run(caller, specs)
        count_decisions(committed)
        return [query_response(done) for done in committed]

    async def _some_forwarded(
        self, caller: Caller, specs: Sequence[QuerySpec], homes: Sequence[Member | None]
    ) -> list[pb.QueryResponse]:
        """Local specs answered here, each other one by its home gateway, in order."""
        local = [spec for spec, home in zip(specs, homes, strict=True) if home is None]
        answered = iter(
            [query_response(d) for d in await self.handler.run(caller, local)] if local else []
        )
        out = []
        for spec, home in zip(specs, homes, strict=True):
            out.append(
                next(answered) if home is None else await self.forwarding.answer(caller, spec, home)
            )
        return out

    # -- RPCs -----------------------------------------------------------------------------

    async def query(
        self, request: pb.QueryRequest, context: aio.ServicerContext
    ) -> pb.QueryResponse:
        caller = current_caller()
        spec = self.spec(request.credit_code, request.purpose, request.categories, request.trace_id)
        if request.HasField("self_query"):
            # (2) a refused statement (forged, replayed, stale, not this platform's …) is
            # a statement.refused entry naming the enterprise (gateway.flows.denials)
            nonce = {"nonce": request.self_query.nonce}
            with refusing_statement("self_query", spec.credit_code, details=nonce):
                spec = self._with_self_query(spec, caller, request.self_query)
                (response,) = await self.answer(caller, [spec])
            return response
        (response,) = await self.answer(caller, [spec])
        return response

    async def query_batch(
        self, request: pb.QueryBatchRequest, context: aio.ServicerContext
    ) -> pb.QueryBatchResponse:
        caller = current_caller()
        # (1) the batch as a whole
        if not request.credit_codes:
            raise InvalidArgument.field("credit_codes", [], "at least one credit code")
        if len(request.credit_codes) > MAX_QUERY_BATCH:
            raise InvalidArgument.field(
                "credit_codes", len(request.credit_codes), f"at most {MAX_QUERY_BATCH}"
            )
        trace_id = self.handler.trace_id(request.trace_id)
        specs = [
            self.spec(code, request.purpose, request.categories, trace_id)
            for code in request.credit_codes
        ]
        return pb.QueryBatchResponse(results=await self.answer(caller, specs))

    async def query_stream(
        self, requests: AsyncIterator[pb.QueryStreamRequest], context: aio.ServicerContext
    ) -> AsyncIterator[pb.QueryStreamResponse]:
        caller = current_caller()
        count = 0

        async def start(item: pb.QueryStreamRequest) -> asyncio.Future[list[pb.QueryResponse]]:
            nonlocal count
            count += 1
            if count > MAX_QUERY_STREAM:
                raise ResourceExhausted(
                    f"a query stream carries at most {MAX_QUERY_STREAM} requests"
                )
            spec = self.spec(item.credit_code, item.purpose, item.categories, item.trace_id)
            return asyncio.ensure_future(self.answer(caller, [spec]))

        async for (response,) in ordered(
            requests, start, maxsize=MAX_STREAM_INFLIGHT, on_leftover=cancel
        ):
            yield pb.QueryStreamResponse(result=response)


def count_decisions(committed: Sequence[Committed]) -> None:
    """The metric of query decisions: one per category asked, by outcome and reason."""
    for done in committed:
        for outcome in done.outcomes:
            decision = outcome.decision
            query_decisions.add(
                1,
                {
                    "category": outcome.category.id,
                    "outcome": "allowed" if decision.allowed else "denied",
                    "reason": decision.reason_code or "ALLOWED",
                },
            )


def notes_to_wire(notes: Sequence[Note]) -> list[pb.ObjectionNote]:
    """The objections shown with a record (docs/objections.md)."""
    return [
        pb.ObjectionNote(
            objection_id=n.objection_id,
            state=n.state.value,
            label=n.label_zh,
            filed_at=ts(n.filed_at),
            finding=n.finding,
        )
        for n in notes
    ]


def query_response(done: Committed) -> pb.QueryResponse:
    """Per category: allowed with its disclosed records and their masks, or denied with
    its reason (a grant for another grantee reads as no grant: no other grantee named)."""
    results = []
    for outcome in done.outcomes:
        decision = outcome.decision
        if not decision.allowed:
            reason = decision.reason_code or ""
            if reason == ReasonCode.GRANTEE_MISMATCH:
                reason = ReasonCode.NO_GRANT.value  # name no other grantee
            results.append(
                pb.CategoryResult(
                    category=outcome.category.id,
                    allowed=False,
                    reason_code=reason,
                    message=decision.message,
                    grant_id=decision.grant_id or "",
                )
            )
            continue
        results.append(
            pb.CategoryResult(
                category=outcome.category.id,
                allowed=True,
                message=decision.message,
                grant_id=decision.grant_id or "",
                records=[
                    pb.DisclosedRecord(
                        record_id=record.record_id,
                        version=record.version,
                        source_node_id=record.source_node_id,
                        event_time=ts(record.event_time),
                        fields=[
                            pb.DisclosedField(name=f.name, value=f.value, mask=f.mask)
                            for f in masked
                        ],
                        objections=notes_to_wire(outcome.notes.get(record.pk, ())),
                    )
                    for record, masked in outcome.records
                ],
                withheld=outcome.withheld,
            )
        )
    return pb.QueryResponse(
        credit_code=done.spec.credit_code,
        categories=results,
        trace_id=done.spec.trace_id,
        ledger_index=done.ledger_index,
    )


__all__ = ["MAX_STREAM_INFLIGHT", "QueryService", "query_response"]
