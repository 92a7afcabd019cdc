"""One gRPC service client over the node's mTLS channel: the channel, the stub, closing."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from xinlian.identity import Identity

RPC_TIMEOUT_S = 30.0


class ServiceClient:
    """The stub ``STUB`` (a generated stub class) on a channel of ``identity``; as a
    context manager it closes the channel."""

    STUB: ClassVar[type[Any]]  # a generated stub class: STUB(channel)

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.channel = identity.channel()
        self.stub = self.STUB(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
