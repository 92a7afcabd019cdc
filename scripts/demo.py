"""The XinLian demo scenario on embedded SQLite (``make demo``).

Every step runs the real ``xinlian`` command line against a real gateway process with
mTLS, and prints the command first, so the demo doubles as a tour of the CLI.
State lives under var/demo/ (recreated on every run).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "var" / "demo"
HOME = DEMO / "gateway"
XINLIAN = [sys.executable, "-m", "xinlian_cli.main"]

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


def xl(
    *args: str,
    capture: bool = False,
    show: bool = True,
    check: bool = True,
    expect: int = 0,
    env: dict[str, str] | None = None,
) -> str:
    """Run ``xinlian *args``; with ``check``, stop the demo unless it exits ``expect``."""
    # a one-time token is a secret until used: never echo it
    visible = [
        "xlt_…(one-time token)" if i and args[i - 1] == "--token" else a for i, a in enumerate(args)
    ]
    shown = " ".join(a if " " not in a else repr(a) for a in visible)
    if show:
        prefix = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        print(f"$ {prefix + ' ' if prefix else ''}xinlian {shown}", flush=True)
    result = subprocess.run(
        [*XINLIAN, *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )
    if not capture or result.returncode != 0:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
    if check and result.returncode != expect:
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
    from xinlian.identity import Identity

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
        print(f"admitted {node_id}; one-time enrollment token handed to the node")
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

    record_id, code = push_section()
    authorization_section(record_id, code)
    audit_section(record_id, code)
    # scripts/ is on sys.path: each later section lives in its own module
    from demo_agentsync import agentsync_section
    from demo_console import console_section
    from demo_federation import federation_section
    from demo_objections import objection_section
    from demo_report import report_section
    from demo_subscriptions import subscriptions_section
    from demo_tiles import tiles_section
    from demo_witness import witness_section

    objection_section(xl, banner, identity, DEMO, record_id, code)
    tiles_section(xl, banner, HOME, DEMO)
    agentsync_section(xl, banner, identity, DEMO, HOME)
    subscriptions_section(xl, banner, identity, DEMO, code)
    witness_section(xl, banner, DEMO, HOME, listen)
    federation_section(xl, banner, identity, DEMO, HOME)
    report_section(xl, banner, identity, DEMO)
    console_section(banner, identity("officer-1"), admin, listen, record_id, code)

    summary = {n[0]: identity(n[0]) for n in NODES}
    (DEMO / "identities.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    banner("Done")
    print(f"identities under {DEMO}; gateway home {HOME}")


REJECTED = 5  # xinlian.exit_codes.ExitCode.REJECTED: the push rejected some records
INTEGRITY = 1  # xinlian.exit_codes.ExitCode.INTEGRITY: verification found a bad entry
SAMPLE_SEED = "7"
SAMPLE_ENTERPRISES = "20"
PUSHES = [
    # (department, category, records per enterprise)
    ("amr-fj", "registration", "1"),
    ("amr-fj", "admin_penalty", "2"),
    ("tax-fj", "tax", "4"),
]


def first_line(path: Path) -> dict[str, object]:
    with path.open(encoding="utf-8") as handle:
        return dict(json.loads(handle.readline()))


def push_section() -> tuple[str, str]:
    banner("6. Department agents push signed batches (谁产生、谁提供、谁负责)")
    data = DEMO / "data"
    data.mkdir(exist_ok=True)
    for department, category, per in PUSHES:
        path = data / f"{category}.jsonl"
        xl(
            "agent",
            "sample",
            "--category",
            category,
            "--enterprises",
            SAMPLE_ENTERPRISES,
            "--records-per",
            per,
            "--seed",
            SAMPLE_SEED,
            "--out",
            str(path),
        )
        xl("agent", "push", "--identity", identity(department), "--category", category, str(path))
    tax = first_line(data / "tax.jsonl")

    banner("7. A bad record is rejected with its reason; its neighbours are kept")
    good = dict(tax, record_id=f"{tax['record_id']}-late", version=1)
    bad = dict(good, record_id="tax-bad-1", credit_code=str(tax["credit_code"])[:-1] + "0")
    mixed = data / "tax-mixed.jsonl"
    mixed.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in (good, bad)) + "\n",
        encoding="utf-8",
    )
    rejects = data / "tax-mixed.rejects.jsonl"
    xl(
        "agent",
        "push",
        "--identity",
        identity("tax-fj"),
        "--category",
        "tax",
        str(mixed),
        "--rejects",
        str(rejects),
        expect=REJECTED,
    )
    for line in rejects.read_text(encoding="utf-8").splitlines():
        rejected = json.loads(line)
        print(
            f"  rejected {rejected.get('record_id')}: {rejected.get('reason_code')} "
            f"{rejected.get('message')}"
        )

    banner("8. A department pushing a category it is not responsible for is refused")
    xl(
        "agent",
        "push",
        "--identity",
        identity("tax-fj"),
        "--category",
        "registration",
        str(data / "registration.jsonl"),
        "--no-resume",
        check=False,
    )

    banner("9. What the gateway holds (operator view on the gateway host)")
    xl("gateway", "stats", "--home", str(HOME))
    return str(tax["record_id"]), str(tax["credit_code"])


def _tax_view(output: str, record_id: str) -> dict[str, tuple[str, str]]:
    """field → (value, mask) of one record in a `xinlian query --json` answer."""
    for category in json.loads(output)["categories"]:
        for record in category["records"]:
            if record["record_id"] == record_id:
                return {f["name"]: (f["value"], f["mask"]) for f in record["fields"]}
    return {}


def authorization_section(record_id: str, code: str) -> None:
    from rich.console import Console
    from rich.table import Table

    platform, bank = identity("fz-platform"), identity("bank-cib")

    def ask(who: str, *args: str, capture: bool = False) -> str:
        """``xinlian query`` about the demo enterprise, for financing."""
        return xl(
            "query",
            "--identity",
            who,
            "--enterprise",
            code,
            "--purpose",
            "financing",
            *args,
            capture=capture,
        )

    key = str(DEMO / "enterprise" / "enterprise.key")
    (DEMO / "enterprise").mkdir(exist_ok=True)

    banner("10. Authorization (授权): the enterprise's key, registered by the city platform")
    xl("enterprise", "keygen", "--out", key)
    xl(
        "enterprise",
        "register",
        "--identity",
        platform,
        "--credit-code",
        code,
        "--name",
        "示例企业（演示）",
        "--public-key",
        str(DEMO / "enterprise" / "enterprise.pub.pem"),
        "--attest-method",
        "legal_rep_face_match",
        "--evidence",
        "FZ-KYC-0001",
    )

    banner("10a. Before any grant the bank sees public data only; tax is denied")
    ask(bank, "--category", "registration", "--category", "tax")

    banner("10b. The enterprise signs grants (授权书) for the bank and for the platform")
    letter = DEMO / "enterprise" / "授权书-bank-cib.txt"

    def grant_tax(grantee: str, days: str, *extra: str, capture: bool = False) -> str:
        return xl(
            "grant",
            "create",
            "--identity",
            platform,
            "--enterprise-key",
            key,
            "--credit-code",
            code,
            "--grantee",
            grantee,
            "--category",
            "tax",
            "--purpose",
            "financing",
            "--days",
            days,
            *extra,
            capture=capture,
        )

    out = grant_tax("bank-cib", "365", "--letter-out", str(letter))
    grant_id = next(
        (w for line in out.splitlines() for w in line.split() if w.startswith("g-")), ""
    ).rstrip(":")
    grant_tax("fz-platform", "30", capture=True)
    xl("grant", "list", "--identity", platform, "--credit-code", code)

    banner("10c. One tax record as the bank, the platform and the enterprise itself see it")
    views = {
        "bank-cib (institution)": _tax_view(
            ask(bank, "--category", "tax", "--json", capture=True),
            record_id,
        ),
        "fz-platform (city platform)": _tax_view(
            ask(platform, "--category", "tax", "--json", capture=True),
            record_id,
        ),
        "the enterprise (self query)": _tax_view(
            ask(platform, "--category", "tax", "--self-key", key, "--json", capture=True),
            record_id,
        ),
    }
    table = Table(title=f"{record_id}: value (mask)")
    table.add_column("field")
    for name in views:
        table.add_column(name)
    fields: list[str] = []
    for view in views.values():
        fields += [f for f in view if f not in fields]
    for field in fields:
        cells = [
            f"{v[0]} ({v[1]})" if (v := view.get(field)) else "— (not sent)"
            for view in views.values()
        ]
        table.add_row(field, *cells)
    Console(width=160, markup=False).print(table)

    banner("10d. The enterprise revokes the bank's grant; the bank's next query is denied")
    xl("grant", "revoke", "--identity", platform, "--grant-id", grant_id, "--enterprise-key", key)
    ask(bank, "--category", "tax")


def audit_section(record_id: str, code: str) -> None:
    officer = identity("officer-1")
    banner("11. Security officer: where a record came from and everyone who received it")
    xl("audit", "trace", "--identity", officer, "--record", record_id)

    banner("12. Security officer: search the ledger (the search is itself a ledger entry)")
    xl("audit", "search", "--identity", officer, "--enterprise", code, "--page-size", "8")

    banner("13. Anyone can verify the ledger: leaf hashes, roots, signed checkpoints, batches")
    xl("audit", "checkpoint", "--home", str(HOME))
    xl("audit", "verify", "--home", str(HOME))

    banner("14. Tamper with a copy of the database: verification names the first bad index")
    copy = DEMO / "tampered.db"
    source = sqlite3.connect(HOME / "gateway.db")
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    victim = target.execute(
        "SELECT idx FROM ledger_entries WHERE action = 'push.batch' ORDER BY idx LIMIT 1"
    ).fetchone()[0]
    target.execute(
        "UPDATE ledger_entries SET body = CAST(replace(CAST(body AS TEXT), '\"ok\"', "
        "'\"rejected\"') AS BLOB) WHERE idx = ?",
        (victim,),
    )
    target.commit()
    target.close()
    print(f"(edited the body of ledger entry {victim} in {copy})")
    xl(
        "audit",
        "verify",
        "--home",
        str(HOME),
        expect=INTEGRITY,
        env={"XINLIAN_DB_URL": f"sqlite:///{copy}"},
    )


if __name__ == "__main__":
    main()
