"""The demo's witnessing step (scripts/demo.py runs it last; docs/witness.md):

17. a second provincial gateway (Shaanxi, 610000) starts with its own CA, ledger key and
    store; the Fujian gateway applies there as a node of kind ``gateway`` and is admitted
    and enrolled; both list each other in ``witness_peers`` (what the federation directory
    will provide); the Fujian gateway witnesses Shaanxi's checkpoint (signature, then
    cosignature/v1, handed over), and ``audit verify`` on the Shaanxi home names its
    witness.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

Xl = Callable[..., str]

FUJIAN_ID = "gw-350000"
SHAANXI_ID = "gw-610000"
SHAANXI_ORIGIN = "xinlian.shaanxi.example/gateway"
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peer(home: Path, gateway_id: str, listen: str, identity: str) -> dict[str, str]:
    config = json.loads((home / "config.json").read_text())
    return {
        "gateway_id": gateway_id,
        "origin": config["origin"],
        "verifier_key": (home / "ledger" / "verifier.key").read_text().strip(),
        "endpoint": listen,
        "ca_cert": str(home / "ca" / "ca.pem"),
        "identity": identity,
        "server_name": "localhost",
    }


def _set_peers(home: Path, peers: list[dict[str, str]]) -> None:
    path = home / "config.json"
    config = json.loads(path.read_text())
    config["witness_peers"] = peers
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def _wait(listen: str, proc: subprocess.Popen[bytes]) -> None:
    """Until the gateway accepts connections on its mTLS port."""
    host, _, port = listen.rpartition(":")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the Shaanxi gateway exited; see var/demo/gateway-sn.log")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the Shaanxi gateway did not start")


def witness_section(
    xl: Xl, banner: Callable[[str], None], demo: Path, home: Path, listen: str
) -> None:
    """Step 17, with a second gateway process that it stops at the end."""
    sn_home = demo / "gateway-sn"
    sn_listen, sn_enroll = f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"
    banner("20. A second province links: the gateways witness each other's ledgers (见证)")
    xl(
        "gateway", "init", "--home", str(sn_home), "--listen", sn_listen,
        "--enroll-listen", sn_enroll, "--origin", SHAANXI_ORIGIN, "--region", "610000",
    )  # fmt: skip
    # the peers each gateway knows (the signed federation directory will list them)
    _set_peers(sn_home, [_peer(home, FUJIAN_ID, listen, f"peers/{FUJIAN_ID}")])
    _set_peers(home, [_peer(sn_home, SHAANXI_ID, sn_listen, f"peers/{SHAANXI_ID}")])
    log = open(demo / "gateway-sn.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "xinlian_cli.main", "gateway", "serve"),
            *("--home", str(sn_home), "--ops-listen", f"127.0.0.1:{_free_port()}"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(sn_listen, proc)
        print(f"Shaanxi gateway pid {proc.pid} is serving on {sn_listen}")
        ca = str(sn_home / "ca" / "ca.pem")
        xl(
            "node", "apply", "--gateway", sn_enroll, "--ca", ca, "--name", "福建省节点",
            "--kind", "gateway", "--region", "350000", "--id", FUJIAN_ID,
        )  # fmt: skip
        out = xl(
            "admin", "admit", FUJIAN_ID, "--identity", str(sn_home / "admin"),
            "--security", "等保三级测评通过", "--authorization", "互联协议已签署",
            "--notes", "demo", capture=True,
        )  # fmt: skip
        token = out.strip().splitlines()[-1]
        xl(
            "node", "enroll", "--gateway", sn_enroll, "--token", token, "--ca", ca,
            "--out", str(home / "peers" / SHAANXI_ID),
        )  # fmt: skip
        xl("audit", "checkpoint", "--home", str(sn_home))
        print("Fujian checks Shaanxi's signed checkpoint and cosigns it (C2SP cosignature/v1):")
        xl("audit", "witness", "--home", str(home))
        print("Shaanxi's own verification names its witness:")
        xl("audit", "verify", "--home", str(sn_home))
        xl("audit", "witness", "--home", str(home), "--evidence")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
