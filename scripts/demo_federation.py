"""The demo's federation steps (scripts/demo.py runs them last; docs/federation.md):

17. the national node (100000) starts and makes its directory key; the Fujian gateway of
    the demo links to it (applies as a gateway node, is admitted with a review, enrolls,
    joins) and a second province, Shaanxi (610000), starts and joins the same way;
18. the signed directory reaches both provinces (``xinlian federation show``);
19. a Shaanxi department pushes a public registration record: it goes up to the
    national node as the department's own signed batch (relay, lag 0);
20. a Shaanxi enterprise grants the Fujian bank ``bank-cib@gw-350000``; the bank asks
    its own gateway, which forwards through the national node to Shaanxi, where the
    grant is checked and the answer masked for a bank; each ledger names its hop.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Xl = Callable[..., str]
SERVE_TIMEOUT_S = 60.0
WAIT_TIMEOUT_S = 60.0
SHAANXI_DIVISION = "610102"  # 西安市新城区


def _port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def _wait(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise SystemExit(f"demo step failed: timed out waiting for {what}")


class Gateways:
    """The gateway processes this section starts (and stops at the end)."""

    def __init__(self, xl: Xl, demo: Path) -> None:
        self.xl, self.demo = xl, demo
        self.procs: list[subprocess.Popen[bytes]] = []

    def init(self, name: str, region: str) -> tuple[Path, str, str]:
        home, listen, enroll = self.demo / name, _port(), _port()
        self.xl(
            "gateway", "init", "--home", str(home), "--listen", listen, "--enroll-listen",
            enroll, "--origin", f"xinlian.{name}.example/gateway", "--region", region,
        )  # fmt: skip
        return home, listen, enroll

    def serve(self, home: Path) -> None:
        log = (self.demo / f"{home.name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "xinlian_cli.main", "gateway", "serve", "--home", str(home)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "XINLIAN_OPS_LISTEN": ""},  # the demo's gateway has the port
        )
        self.procs.append(proc)
        _wait(lambda: proc.poll() is not None or _serving(home), f"{home.name} to serve")
        if proc.poll() is not None:
            raise SystemExit(f"the {home.name} gateway exited; see {log.name}")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _serving(home: Path) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from xinlian.identity import Identity

    config = json.loads((home / "config.json").read_text())
    admin = Identity.load(home / "admin", gateway=config["listen"])
    try:
        with admin.channel() as channel:
            status = (
                health_pb2_grpc.HealthStub(channel)
                .Check(health_pb2.HealthCheckRequest(), timeout=2)
                .status
            )
    except grpc.RpcError:
        return False
    return bool(status == health_pb2.HealthCheckResponse.SERVING)


def federation_section(
    xl: Xl, banner: Callable[[str], None], identity: Callable[[str], str], demo: Path, home: Path
) -> None:
    gateways = Gateways(xl, demo)
    try:
        _run(xl, banner, identity, demo, home, gateways)
    finally:
        gateways.stop()


def _admit(xl: Xl, national: Path, gateway_id: str) -> str:
    out = xl(
        "admin", "admit", gateway_id, "--identity", str(national / "admin"),
        "--security", "等保三级测评通过", "--authorization", "级联互联协议", "--notes", "demo",
        capture=True,
    )  # fmt: skip
    return out.strip().splitlines()[-1]


def _link(xl: Xl, member: Path, national: Path, enroll: str, region: str) -> None:
    ca = str(national / "ca" / "ca.pem")
    link = ["gateway", "link", "--home", str(member), "--upstream", enroll, "--upstream-ca", ca]
    xl(*link, "--region", region)
    token = _admit(xl, national, f"gw-{region}")
    xl(*link, "--token", token)


def _run(
    xl: Xl,
    banner: Callable[[str], None],
    identity: Callable[[str], str],
    demo: Path,
    fujian: Path,
    gateways: Gateways,
) -> None:
    banner("21. Federation (级联): the national node starts; Fujian and Shaanxi join it")
    national, _, national_enroll = gateways.init("national", "100000")
    xl("federation", "init", "--home", str(national))
    gateways.serve(national)
    _link(xl, fujian, national, national_enroll, "350000")
    shaanxi, _, _ = gateways.init("shaanxi", "610000")
    ca = str(national / "ca" / "ca.pem")
    xl("gateway", "link", "--home", str(shaanxi), "--upstream", national_enroll,
       "--upstream-ca", ca, "--region", "610000")  # fmt: skip
    gateways.serve(shaanxi)
    token = _admit(xl, national, "gw-610000")
    xl("gateway", "link", "--home", str(shaanxi), "--upstream", national_enroll,
       "--upstream-ca", ca, "--token", token)  # fmt: skip

    banner("22. The signed directory reaches every member (checked against the pinned key)")

    def members(home: Path) -> int:
        out = xl("federation", "show", "--home", str(home), "--json", show=False, capture=True)
        directory = json.loads(out)["directory"]
        return len(directory["members"]) if directory else 0

    _wait(lambda: members(fujian) == 3 and members(shaanxi) == 3, "the directory")
    xl("federation", "show", "--home", str(fujian))

    banner("23. Relay up (上报): a Shaanxi department's signed batch reaches the national node")
    sx = _shaanxi_nodes(xl, demo, shaanxi)
    code, files = _shaanxi_records(demo)
    xl("agent", "push", "--identity", sx["sx-amr"], "--category", "registration",
       str(files["registration"]))  # fmt: skip
    xl("agent", "push", "--identity", sx["sx-tax"], "--category", "tax", str(files["tax"]))
    _wait(lambda: _rows(national, "relay.received"), "the relayed batch")
    xl("federation", "show", "--home", str(shaanxi))
    for row in _rows(national, "relay.received"):
        print(f"national ledger #{row[0]} relay.received from {row[2]}: {row[3]['batches']}")

    banner("24. A Fujian bank asks about a Shaanxi enterprise: forwarded, decided at home, masked")
    key = str(demo / "sx-enterprise.pem")
    xl("enterprise", "keygen", "--out", key)
    xl("enterprise", "register", "--identity", sx["sx-platform"], "--credit-code", code,
       "--name", "西安秦川示范机械有限公司", "--public-key", key.replace(".pem", ".pub.pem"),
       "--attest-method", "legal_rep_face_match")  # fmt: skip
    xl("grant", "create", "--identity", sx["sx-platform"], "--enterprise-key", key,
       "--credit-code", code, "--grantee", "bank-cib@gw-350000", "--category", "tax")  # fmt: skip
    xl("query", "--identity", identity("bank-cib"), "--enterprise", code,
       "--purpose", "financing", "--category", "tax")  # fmt: skip
    for name, home, action in (
        ("Fujian", fujian, "query.forwarded"),
        ("national", national, "query.forward_received"),
        ("national", national, "query.forwarded"),
        ("Shaanxi", shaanxi, "query"),
    ):
        for idx, trace, actor, details in _rows(home, action)[-1:]:
            print(
                f"{name:<8} #{idx:<4} {action:<22} trace {trace} actor {actor} hop {details['hop']}"
            )


def _shaanxi_nodes(xl: Xl, demo: Path, shaanxi: Path) -> dict[str, str]:
    config = json.loads((shaanxi / "config.json").read_text())
    ca, enroll = str(shaanxi / "ca" / "ca.pem"), config["enroll_listen"]
    nodes = {
        "sx-amr": ("department", "陕西省市场监督管理局", ("registration",)),
        "sx-tax": ("department", "国家税务总局陕西省税务局", ("tax",)),
        "sx-platform": ("city_platform", "西安市融资信用服务平台", ()),
    }
    out: dict[str, str] = {}
    for node_id, (kind, name, categories) in nodes.items():
        cats = [arg for c in categories for arg in ("--category", c)]
        xl("node", "apply", "--gateway", enroll, "--ca", ca, "--name", name, "--kind", kind,
           "--region", "610100", "--id", node_id, *cats, show=False)  # fmt: skip
        admitted = xl(
            "admin", "admit", node_id, "--identity", str(shaanxi / "admin"), "--security",
            "等保二级测评通过", "--authorization", "授权管理制度齐备", capture=True, show=False,
        )  # fmt: skip
        out[node_id] = str(demo / node_id)
        xl("node", "enroll", "--gateway", enroll, "--token", admitted.strip().splitlines()[-1],
           "--ca", ca, "--out", out[node_id], show=False)  # fmt: skip
    print("Shaanxi: sx-amr, sx-tax (departments) and sx-platform admitted and enrolled")
    return out


def _shaanxi_records(demo: Path) -> tuple[str, dict[str, Path]]:
    from authz.catalog import Catalog
    from authz.credit_code import make_code
    from xinlian_samples.enterprises import generate_enterprises
    from xinlian_samples.generator import generate_records

    base = generate_enterprises(1, 61)[0]
    code = make_code("9", "1", SHAANXI_DIVISION, base.credit_code[8:16])
    enterprise = type(base)(**{**base.__dict__, "credit_code": code, "division": SHAANXI_DIVISION})
    catalog = Catalog.default()
    files: dict[str, Path] = {}
    for category in ("registration", "tax"):
        path = demo / f"sx-{category}.jsonl"
        records = generate_records(enterprise, catalog.categories[category], 1, 61)
        path.write_text(
            "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)
        )
        files[category] = path
    return code, files


def _rows(home: Path, action: str) -> list[tuple[int, str, str, dict[str, Any]]]:
    with sqlite3.connect(home / "gateway.db") as db:
        rows = db.execute(
            "SELECT idx, trace_id, actor, body FROM ledger_entries WHERE action = ? ORDER BY idx",
            (action,),
        ).fetchall()
    return [(int(i), str(t), str(a), json.loads(b)["details"]) for i, t, a, b in rows]
