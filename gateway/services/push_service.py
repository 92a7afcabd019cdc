"""The ``Push`` stream on the wire: each ``PushRequest``'s batch read into plain values for
``gateway.flows.push``, and each batch's outcome written back as a ``PushResponse``.

The stream runs through ``gateway.services.streams.ordered``: at most
``MAX_INFLIGHT_BATCHES`` batches between "read from the wire" and "answered" (the queue
holds one less: the batch being answered is out of it), answered in the order they came
and each only after its unit of work committed (step 6). A batch whose response will
never be written still finishes its commit: a unit of work is not torn in half.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence

from grpc import aio

from gateway.core.caller import current_caller
from gateway.core.metrics import push_records, step
from gateway.flows.push import MAX_INFLIGHT_BATCHES, BatchOutcome, PushHandler, WireBatch
from gateway.flows.runtime import Runtime
from gateway.services.streams import let_finish, ordered
from gateway.store.batch_bytes import ParsedRecord, encode_fields, time_text
from xinlian.v1 import exchange_pb2 as pb
from xinlian.wire import timestamp_us

_EVENT_TIME_FIELD = "batch.records.event_time"


class PushService:
    def __init__(self, rt: Runtime) -> None:
        self.handler = PushHandler(rt)

    async def push(
        self, requests: AsyncIterator[pb.PushRequest], context: aio.ServicerContext
    ) -> AsyncIterator[pb.PushResponse]:
        handler = self.handler
        caller = current_caller()
        session = await handler.session(caller)

        async def start(request: pb.PushRequest) -> asyncio.Future[BatchOutcome]:
            with step("push.prepare"):
                prepared = await handler.prepare(session, wire_batch(request.batch))
            committing = handler.commit(prepared)
            category = request.batch.category
            committing.add_done_callback(functools.partial(_count, category, caller.node_id))
            return committing

        async for outcome in ordered(
            requests, start, maxsize=MAX_INFLIGHT_BATCHES - 1, on_leftover=let_finish
        ):
            yield push_response(outcome)


def _count(category: str, department: str, done: asyncio.Future[BatchOutcome]) -> None:
    """The metric of pushed records, by category, department and outcome, once committed
    (a refused batch is counted by the RPC metrics)."""
    if done.cancelled() or done.exception() is not None:
        return
    outcome = done.result()
    for letter, name in (("A", "accepted"), ("D", "duplicate"), ("R", "rejected")):
        count = outcome.letters.count(letter)
        if count:
            attrs = {"category": category, "department": department, "outcome": name}
            push_records.add(count, attrs)


def wire_batch(batch: pb.Batch) -> WireBatch:
    """The batch's fields as read from the wire; its structured records are parsed only
    when the flow asks (after the limits of step 1)."""
    records = batch.records
    return WireBatch(
        batch_id=batch.batch_id,
        category=batch.category,
        signed_content=batch.signed_content,
        signature=batch.signature,
        record_count=len(records),
        parse_records=functools.partial(parse_records, records),
    )


def parse_records(records: Sequence[pb.Record]) -> list[ParsedRecord]:
    return [parse_record(r) for r in records]


def parse_record(r: pb.Record) -> ParsedRecord:
    """One structured record with the parts of its canonical encoding."""
    us = timestamp_us(r.event_time, _EVENT_TIME_FIELD)
    fields = dict(r.fields)
    return ParsedRecord(
        r.credit_code, r.record_id, r.version, us, time_text(us), fields, encode_fields(fields)
    )


def push_response(outcome: BatchOutcome) -> pb.PushResponse:
    """One record result per record of the batch, in batch order, and the counts."""
    response = pb.PushResponse(batch_id=outcome.batch_id, ledger_index=outcome.ledger_index)
    add = response.results.add
    accepted = duplicates = rejected = 0
    for (record_id, version), verdict, letter in zip(
        outcome.keys, outcome.verdicts, outcome.letters, strict=True
    ):
        if letter == "A":
            accepted += 1
            add(record_id=record_id, version=version, outcome=pb.RECORD_OUTCOME_ACCEPTED)
        elif letter == "D":
            duplicates += 1
            add(record_id=record_id, version=version, outcome=pb.RECORD_OUTCOME_DUPLICATE)
        else:
            rejected += 1
            add(
                record_id=record_id,
                version=version,
                outcome=pb.RECORD_OUTCOME_REJECTED,
                reason_code=verdict.reason_code,
                message=verdict.message,
            )
    response.accepted = accepted
    response.duplicates = duplicates
    response.rejected = rejected
    return response


__all__ = ["PushService", "parse_record", "push_response", "wire_batch"]
