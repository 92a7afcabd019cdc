"""ExchangeService: push (gateway.services.push_service over gateway.flows.push) and query
(gateway.services.query_service over gateway.flows.query), each in its own module."""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio

from gateway.flows.runtime import Runtime
from gateway.services.push_service import PushService
from gateway.services.query_service import QueryService
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc


class ExchangeServicer(exchange_pb2_grpc.ExchangeServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.push_service = PushService(rt)
        self.query_service = QueryService(rt)

    def Push(  # type: ignore[override]
        self, request_iterator: AsyncIterator[pb.PushRequest], context: aio.ServicerContext
    ) -> AsyncIterator[pb.PushResponse]:
        return self.push_service.push(request_iterator, context)

    async def Query(
        self, request: pb.QueryRequest, context: aio.ServicerContext
    ) -> pb.QueryResponse:
        return await self.query_service.query(request, context)

    async def QueryBatch(
        self, request: pb.QueryBatchRequest, context: aio.ServicerContext
    ) -> pb.QueryBatchResponse:
        return await self.query_service.query_batch(request, context)

    def QueryStream(  # type: ignore[override]
        self, request_iterator: AsyncIterator[pb.QueryStreamRequest], context: aio.ServicerContext
    ) -> AsyncIterator[pb.QueryStreamResponse]:
        return self.query_service.query_stream(request_iterator, context)
