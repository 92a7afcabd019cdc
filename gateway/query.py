"""The query path: decision, read, desensitization, ledger entry committed before reply.

(Being built: issue "Per-enterprise authorization".)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio

from gateway.runtime import Runtime
from xinlian.v1 import exchange_pb2 as pb


class QueryHandler:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def query(
        self, request: pb.QueryRequest, context: aio.ServicerContext
    ) -> pb.QueryResponse:
        raise NotImplementedError

    async def query_batch(
        self, request: pb.QueryBatchRequest, context: aio.ServicerContext
    ) -> pb.QueryBatchResponse:
        raise NotImplementedError

    async def query_stream(
        self, requests: AsyncIterator[pb.QueryStreamRequest], context: aio.ServicerContext
    ) -> AsyncIterator[pb.QueryStreamResponse]:
        raise NotImplementedError
        yield  # pragma: no cover
