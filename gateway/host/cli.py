"""``xinlian gateway …``: commands run on the gateway host."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import click

from authz.catalog import Catalog
from gateway.host.config import GatewayConfig, strip_password
from gateway.store import migrate as migrations
from gateway.store.db import Store
from xinlian.console import data_console, print_json
from xinlian.exit_codes import CommandExit, ExitCode

HOME_OPTION = click.option(
    "--home", type=click.Path(path_type=Path), required=True, help="Gateway home directory."
)
DB_ENV = "XINLIAN_DB_URL"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_WORKERS = 64
WORKER_POLL_S = 0.2
WORKER_STOP_TIMEOUT_S = 15.0
_WORKER_EXITS = (ExitCode.USAGE, ExitCode.UNREACHABLE, ExitCode.DENIED, ExitCode.FAILED)


def load_config(home: Path, **overrides: object) -> GatewayConfig:
    """Read the config once: config.json, then XINLIAN_* variables (XINLIAN_DB_URL keeps a
    PostgreSQL password out of config.json), then the options given (``overrides``)."""
    return GatewayConfig.load(home.resolve(), **overrides)


@click.group("gateway")
def gateway_group() -> None:
    """Initialize, migrate and run a gateway."""


@gateway_group.command("init")
@HOME_OPTION
@click.option("--db", "db_url", help="Database URL (default: SQLite file in HOME).")
@click.option(
    "--origin",
    default="xinlian.example/gateway",
    show_default=True,
    help="Ledger origin line (checkpoint name).",
)
@click.option("--listen", help="mTLS address to record in the config.")
@click.option("--enroll-listen", help="Enrollment address to record in the config.")
@click.option("--host", "hosts", multiple=True, help="Server certificate name (repeatable).")
@click.option("--region", default="350000", show_default=True, help="Gateway region code.")
@click.option(
    "--public-address",
    help="HOST:PORT handed to nodes at enrollment (default: the listen address; on "
    "0.0.0.0 or ::, the first --host name with the listen port).",
)
def init_cmd(
    home: Path,
    db_url: str | None,
    origin: str,
    listen: str | None,
    enroll_listen: str | None,
    hosts: tuple[str, ...],
    region: str,
    public_address: str | None,
) -> None:
    """Create the CA, server certificate, ledger key, config, store and first admin."""
    from gateway.host.home import init_home

    config = init_home(
        home,
        db_url=db_url or os.environ.get(DB_ENV),
        origin=origin,
        listen=listen,
        enroll_listen=enroll_listen,
        hosts=hosts or ("localhost", "127.0.0.1"),
        region=region,
        public_address=public_address,
    )
    click.echo(f"gateway home ready: {config.home}")
    click.echo(f"  database:      {config.redacted()['db_url']}")
    click.echo(f"  CA:            {config.ca_cert}")
    click.echo(f"  verifier key:  {config.ledger_verifier_key}")
    click.echo(f"  administrator: {config.admin_identity} (identity for `xinlian admin`)")
    click.echo(f"  nodes reach:   {config.advertised()[0]}")
    if config.database_url != strip_password(config.database_url):
        click.echo(
            "  the database password is not stored: give it to every command with "
            "XINLIAN_DB_URL, db_url_file or PGPASSWORD/.pgpass (docs/configuration.md)"
        )


@gateway_group.command("migrate")
@HOME_OPTION
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def migrate_cmd(home: Path, as_json: bool) -> None:
    """Upgrade the database schema to this gateway's revision."""
    config = load_config(home)
    store = Store(config.database_url)
    try:
        before = migrations.current_revision(store.engine)
        migrations.upgrade(store.engine)
        after = migrations.current_revision(store.engine)
    finally:
        store.close()
    if as_json:
        print_json({"before": before, "after": after})
        return
    click.echo(f"schema revision: {before or 'none'} → {after}")


@gateway_group.command("config")
@HOME_OPTION
def config_cmd(home: Path) -> None:
    """Show the effective configuration (secrets redacted) and the server certificate's
    names and expiry."""
    from gateway.host.certs import server_cert_info
    from xinlian.clock import SystemClock

    config = load_config(home)
    shown = config.redacted()
    shown["server_certificate"] = server_cert_info(config, SystemClock().now()).as_dict()
    click.echo(json.dumps(shown, indent=2, ensure_ascii=False))


@gateway_group.command("serve")
@HOME_OPTION
@click.option("--listen", help="mTLS address HOST:PORT (default from config).")
@click.option("--enroll-listen", help="Enrollment address HOST:PORT (default from config).")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="INFO",
    show_default=True,
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), help="Log lines (default from config)."
)
@click.option("--ops-listen", help="Ops HTTP address HOST:PORT; '' for none (default: config).")
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=1,
    show_default=True,
    help="Gateway processes sharing the listen ports (SO_REUSEPORT) and the store.",
)
@click.option("--reuse-port", is_flag=True, hidden=True, help="Worker of a --workers pool.")
def serve_cmd(
    home: Path,
    listen: str | None,
    enroll_listen: str | None,
    log_level: str,
    log_format: str | None,
    ops_listen: str | None,
    workers: int,
    reuse_port: bool,
) -> None:
    """Serve gRPC: TLS only, client certificates required on the main listener.

    With --workers N, N processes serve the same ports: each is a full, stateless
    gateway replica (its own caches, bounded by their TTLs, and its own group committer);
    they share the store, whose ledger_head row sequences the one ledger. The kernel
    spreads new connections over the processes; one client connection stays on one.
    """
    from gateway.host.assemble import build_runtime
    from gateway.host.server import serve_forever
    from gateway.host.telemetry import configure_logging

    config = load_config(
        home,
        listen=listen,
        enroll_listen=enroll_listen,
        log_format=log_format,
        ops_listen=ops_listen,
    )
    log_level = log_level.upper()
    configure_logging(log_level, config.log_format)
    _private_files(config)
    if workers > 1:
        _serve_pool(home, config, log_level, workers)
        return
    runtime = build_runtime(config)
    asyncio.run(
        serve_forever(
            runtime,
            config.listen,
            config.enroll_listen,
            reuse_port=reuse_port,
            ops_listen=config.ops_listen,
        )
    )


def _private_files(config: GatewayConfig) -> None:
    """What serve creates (the SQLite -wal and -shm files) is mode 0600; what exists is
    made private again (gateway.host.home.secure_home)."""
    from gateway.host.home import secure_home
    from xinlian.pki import PRIVATE_UMASK

    os.umask(PRIVATE_UMASK)
    secure_home(config)


def _die_with_parent() -> None:
    """In a worker, before exec: SIGTERM when the pool process dies, even by SIGKILL
    (Linux; elsewhere the pool's own shutdown stops the workers)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _worker_ops(ops_listen: str, index: int) -> str:
    """Worker ``index``'s ops address: the configured port plus the index (each worker
    is scraped and probed on its own port); none when the ops port is off or 0."""
    host, _, port = ops_listen.rpartition(":")
    if not ops_listen or int(port) == 0:
        return ""
    return f"{host}:{int(port) + index}"


def _serve_pool(home: Path, config: GatewayConfig, log_level: str, workers: int) -> None:
    """Run ``workers`` worker processes on the same ports; stop them all on SIGINT or
    SIGTERM, or as soon as one of them exits."""
    import signal
    import subprocess
    import sys
    import time

    # (1) fixed ports only: with port 0 every worker would get a port of its own
    for name, address in (("--listen", config.listen), ("--enroll-listen", config.enroll_listen)):
        if address and address.rsplit(":", 1)[-1] == "0":
            raise click.BadParameter(f"{address}: --workers needs a fixed port", param_hint=name)
    # (2) start the workers, each a full gateway with SO_REUSEPORT
    command = [sys.executable, "-m", "xinlian_cli.main", "gateway", "serve", "--home", str(home)]
    command += ["--listen", config.listen, "--log-level", log_level, "--reuse-port"]
    command += ["--log-format", config.log_format]
    if config.enroll_listen:
        command += ["--enroll-listen", config.enroll_listen]
    procs = [
        subprocess.Popen(
            [*command, "--ops-listen", _worker_ops(config.ops_listen, i)],
            preexec_fn=_die_with_parent,
        )
        for i in range(workers)
    ]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # (3) supervise: the pool lives while every worker lives
    died: subprocess.Popen[bytes] | None = None
    while not stopping:
        exited = [p for p in procs if p.poll() is not None]
        if exited:
            died = exited[0]
            break
        time.sleep(WORKER_POLL_S)
    # (4) stop the others, gracefully first
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + WORKER_STOP_TIMEOUT_S
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if died is not None:
        status = died.returncode
        # a worker's own status says why it ended when it is one of these; any other
        # end (a signal, a crash, even a clean exit nobody asked for) is a failure
        code = ExitCode(status) if status in _WORKER_EXITS else ExitCode.FAILED
        raise CommandExit(
            code, f"error: gateway worker {died.pid} exited with status {status}; pool stopped"
        )


@gateway_group.command("backup")
@HOME_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="New file for the copy (never overwritten).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def backup_cmd(home: Path, out: Path, as_json: bool) -> None:
    """Copy the SQLite store while the gateway serves (consistent, checked, fsynced).

    PostgreSQL stores are backed up with pg_basebackup or pg_dump instead; the keys in
    HOME are not in the database: back them up separately."""
    from gateway.host.backup import backup_sqlite
    from gateway.store.dialect import dialect_for_url
    from xinlian.errors import FailedPrecondition

    config = load_config(home)
    dialect = dialect_for_url(config.database_url)
    if not dialect.embedded:
        raise FailedPrecondition(
            "the store is PostgreSQL: back it up with pg_basebackup (with WAL archiving) "
            "or pg_dump; see docs/operations.md",
            reason="NOT_SQLITE",
        )
    database = dialect.database_file(config.database_url)
    if database is None:
        raise FailedPrecondition("the store is not a file", reason="NOT_A_FILE")
    result = backup_sqlite(Path(database), out)
    if as_json:
        print_json(
            {"path": str(result.path), "bytes": result.bytes, "ledger_size": result.ledger_size}
        )
        return
    click.echo(
        f"backup written: {result.path} ({result.bytes} bytes, ledger size {result.ledger_size})"
    )


@gateway_group.command("stats")
@HOME_OPTION
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stats_cmd(home: Path, as_json: bool) -> None:
    """Operator view: stored records per category, ledger size, nodes per state."""
    from sqlalchemy import func, select

    from gateway.store import schema
    from gateway.store.records import category_counts

    config = load_config(home)
    store = Store(config.database_url)
    try:
        store.check_schema()

        def read(conn):  # type: ignore[no-untyped-def]
            nodes = dict(
                conn.execute(
                    select(schema.nodes.c.state, func.count()).group_by(schema.nodes.c.state)
                ).all()
            )
            size = conn.execute(select(schema.ledger_head.c.size)).scalar_one()
            return category_counts(conn), int(size), {str(k): int(v) for k, v in nodes.items()}

        counts, ledger_size, nodes = store.read(read)
    finally:
        store.close()
    from gateway.host.certs import server_cert_info
    from xinlian.clock import SystemClock

    cert = server_cert_info(config, SystemClock().now()).as_dict()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "records": counts,
                    "ledger_size": ledger_size,
                    "nodes": nodes,
                    "server_certificate": cert,
                },
                indent=2,
            )
        )
        return
    from rich.table import Table

    catalog = Catalog.default()
    table = Table(title="records per category (latest versions)")
    for column in ("category", "名称", "public", "records"):
        table.add_column(column)
    for category, count in counts.items():
        spec = catalog.get(category)
        table.add_row(
            category,
            spec.name_zh if spec else "?",
            "yes" if spec and spec.public else "no",
            str(count),
        )
    console = data_console()
    console.print(table)
    console.print(f"ledger entries: {ledger_size}; nodes: {nodes}")
    console.print(f"server certificate: {', '.join(cert['hosts'])}; not after {cert['not_after']}")
