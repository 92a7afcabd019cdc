"""The read-only C2SP ``tlog-tiles`` listener (``tlog_listen``; off by default): the
ledger served so that monitors and witnesses outside the gateway can mirror it with
standard tools (docs/ledger.md, "Mirroring the log").

``GET /checkpoint``                     the latest signed checkpoint (text/plain)
``GET /tile/<L>/<N>[.p/<W>]``           a hash tile (32 bytes per hash)
``GET /tile/entries/<N>[.p/<W>]``       an entry bundle (uint16 length ‖ entry bytes)

HTTPS on the gateway's server certificate; a client certificate is optional. Each
request, in order:

1. the TLS handshake: a client certificate, when one is given, must chain to the
   gateway CA (else the handshake fails);
2. a client certificate is authenticated like a gRPC call (``Gate.authenticate``:
   the node is known, admitted, the certificate not revoked), or the answer is 403;
3. the path must be one of the three forms, exactly as C2SP writes it (else 404);
4. the checkpoint and hash tiles reveal nothing about the entries: any authenticated
   node, or a client from a network in ``tlog_allow_networks``, may read them;
5. entry bundles name enterprises and who queried whom: only an officer or a linked
   gateway (node kind ``gateway``) with its client certificate may read them;
6. the data, within the latest checkpoint (``gateway.flows.tlog``). Full tiles and
   bundles never change and are sent as immutable; the checkpoint is not cached.

A small HTTP/1.1 responder on ``asyncio.start_server`` (like ``gateway.host.ops``):
one bounded request per connection, answered and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from collections.abc import Sequence

from sqlalchemy import Connection

from audit.tiles import TILE_WIDTH, TileError, TilePath, parse_tile_path
from gateway.core.caller import Caller
from gateway.flows import tlog
from gateway.flows.runtime import Runtime
from xinlian.errors import NotFound, XinLianError

log = logging.getLogger("xinlian.tlog")

ENTRY_READERS = ("officer", "gateway")
"""Node kinds that may read entry bundles."""
MAX_HEADER_LINES = 64
MAX_LINE_BYTES = 8192
READ_TIMEOUT_S = 10.0
IMMUTABLE = "public, max-age=31536000, immutable"
OCTETS = "application/octet-stream"
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
_REASONS |= {405: "Method Not Allowed", 503: "Service Unavailable"}

Answer = tuple[int, str, bytes, str]
"""status, content type, body, Cache-Control."""


def tls_context(rt: Runtime) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(rt.config.ca_cert))
    ctx.load_cert_chain(str(rt.config.server_cert), str(rt.config.server_key))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


class TlogServer:
    def __init__(
        self, rt: Runtime, allow_networks: Sequence[str], *, reuse_port: bool = False
    ) -> None:
        self.rt = rt
        self.reuse_port = reuse_port
        self.allow = [ipaddress.ip_network(n) for n in allow_networks]
        self.server: asyncio.Server | None = None

    async def start(self, address: str) -> int:
        """Listen on ``HOST:PORT`` (port 0: chosen by the OS); returns the port."""
        host, _, port = address.rpartition(":")
        self.server = await asyncio.start_server(
            self._serve,
            host.strip("[]"),
            int(port),
            ssl=tls_context(self.rt),
            limit=MAX_LINE_BYTES,
            reuse_port=self.reuse_port or None,
        )
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, content_type, body, cache = await asyncio.wait_for(
                self._answer(reader, writer), READ_TIMEOUT_S
            )
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nCache-Control: {cache}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode("ascii") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # a slow, broken or oversized request: just close
        except ssl.SSLError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Answer:
        request = (await reader.readline()).decode("latin-1").split()
        for _ in range(MAX_HEADER_LINES):
            if (await reader.readline()) in (b"\r\n", b"\n", b""):
                break
        else:
            return _text(400, "too many headers")
        if len(request) != 3:
            return _text(400, "bad request")
        method, target = request[0], request[1].split("?", 1)[0]
        if method != "GET":
            return _text(405, "GET only")
        # (2) a client certificate, if any, must name an admitted node
        caller: Caller | None = None
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        if der:
            try:
                caller = await self.rt.gate.authenticate(ssl.DER_cert_to_PEM_cert(der).encode())
            except XinLianError as exc:
                return _text(403, exc.reason)
        # (3) the path
        want = parse_request(target)
        if want is None:
            return _text(404, "not found")
        # (4) + (5) who may read it
        if want != CHECKPOINT and want.level is None:
            if caller is None or caller.kind not in ENTRY_READERS:
                return _text(403, "entry bundles: an officer's or a linked gateway's certificate")
        elif caller is None and not self._allowed(writer):
            return _text(403, "a client certificate, or an allowed network")
        # (6) the data
        try:
            return await self.rt.read(lambda conn: _read(conn, want))
        except NotFound as exc:
            return _text(404, exc.reason)
        except XinLianError as exc:
            log.warning("tlog request %s failed: %s", target, exc.reason)
            return _text(503, exc.reason)

    def _allowed(self, writer: asyncio.StreamWriter) -> bool:
        peer = writer.get_extra_info("peername")
        try:
            address = ipaddress.ip_address(peer[0])
        except (TypeError, ValueError, IndexError):
            return False
        return any(address in network for network in self.allow)


CHECKPOINT = TilePath(None, -1, 0)
"""``/checkpoint``, among the parsed paths."""


def parse_request(target: str) -> TilePath | None:
    """The checkpoint, a tile or a bundle; None for any other path."""
    if target == "/checkpoint":
        return CHECKPOINT
    if not target.startswith("/"):
        return None
    try:
        return parse_tile_path(target[1:])
    except TileError:
        return None


def _read(conn: Connection, want: TilePath) -> Answer:
    if want == CHECKPOINT:
        return 200, "text/plain; charset=utf-8", tlog.checkpoint(conn).encode(), "no-store"
    cache = IMMUTABLE if want.width == TILE_WIDTH else "no-cache"
    if want.level is None:
        return 200, OCTETS, tlog.bundle(conn, want.index, want.width), cache
    return 200, OCTETS, tlog.hash_tile(conn, want.level, want.index, want.width), cache


def _text(status: int, message: str) -> Answer:
    return status, "text/plain; charset=utf-8", (message + "\n").encode(), "no-store"
