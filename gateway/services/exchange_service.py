"""ExchangeService: push (gateway.flows.push) and query (gateway.flows.query), each in its own
module."""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio

from gateway.flows.runtime import Runtime
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc


class ExchangeServicer(exchange_pb2_grpc.ExchangeServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        from gateway.flows.push import PushHandler
        from gateway.flows.query import QueryHandler

        self.rt = rt
        self.push_handler = PushHandler(rt)
        self.query_handler = QueryHandler(rt)

    def Push(  # type: ignore[override]
        self, request_iterator: AsyncIterator[pb.PushRequest], context: aio.ServicerContext
    ) -> AsyncIterator[pb.PushResponse]:
        return self.push_handler.push(request_iterator, context)

    async def Query(
        self, request: pb.QueryRequest, context: aio.ServicerContext
    ) -> pb.QueryResponse:
        return await self.query_handler.query(request, context)

    async def QueryBatch(
        self, request: pb.QueryBatchRequest, context: aio.ServicerContext
    ) -> pb.QueryBatchResponse:
        return await self.query_handler.query_batch(request, context)

    def QueryStream(  # type: ignore[override]
        self, request_iterator: AsyncIterator[pb.QueryStreamRequest], context: aio.ServicerContext
    ) -> AsyncIterator[pb.QueryStreamResponse]:
        return self.query_handler.query_stream(request_iterator, context)
