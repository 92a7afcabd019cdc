"""``xinlian gateway …``: commands run on the gateway host."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import click

from gateway.config import GatewayConfig
from gateway.store import migrate as migrations
from gateway.store.db import Store

HOME_OPTION = click.option(
    "--home", type=click.Path(path_type=Path), required=True, help="Gateway home directory."
)
DB_ENV = "XINLIAN_DB_URL"


def load_config(home: Path, **overrides: object) -> GatewayConfig:
    """Read the config once; XINLIAN_DB_URL overrides the stored database URL (so a
    PostgreSQL password need not sit in config.json)."""
    db_url = os.environ.get(DB_ENV)
    return GatewayConfig.load(home.resolve(), db_url=db_url, **overrides)


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
def init_cmd(
    home: Path,
    db_url: str | None,
    origin: str,
    listen: str | None,
    enroll_listen: str | None,
    hosts: tuple[str, ...],
    region: str,
) -> None:
    """Create the CA, server certificate, ledger key, config, store and first admin."""
    from gateway.home import init_home

    config = init_home(
        home,
        db_url=db_url or os.environ.get(DB_ENV),
        origin=origin,
        listen=listen,
        enroll_listen=enroll_listen,
        hosts=hosts or ("localhost", "127.0.0.1"),
        region=region,
    )
    click.echo(f"gateway home ready: {config.home}")
    click.echo(f"  database:      {config.redacted()['db_url']}")
    click.echo(f"  CA:            {config.ca_cert}")
    click.echo(f"  verifier key:  {config.ledger_verifier_key}")
    click.echo(f"  administrator: {config.admin_identity} (identity for `xinlian admin`)")


@gateway_group.command("migrate")
@HOME_OPTION
def migrate_cmd(home: Path) -> None:
    """Upgrade the database schema to this gateway's revision."""
    config = load_config(home)
    store = Store(config.db_url)
    try:
        before = migrations.current_revision(store.engine)
        migrations.upgrade(store.engine)
        after = migrations.current_revision(store.engine)
    finally:
        store.close()
    click.echo(f"schema revision: {before or 'none'} → {after}")


@gateway_group.command("config")
@HOME_OPTION
def config_cmd(home: Path) -> None:
    """Show the effective configuration (secrets redacted)."""
    click.echo(json.dumps(load_config(home).redacted(), indent=2, ensure_ascii=False))


@gateway_group.command("serve")
@HOME_OPTION
@click.option("--listen", help="mTLS address HOST:PORT (default from config).")
@click.option("--enroll-listen", help="Enrollment address HOST:PORT (default from config).")
@click.option("--log-level", default="INFO", show_default=True)
def serve_cmd(home: Path, listen: str | None, enroll_listen: str | None, log_level: str) -> None:
    """Serve gRPC: TLS only, client certificates required on the main listener."""
    from gateway.runtime import build_runtime
    from gateway.server import serve_forever

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    config = load_config(home, listen=listen, enroll_listen=enroll_listen)
    runtime = build_runtime(config)
    asyncio.run(serve_forever(runtime, config.listen, config.enroll_listen))
