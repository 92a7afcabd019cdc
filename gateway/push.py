"""Department push: signed batches checked against the catalog, durable and idempotent.

(Being built: issue "Department push".)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio

from gateway.runtime import Runtime
from xinlian.v1 import exchange_pb2 as pb


class PushHandler:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def push(
        self, requests: AsyncIterator[pb.PushRequest], context: aio.ServicerContext
    ) -> AsyncIterator[pb.PushResponse]:
        raise NotImplementedError
        yield  # pragma: no cover
