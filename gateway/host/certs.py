"""The gateway's TLS server certificate: ``xinlian gateway cert reissue|show`` and the
expiry warning ``serve`` logs at start and daily.

Reissue keeps the CA (every node identity stays valid) and writes a new server key and
certificate in place; a running gateway reads them at its next start (restart it: the
listeners' credentials are fixed when they open).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from gateway.host.config import CONFIG_FILE, GatewayConfig
from xinlian.clock import Clock, SystemClock
from xinlian.errors import FailedPrecondition
from xinlian.pki import (
    PRIVATE_UMASK,
    SERVER_CERT_LIFETIME,
    cert_to_pem,
    issue_server_cert,
    key_to_pem,
    load_cert,
    load_private_key,
    make_private,
    serial_hex,
    server_cert_hosts,
    write_secret,
)

log = logging.getLogger("xinlian.gateway")
CERT_CHECK_INTERVAL_S = 24 * 3600.0
MAX_SERVER_CERT_DAYS = 825  # what browsers and most TLS stacks still accept


@dataclass(frozen=True)
class ServerCertInfo:
    hosts: tuple[str, ...]
    not_after: datetime
    serial: str
    days_left: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "hosts": list(self.hosts),
            "not_after": self.not_after.isoformat(),
            "serial": self.serial,
            "days_left": round(self.days_left, 1),
        }


def server_cert_info(config: GatewayConfig, now: datetime) -> ServerCertInfo:
    cert = load_cert(config.server_cert)
    not_after = cert.not_valid_after_utc
    return ServerCertInfo(
        hosts=tuple(server_cert_hosts(cert)),
        not_after=not_after,
        serial=serial_hex(cert),
        days_left=(not_after - now) / timedelta(days=1),
    )


def expiry_warning(config: GatewayConfig, now: datetime) -> str | None:
    """The warning to log when the server certificate ends within
    ``server_cert_warn_days`` (or has ended); None otherwise."""
    info = server_cert_info(config, now)
    if info.days_left > config.server_cert_warn_days:
        return None
    if info.days_left <= 0:
        when = f"EXPIRED at {info.not_after.isoformat()}"
    else:
        when = f"expires in {info.days_left:.1f} days ({info.not_after.isoformat()})"
    return (
        f"server certificate {config.server_cert} {when}: run `xinlian gateway cert "
        f"reissue --home {config.home}` and restart the gateway"
    )


async def run_cert_watch(config: GatewayConfig, clock: Clock) -> None:
    """Log the expiry warning at start and once a day while it applies."""
    while True:
        warning = expiry_warning(config, clock.now())
        if warning:
            log.warning(warning)
        await asyncio.sleep(CERT_CHECK_INTERVAL_S)


def reissue_server_cert(
    config: GatewayConfig,
    hosts: tuple[str, ...],
    *,
    replace: bool = False,
    days: int | None = None,
    clock: Clock | None = None,
) -> ServerCertInfo:
    """A new server key and certificate from the gateway CA for the current names plus
    ``hosts`` (only ``hosts`` with ``replace``); the files are swapped in by rename."""
    if not config.ca_key.exists():
        raise FailedPrecondition(
            f"the CA key {config.ca_key} is not on this host: reissue where it is",
            reason="CA_KEY_NOT_HERE",
        )
    now = (clock or SystemClock()).now()
    names = list(hosts) if replace else server_cert_hosts(load_cert(config.server_cert))
    names += [h for h in hosts if h not in names]
    if not names:
        raise click.BadParameter("the certificate would name no host", param_hint="--host")
    lifetime = timedelta(days=days) if days else SERVER_CERT_LIFETIME
    key, cert = issue_server_cert(
        load_private_key(config.ca_key), load_cert(config.ca_cert), names, now, lifetime
    )
    previous = os.umask(PRIVATE_UMASK)
    try:
        key_tmp = config.server_key.with_suffix(".key.new")
        cert_tmp = config.server_cert.with_suffix(".pem.new")
        write_secret(key_tmp, key_to_pem(key))
        write_secret(cert_tmp, cert_to_pem(cert))
        os.replace(key_tmp, config.server_key)
        os.replace(cert_tmp, config.server_cert)
        _record_hosts(config.home, names)
    finally:
        os.umask(previous)
    make_private(config.server_cert.parent)
    return server_cert_info(config, now)


def _record_hosts(home: Path, names: list[str]) -> None:
    """``server_hosts`` in config.json follows the certificate (only that key changes)."""
    path = home / CONFIG_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data["server_hosts"] = names
    tmp = path.with_suffix(".json.new")
    write_secret(tmp, (json.dumps(data, indent=2) + "\n").encode())
    os.replace(tmp, path)


# -- commands -------------------------------------------------------------------------
@click.group("cert")
def cert_group() -> None:
    """The gateway's TLS server certificate."""


_HOME = click.option(
    "--home", type=click.Path(path_type=Path), required=True, help="Gateway home directory."
)


@cert_group.command("reissue")
@_HOME
@click.option("--host", "hosts", multiple=True, help="DNS name or IP address to add (repeatable).")
@click.option("--replace", is_flag=True, help="Name only the --host names (drop the others).")
@click.option(
    "--days",
    type=click.IntRange(1, MAX_SERVER_CERT_DAYS),
    help=f"Validity in days (default {SERVER_CERT_LIFETIME.days}).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reissue_cmd(
    home: Path, hosts: tuple[str, ...], replace: bool, days: int | None, as_json: bool
) -> None:
    """Issue a new server certificate from the gateway CA (new names, or before expiry).

    The CA stays: node identities keep working. Restart the gateway to serve it."""
    info = reissue_server_cert(
        GatewayConfig.load(home.resolve()), hosts, replace=replace, days=days
    )
    if as_json:
        click.echo(json.dumps(info.as_dict(), indent=2))
        return
    click.echo(f"server certificate reissued: {', '.join(info.hosts)}")
    click.echo(f"  valid until {info.not_after.isoformat()} (serial {info.serial})")
    click.echo("  restart the gateway to serve it")


@cert_group.command("show")
@_HOME
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show_cmd(home: Path, as_json: bool) -> None:
    """The server certificate's names and expiry."""
    config = GatewayConfig.load(home.resolve())
    info = server_cert_info(config, SystemClock().now())
    if as_json:
        click.echo(json.dumps(info.as_dict(), indent=2))
        return
    click.echo(f"names:     {', '.join(info.hosts)}")
    click.echo(f"not after: {info.not_after.isoformat()} ({info.days_left:.1f} days left)")
    warning = expiry_warning(config, SystemClock().now())
    if warning:
        click.echo(f"warning: {warning}")
