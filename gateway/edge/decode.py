"""The decoding step of the edge chain (``gateway.edge.chain``).

gRPC hands every method its request as bytes (the chain gives it an identity
deserializer); the chain decodes them here, after the request id step, so bytes that do
not decode as the method's request message (random, truncated, a wrong wire type) become
INVALID_ARGUMENT ``MALFORMED_REQUEST`` with the request id, logged as one line — not an
``UNKNOWN``/``INTERNAL`` from inside gRPC with a traceback in the log. The messages of a
request stream are decoded one by one as the handler reads them, so a bad message fails
the handler's iteration with the same error.

Decoding costs what gRPC's own deserializer would: the same ``FromString``, called once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from xinlian.errors import InvalidArgument

MALFORMED_REQUEST = "MALFORMED_REQUEST"
REQUEST_FIELD = "request"

Decoder = Callable[[Any], Any]


def _identity(raw: Any) -> Any:
    return raw


def malformed(message_name: str, size: int) -> InvalidArgument:
    return InvalidArgument(
        f"{REQUEST_FIELD}: got {size} bytes that do not decode as {message_name}, "
        f"want a serialized {message_name}",
        reason=MALFORMED_REQUEST,
        metadata={"field": REQUEST_FIELD},
    )


def decoder(deserializer: Callable[[bytes], Any] | None) -> Decoder:
    """The decode function of a method whose gRPC request deserializer was
    ``deserializer`` (``None``: the method takes bytes, passed through unchanged)."""
    if deserializer is None:
        return _identity
    owner = getattr(deserializer, "__self__", None)  # FromString of a message class
    descriptor = getattr(owner, "DESCRIPTOR", None)
    message_name = str(getattr(descriptor, "full_name", "the method's request message"))

    def decode(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except Exception:  # DecodeError, or whatever a custom deserializer raises
            raise malformed(message_name, len(raw)) from None

    return decode


async def decode_stream(requests: AsyncIterator[Any], decode: Decoder) -> AsyncIterator[Any]:
    """The request stream, each message decoded when the handler reads it."""
    async for raw in requests:
        yield decode(raw)


__all__ = ["MALFORMED_REQUEST", "Decoder", "decode_stream", "decoder", "malformed"]
