"""One pipeline for the request streams (Push, QueryStream): read ahead, answer in order.

A reader task takes each request off the stream and starts its work (``start``), handing
the started work to a bounded queue; the caller's loop awaits the works in the order the
requests came and yields their results. The queue's bound is how far the reader runs
ahead: once it is full the reader stops reading, and gRPC flow control holds the client
back. An exception raised while reading the stream or starting a work (an undecodable
message, a refused request) is queued in its place and raised once every earlier request
was answered. When the loop ends early, the works still queued are handed to
``on_leftover`` (cancel them, or let them finish).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

R = TypeVar("R")
T = TypeVar("T")


async def ordered(
    requests: AsyncIterable[R],
    start: Callable[[R], Awaitable[asyncio.Future[T]]],
    *,
    maxsize: int,
    on_leftover: Callable[[asyncio.Future[T]], object],
) -> AsyncIterator[T]:
    """The results of ``start(request)``'s works, in request order (see the module)."""
    pending: asyncio.Queue[asyncio.Future[T] | BaseException | None]
    pending = asyncio.Queue(maxsize=maxsize)

    async def read() -> None:
        try:
            async for request in requests:
                await pending.put(await start(request))
        except Exception as exc:  # handed to the loop, which raises it in order
            await pending.put(exc)
            return
        await pending.put(None)

    reader = asyncio.ensure_future(read())
    try:
        while True:
            item = await pending.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            yield await item
    finally:
        reader.cancel()
        while not pending.empty():
            left = pending.get_nowait()
            if isinstance(left, asyncio.Future):
                on_leftover(left)


def cancel(work: asyncio.Future[Any]) -> None:
    """``on_leftover`` for work nobody will read: stop it."""
    work.cancel()


def let_finish(work: asyncio.Future[Any]) -> None:
    """``on_leftover`` for work that must not be torn in half (a commit): it finishes on
    its own, and its exception, if any, is taken so that it is not logged as lost."""
    work.add_done_callback(_consume)


def _consume(work: asyncio.Future[Any]) -> None:
    if not work.cancelled():
        work.exception()


__all__ = ["cancel", "let_finish", "ordered"]
