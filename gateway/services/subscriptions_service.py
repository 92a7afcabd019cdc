"""SubscriptionService on the wire: create, list, cancel (``gateway.flows.subscriptions``)
and the ``Deliver`` stream (``gateway.flows.subscription_delivery``).

``Deliver``: the first request names the subscription; the gateway then sends batches
while at most ``MAX_UNACKED_BATCHES`` are unacknowledged — the subscriber's bounded
buffer: a subscriber that stops acknowledging (or reading: gRPC flow control) stops its
own stream and nothing else; pushes never wait for it. Later requests carry acknowledged
positions. With nothing new, the stream polls the change log every ``POLL_INTERVAL_S``
(the log is in the database, so events pushed through another replica arrive too).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

from grpc import aio

from gateway.core.caller import current_caller
from gateway.flows.runtime import Runtime
from gateway.flows.subscription_delivery import DeliveredBatch, Session, SubscriptionDelivery
from gateway.flows.subscriptions import Lag, Subscriptions, SubscriptionSpec, check_id
from gateway.store.subscriptions_store import StoredSubscription
from gateway.store.timeutil import from_us
from xinlian.errors import InvalidArgument
from xinlian.v1 import subscriptions_pb2 as pb
from xinlian.v1 import subscriptions_pb2_grpc
from xinlian.wire import from_optional_ts, ts

MAX_UNACKED_BATCHES = 4
POLL_INTERVAL_S = 0.1


def subscription_to_wire(sub: StoredSubscription, lag: Lag | None = None) -> pb.Subscription:
    out = pb.Subscription(
        subscription_id=sub.subscription_id,
        node_id=sub.node_id,
        kind=sub.kind,
        categories=list(sub.categories),
        purpose=sub.purpose,
        region_prefix=sub.region_prefix,
        industry=sub.industry,
        marked_only=sub.marked_only,
        state=sub.state,
        created_at=ts(from_us(sub.created_at_us)),
        acked_position=sub.acked_position,
        ledger_index=sub.ledger_index,
    )
    if lag is not None:
        out.lag_events = lag.events
        out.lag_seconds = lag.seconds
    return out


def batch_to_wire(batch: DeliveredBatch) -> pb.DeliverResponse:
    out = pb.DeliverResponse(
        next_position=batch.next_position,
        ledger_index=batch.ledger_index,
        head_position=batch.head_position,
    )
    for e in batch.events:
        out.events.append(
            pb.Event(
                event_id=e.event_id,
                position=e.position,
                kind=e.kind,
                credit_code=e.credit_code,
                category=e.category,
                source_node_id=e.source_node_id,
                record_id=e.record_id,
                version=e.version,
                logged_at=ts(e.logged_at),
                fields=[pb.EventField(name=f.name, value=f.value, mask=f.mask) for f in e.fields],
                signals=[
                    pb.RiskSignal(rule=s.rule, severity=s.severity, label_zh=s.label_zh)
                    for s in e.signals
                ],
                grant_id=e.grant_id or "",
                note=e.note or "",
            )
        )
    return out


class SubscriptionServicer(subscriptions_pb2_grpc.SubscriptionServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.subscriptions = Subscriptions(rt)
        self.delivery = SubscriptionDelivery(rt)

    async def CreateSubscription(
        self, request: pb.CreateSubscriptionRequest, context: aio.ServicerContext
    ) -> pb.Subscription:
        backfill = from_optional_ts(request.backfill_from, field_name="backfill_from")
        spec = SubscriptionSpec(
            kind=request.kind,
            categories=tuple(request.categories),
            purpose=request.purpose,
            region_prefix=request.region_prefix,
            industry=request.industry,
            marked_only=request.marked_only,
            backfill_from=backfill,
        )
        return subscription_to_wire(await self.subscriptions.create(current_caller(), spec))

    async def ListSubscriptions(
        self, request: pb.ListSubscriptionsRequest, context: aio.ServicerContext
    ) -> pb.ListSubscriptionsResponse:
        found, head = await self.subscriptions.list(current_caller(), request.all)
        return pb.ListSubscriptionsResponse(
            subscriptions=[subscription_to_wire(s, lag) for s, lag in found],
            head_position=head,
        )

    async def CancelSubscription(
        self, request: pb.CancelSubscriptionRequest, context: aio.ServicerContext
    ) -> pb.Subscription:
        cancelled = await self.subscriptions.cancel(current_caller(), request.subscription_id)
        return subscription_to_wire(cancelled)

    async def Deliver(
        self, requests: AsyncIterator[pb.DeliverRequest], context: aio.ServicerContext
    ) -> AsyncIterator[pb.DeliverResponse]:
        caller = current_caller()
        first = await anext(aiter(requests), None)
        if first is None:
            return
        subscription_id = check_id(first.subscription_id)
        session = await self.delivery.open(caller, subscription_id, first.resync)
        outstanding: deque[int] = deque()  # next_position of each unacknowledged batch
        acked = asyncio.Event()
        acks = asyncio.ensure_future(self._acks(requests, session, outstanding, acked))
        try:
            while True:
                # the subscriber's bounded buffer: wait for an ack while it is full
                while len(outstanding) >= MAX_UNACKED_BATCHES and not acks.done():
                    acked.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(acked.wait(), POLL_INTERVAL_S)
                if acks.done():
                    acks.result()  # an error in an ack ends the stream with it
                    return  # the subscriber closed its side: the stream ends
                batch = await self.delivery.next_batch(session)
                if batch is None:
                    await asyncio.sleep(POLL_INTERVAL_S)
                    continue
                outstanding.append(batch.next_position)
                yield batch_to_wire(batch)
        finally:
            acks.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await acks

    async def _acks(
        self,
        requests: AsyncIterator[pb.DeliverRequest],
        session: Session,
        outstanding: deque[int],
        acked: asyncio.Event,
    ) -> None:
        async for request in requests:
            if request.subscription_id and request.subscription_id != (
                session.subscription.subscription_id
            ):
                raise InvalidArgument.field(
                    "subscription_id", request.subscription_id, "only in the first request"
                )
            position = request.ack_position
            if position < 0:
                raise InvalidArgument.field("ack_position", position, "a position ≥ 0")
            await self.delivery.ack(session, position)
            while outstanding and outstanding[0] <= position:
                outstanding.popleft()
            acked.set()
