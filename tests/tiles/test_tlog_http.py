"""The read-only tlog-tiles listener: a Go client using only golang.org/x/mod/sumdb/tlog
and sumdb/note fetches tiles over HTTPS and verifies an inclusion and a consistency
proof against the signed checkpoint; hash tiles and the checkpoint go to allowed
clients, entry bundles only to officers and linked gateways."""

from __future__ import annotations

import http.client
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.go_tools import GO, build_go_tool
from support.harness import Gateway, running_gateway
from tile_seed import seed

from audit.tiles import entry_bundle, tile_path
from gateway.host.tlog_http import TlogServer
from gateway.store.ledger import entries_page, latest_checkpoint
from gateway.store.ledger_tiles import read_tiles
from xinlian.identity import Identity

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tlog_verify(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if GO is None:
        pytest.skip("Go toolchain ('go') not on PATH")
    return build_go_tool("tlog_verify", tmp_path_factory.mktemp("tlog_verify"))


class Log:
    def __init__(self, gw: Gateway, port: int, old_note: str) -> None:
        self.gw = gw
        self.port = port
        self.old_note = old_note

    def get(self, path: str, who: Identity | None = None) -> tuple[int, bytes]:
        ctx = ssl.create_default_context(cafile=str(self.gw.config.ca_cert))
        if who is not None:
            ctx.load_cert_chain(who.files.root / "node.pem", who.files.root / "node.key")
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


@pytest.fixture
def tlog(tmp_path: Path) -> Iterator[tuple[Log, dict[str, Identity]]]:
    with running_gateway(tmp_path) as gw:
        nodes = {
            "officer": gw.enroll_node("officer", "officer-1"),
            "gateway": gw.enroll_node("gateway", "gw-fujian-2"),
            "bank": gw.enroll_node("institution", "bank-1"),
        }
        seed(gw.config, gw.runtime.store, [600])
        old = gw.runtime.store.read(latest_checkpoint)
        seed(gw.config, gw.runtime.store, [70_000, 70_321])
        server = TlogServer(gw.runtime, ["127.0.0.1/32"])
        port = gw.loop.run(server.start("127.0.0.1:0"))
        try:
            yield Log(gw, port, old.note), nodes
        finally:
            gw.loop.run(server.stop())


def _go(binary: Path, log: Log, tmp: Path, who: Identity | None, index: int) -> str:
    old = tmp / "old-checkpoint"
    old.write_text(log.old_note)
    cert = (
        [str(who.files.root / "node.pem"), str(who.files.root / "node.key")] if who else ["-", "-"]
    )
    result = subprocess.run(
        [
            str(binary),
            f"https://127.0.0.1:{log.port}",
            log.gw.config.ledger_verifier_key.read_text().strip(),
            str(log.gw.config.ca_cert),
            *cert,
            str(index),
            str(old),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout + result.stderr


def test_go_client_verifies_inclusion_and_consistency(
    tlog: tuple[Log, dict[str, Identity]], tlog_verify: Path, tmp_path: Path
) -> None:
    log, nodes = tlog
    size = log.gw.runtime.store.read(latest_checkpoint).tree_size
    for index in (0, 300, 65_537, size - 1):
        out = _go(tlog_verify, log, tmp_path, nodes["officer"], index)
        assert f"OK inclusion {index} in {size}\n" in out, out
        assert "OK consistency" in out, out
    # a linked gateway may read the entries too
    out = _go(tlog_verify, log, tmp_path, nodes["gateway"], 12_345)
    assert "OK consistency" in out, out
    # without a client certificate: the tiles, not the entries
    out = _go(tlog_verify, log, tmp_path, None, 5)
    assert "403 Forbidden" in out and "tile/entries/000" in out, out


def test_tiles_and_checkpoint_to_allowed_clients(tlog: tuple[Log, dict[str, Identity]]) -> None:
    log, nodes = tlog
    store = log.gw.runtime.store
    checkpoint = store.read(latest_checkpoint)
    status, body = log.get("/checkpoint")
    assert (status, body.decode()) == (200, checkpoint.note)
    tiles = store.read(lambda c: read_tiles(c, [(0, 3), (1, 1), (0, 274)]))
    assert log.get("/" + tile_path(0, 3)) == (200, tiles[(0, 3)])
    width = checkpoint.tree_size % 256
    assert log.get("/" + tile_path(0, 274, width)) == (200, tiles[(0, 274)])
    # an earlier partial width: a prefix of the stored tile
    assert log.get("/" + tile_path(0, 274, 5)) == (200, tiles[(0, 274)][: 5 * 32])
    assert log.get("/tile/1/001.p/18", nodes["bank"]) == (200, tiles[(1, 1)][: 18 * 32])
    # not in the checkpoint's tree, or not a C2SP path
    for path in ("/" + tile_path(0, 274), "/tile/0/275.p/1", "/tile/0/0003", "/tile/8/0/000", "/x"):
        assert log.get(path)[0] == 404, path


def test_entry_bundles_only_to_officers_and_gateways(
    tlog: tuple[Log, dict[str, Identity]],
) -> None:
    log, nodes = tlog
    rows = log.gw.runtime.store.read(lambda c: entries_page(c, 256, 256, 512))
    want = entry_bundle(r.body for r in rows if r.body is not None)
    path = "/" + tile_path("entries", 1)
    assert log.get(path, nodes["officer"]) == (200, want)
    assert log.get(path, nodes["gateway"]) == (200, want)
    status, body = log.get(path, nodes["bank"])
    assert status == 403 and b"officer" in body
    assert log.get(path)[0] == 403


def test_no_certificate_outside_the_allowed_networks(tmp_path: Path) -> None:
    with running_gateway(tmp_path) as gw:
        bank = gw.enroll_node("institution", "bank-1")
        server = TlogServer(gw.runtime, [])
        port = gw.loop.run(server.start("127.0.0.1:0"))
        try:
            log = Log(gw, port, "")
            assert log.get("/checkpoint")[0] == 403
            assert log.get("/checkpoint", bank)[0] == 200
            # a suspended node's certificate is refused
            gw.runtime.store.write(
                lambda c: c.exec_driver_sql(
                    "UPDATE nodes SET state = 'suspended' WHERE node_id = 'bank-1'"
                )
            )
            gw.runtime.gate.invalidate()
            status, body = log.get("/checkpoint", bank)
            assert (status, body) == (403, b"NODE_SUSPENDED\n")
        finally:
            gw.loop.run(server.stop())


def test_the_listener_is_off_by_default(tmp_path: Path) -> None:
    with running_gateway(tmp_path) as gw:
        assert gw.config.tlog_listen == "" and gw.running.tlog is None
