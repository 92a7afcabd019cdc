"""The XinLian demo scenario on embedded SQLite (``make demo``).

Every step runs the real ``xinlian`` command line against a real gateway process with
mTLS, and prints the command first, so the demo doubles as a tour of the CLI.
State lives under var/demo/ (recreated on every run).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "var" / "demo"
HOME = DEMO / "gateway"
XINLIAN = [sys.executable, "-m", "xinlian.cli"]

NODES = [
    # (node id, kind, name, region, categories)
    ("fz-platform", "city_platform", "福州市融资信用服务平台", "350100", ()),
    ("tax-fj", "department", "国家税务总局福建省税务局", "350000", ("tax",)),
    (
        "amr-fj",
        "department",
        "福建省市场监督管理局",
        "350000",
        ("registration", "admin_license", "admin_penalty"),
    ),
    ("bank-cib", "institution", "兴业银行福州分行", "350100", ()),
    ("officer-1", "officer", "省信用中心安全管理员", "350000", ()),
]


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def xl(*args: str, capture: bool = False, show: bool = True, check: bool = True) -> str:
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    if show:
        print(f"$ xinlian {shown}", flush=True)
    result = subprocess.run(
        [*XINLIAN, *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
    )
    if not capture or result.returncode != 0:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
    if check and result.returncode != 0:
        raise SystemExit(f"demo step failed: xinlian {shown}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_serving(address: str, proc: subprocess.Popen[bytes]) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    sys.path.insert(0, str(ROOT))
    from node_agent.identity import Identity

    admin = Identity.load(HOME / "admin", gateway=address)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the gateway exited; see var/demo/gateway.log")
        try:
            with admin.channel() as channel:
                status = (
                    health_pb2_grpc.HealthStub(channel)
                    .Check(health_pb2.HealthCheckRequest(), timeout=2)
                    .status
                )
            if status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            time.sleep(0.2)
    raise SystemExit("the gateway did not start")


def identity(node_id: str) -> str:
    return str(DEMO / node_id)


def main() -> None:
    if DEMO.exists():
        shutil.rmtree(DEMO)
    DEMO.mkdir(parents=True)
    listen = f"127.0.0.1:{free_port()}"
    enroll = f"127.0.0.1:{free_port()}"

    banner("1. Initialize the provincial gateway (CA, server certificate, ledger key, SQLite)")
    xl(
        "gateway",
        "init",
        "--home",
        str(HOME),
        "--listen",
        listen,
        "--enroll-listen",
        enroll,
        "--origin",
        "xinlian.fujian.example/gateway",
    )

    banner(f"2. Serve: mTLS on {listen}, enrollment on {enroll}")
    log = open(DEMO / "gateway.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [*XINLIAN, "gateway", "serve", "--home", str(HOME)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_serving(listen, proc)
        print(f"gateway pid {proc.pid} is SERVING (log: {DEMO / 'gateway.log'})")
        run_scenario(listen, enroll)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def run_scenario(listen: str, enroll: str) -> None:
    admin = str(HOME / "admin")
    ca = str(HOME / "ca" / "ca.pem")

    banner("3. Access review (接入审查): nodes apply, the administrator admits, nodes enroll")
    for node_id, kind, name, region, categories in NODES:
        args = [
            "node",
            "apply",
            "--gateway",
            enroll,
            "--ca",
            ca,
            "--name",
            name,
            "--kind",
            kind,
            "--region",
            region,
            "--id",
            node_id,
        ]
        for category in categories:
            args += ["--category", category]
        xl(*args)
    xl("admin", "list", "--identity", admin, "--state", "applied")
    for node_id, *_ in NODES:
        out = xl(
            "admin",
            "admit",
            node_id,
            "--identity",
            admin,
            "--security",
            "等保二级测评通过",
            "--authorization",
            "授权管理制度齐备",
            "--notes",
            "demo",
            capture=True,
        )
        token = out.strip().splitlines()[-1]
        print(f"admitted {node_id}; token {token[:12]}… (one-time)")
        xl(
            "node",
            "enroll",
            "--gateway",
            enroll,
            "--token",
            token,
            "--ca",
            ca,
            "--out",
            identity(node_id),
        )

    banner("4. The registry")
    xl("admin", "list", "--identity", admin)

    banner("5. 有进有出: suspend a node, its next call is refused; readmit it")
    xl("admin", "suspend", "bank-cib", "--identity", admin, "--reason", "年度安全复查")
    xl("node", "whoami", "--identity", identity("bank-cib"), check=False)
    xl("admin", "readmit", "bank-cib", "--identity", admin, "--reason", "复查通过")
    xl("node", "whoami", "--identity", identity("bank-cib"))

    summary = {n[0]: identity(n[0]) for n in NODES}
    (DEMO / "identities.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    banner("Done")
    print(f"identities under {DEMO}; gateway home {HOME}")


if __name__ == "__main__":
    main()
