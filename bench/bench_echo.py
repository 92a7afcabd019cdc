"""mtls_echo_qps: a bare grpc.aio echo server and client with mTLS on loopback.

The baseline that the query figures divide by: the same transport, TLS and client
library as the gateway, with nothing behind the call. Unary calls with a small payload,
client and server in separate processes (like the gateway benchmarks).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from datetime import UTC, datetime
from pathlib import Path

import grpc
from common import BenchContext, Figure, closed_loop
from grpc import aio

CONCURRENCY = 16
ECHO_METHOD = "/bench.Echo/Echo"


def _make_pki(directory: Path) -> None:
    from xinlian.pki import (
        NodeIdentity,
        cert_to_pem,
        create_ca,
        issue_node_cert,
        issue_server_cert,
        key_to_pem,
        make_csr,
        new_private_key,
        parse_csr,
    )

    now = datetime.now(UTC)
    ca_key, ca_cert = create_ca("bench CA", now)
    server_key, server_cert = issue_server_cert(ca_key, ca_cert, ["localhost", "127.0.0.1"], now)
    client_key = new_private_key()
    csr = parse_csr(make_csr(client_key, "bench").decode())
    client_cert = issue_node_cert(
        ca_key, ca_cert, csr, NodeIdentity("bench", "institution", "350100"), now
    )
    for name, data in {
        "ca.pem": cert_to_pem(ca_cert),
        "server.pem": cert_to_pem(server_cert),
        "server.key": key_to_pem(server_key),
        "client.pem": cert_to_pem(client_cert),
        "client.key": key_to_pem(client_key),
    }.items():
        (directory / name).write_bytes(data)


def _serve(directory: str, port_queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    async def main() -> None:
        d = Path(directory)

        async def echo(request: bytes, context: aio.ServicerContext) -> bytes:
            return request

        server = aio.server()
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
                ),
            )
        )
        creds = grpc.ssl_server_credentials(
            [((d / "server.key").read_bytes(), (d / "server.pem").read_bytes())],
            root_certificates=(d / "ca.pem").read_bytes(),
            require_client_auth=True,
        )
        port = server.add_secure_port("127.0.0.1:0", creds)
        await server.start()
        port_queue.put(port)
        await server.wait_for_termination()

    asyncio.run(main())


def run(ctx: BenchContext) -> dict[str, Figure]:
    directory = ctx.scratch("echo")
    _make_pki(directory)
    mp = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = mp.Queue()  # type: ignore[type-arg]
    proc = mp.Process(target=_serve, args=(str(directory), queue), daemon=True)
    proc.start()
    try:
        port = queue.get(timeout=30)

        async def client() -> tuple[float, dict[str, float]]:
            creds = grpc.ssl_channel_credentials(
                root_certificates=(directory / "ca.pem").read_bytes(),
                private_key=(directory / "client.key").read_bytes(),
                certificate_chain=(directory / "client.pem").read_bytes(),
            )
            async with aio.secure_channel(f"127.0.0.1:{port}", creds) as channel:
                call = channel.unary_unary(ECHO_METHOD)
                payload = b"x" * 256
                await call(payload, timeout=10)
                result = await closed_loop(
                    lambda i: call(payload, timeout=10),
                    concurrency=CONCURRENCY,
                    duration_s=ctx.duration_s,
                )
            return result.rate, result.summary()

        qps, summary = asyncio.run(client())
    finally:
        proc.kill()
        proc.join(5)
    ctx.shared["mtls_echo_qps"] = qps
    # The baseline of the baseline is itself: ratio 1 by definition.
    return {"mtls_echo_qps": Figure(qps, qps, "requests/s", summary)}


if __name__ == "__main__":
    sys.exit("run through bench/run.py")
