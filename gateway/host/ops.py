"""The ops port: plain HTTP for probes and scrapes, carrying no data of the exchange.

``GET /healthz``  — 200 while the process and its event loop answer (liveness);
``GET /readyz``   — 200 when ready, else 503 naming the failed checks
                    (``gateway.host.health``: store, committer, checkpointer,
                    checkpoint_age);
``GET /metrics``  — the Prometheus text exposition of the gateway's metrics.

It is a small HTTP/1.1 responder on ``asyncio.start_server`` in the gateway's own event
loop: no new dependency, and ``/healthz`` answering proves that loop is not stuck. It
reads the request line and headers (bounded), answers one request and closes. Bind it to
localhost or the pod network (``ops_listen``), never to a public address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from gateway.host.health import Monitor

log = logging.getLogger("xinlian.ops")

PATHS = ("/healthz", "/readyz", "/metrics")
MAX_HEADER_LINES = 64
MAX_LINE_BYTES = 8192
READ_TIMEOUT_S = 5.0
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
_REASONS[503] = "Service Unavailable"


class OpsServer:
    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.server: asyncio.Server | None = None

    async def start(self, address: str) -> int:
        """Listen on ``HOST:PORT`` (port 0: chosen by the OS); returns the port."""
        host, _, port = address.rpartition(":")
        self.server = await asyncio.start_server(
            self._serve, host.strip("[]"), int(port), limit=MAX_LINE_BYTES
        )
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, content_type, body = await asyncio.wait_for(
                self._answer(reader), READ_TIMEOUT_S
            )
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("ascii") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # a slow, broken or oversized request: just close
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, str, bytes]:
        request = (await reader.readline()).decode("latin-1").split()
        for _ in range(MAX_HEADER_LINES):
            if (await reader.readline()) in (b"\r\n", b"\n", b""):
                break
        else:
            return 400, "text/plain", b"too many headers\n"
        if len(request) != 3:
            return 400, "text/plain", b"bad request\n"
        method, target = request[0], request[1].split("?", 1)[0]
        if target not in PATHS:
            return 404, "text/plain", b"not found\n"
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"GET only\n"
        if target == "/healthz":
            return 200, "text/plain", b"ok\n"
        if target == "/readyz":
            readiness = await self.monitor.check()
            if readiness.ready:
                return 200, "text/plain", b"ready\n"
            return 503, "text/plain", ("not ready: " + ",".join(readiness.failing) + "\n").encode()
        return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)


__all__ = ["PATHS", "OpsServer"]
