"""``xinlian gateway link`` and ``xinlian federation …``: the federation on the gateway host.

    xinlian federation init --home H --region 100000      the top gateway: directory key
    xinlian gateway link --home H --upstream ADDR --upstream-ca FILE [--region R]
                                                          (1) apply at the upstream
    xinlian gateway link --home H --upstream ADDR --upstream-ca FILE --token T
                                                          (3)-(5) enroll, admit, Join
    xinlian federation show --home H [--json]             directory, link, relay lag

``ADDR`` is the upstream's enrollment address (Apply and Enroll are served there); the
steps are those of ``gateway.flows.federation_link``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from audit.checkpoint import NoteSigner
from authz.catalog import Catalog
from gateway.core.caller import Caller
from gateway.flows.federation_directory import Directory, accept
from gateway.flows.federation_link import (
    FEDERATION_DIR,
    FederationPaths,
    admit_upstream,
    local_gateway_id,
    read_link_record,
    upstream_node_state,
    write_link_record,
)
from gateway.flows.relay import DOWN, UP
from gateway.host.assemble import registry_for
from gateway.host.config import GatewayConfig
from gateway.services.federation_client import apply_at, enroll_at, join_upstream
from gateway.store import federation_store
from gateway.store.committer import commit_now
from gateway.store.db import Store
from gateway.verify.relayed import verify_relayed
from xinlian.clock import SystemClock
from xinlian.console import data_console, print_json
from xinlian.errors import FailedPrecondition
from xinlian.exit_codes import CommandExit, ExitCode
from xinlian.identity import Identity
from xinlian.pki import write_secret

HOME_OPTION = click.option(
    "--home", type=click.Path(path_type=Path), required=True, help="Gateway home directory."
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
TOP_REGION = "100000"


def _config(home: Path, **overrides: Any) -> GatewayConfig:
    return GatewayConfig.load(home.resolve(), **overrides)


def _federated(config: GatewayConfig, region: str | None, gateway_id: str | None) -> GatewayConfig:
    """The config with its federation keys set (saved when they change)."""
    updates: dict[str, Any] = {}
    if region and region != config.federation_region:
        updates["federation_region"] = region
    if gateway_id and gateway_id != config.federation_gateway_id:
        updates["federation_gateway_id"] = gateway_id
    if updates:
        config = GatewayConfig(home=config.home, **{**config.model_dump(), **updates})
        config.save()
    if not config.federation_region:
        raise CommandExit(ExitCode.USAGE, "error: --region: this gateway has no federation region")
    return config


def init_top(config: GatewayConfig) -> dict[str, str]:
    """The top gateway's directory signing key (made once)."""
    paths = FederationPaths(config.home / FEDERATION_DIR)
    paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    gateway_id = local_gateway_id(config.federation_gateway_id, config.federation_region)
    if not paths.directory_key.exists():
        signer = NoteSigner.generate(f"xinlian-directory-{gateway_id}")
        write_secret(paths.directory_key, (signer.signer_key() + "\n").encode())
    signer = NoteSigner.from_key_string(paths.directory_key.read_text().strip())
    return {"gateway_id": gateway_id, "directory_verifier_key": signer.verifier_key()}


def rotate_key(config: GatewayConfig, finish: bool) -> dict[str, Any]:
    """Directory key rotation at the top: (1) a next key, which signs beside the current
    one and is listed, so members pin both; (2) ``finish``: the next key becomes the key."""
    paths = FederationPaths(config.home / FEDERATION_DIR)
    if not paths.directory_key.exists():
        raise FailedPrecondition("this gateway is not the top", reason="NOT_TOP")
    current = NoteSigner.from_key_string(paths.directory_key.read_text().strip())
    if finish:
        if not paths.directory_next_key.exists():
            raise FailedPrecondition("no rotation in progress", reason="NO_NEXT_KEY")
        paths.directory_next_key.replace(paths.directory_key)
        key = NoteSigner.from_key_string(paths.directory_key.read_text().strip())
        return {"directory_verifier_key": key.verifier_key(), "retired": current.verifier_key()}
    if not paths.directory_next_key.exists():
        name = f"{current.name}-{SystemClock().now():%Y%m%d%H%M%S}"
        write_secret(
            paths.directory_next_key, (NoteSigner.generate(name).signer_key() + "\n").encode()
        )
    following = NoteSigner.from_key_string(paths.directory_next_key.read_text().strip())
    return {"directory_verifier_key": current.verifier_key(), "next": following.verifier_key()}


def link(
    config: GatewayConfig,
    upstream: str,
    upstream_ca: bytes,
    token: str | None,
    *,
    upstream_id: str = "gw-100000",
    upstream_region: str = TOP_REGION,
    server_name: str = "",
) -> dict[str, Any]:
    """The link steps of ``gateway.flows.federation_link`` this host runs."""
    gateway_id = local_gateway_id(config.federation_gateway_id, config.federation_region)
    paths = FederationPaths(config.home / FEDERATION_DIR)
    if token is None:  # (1)
        node_id = apply_at(
            upstream, upstream_ca, gateway_id, config.federation_region, f"网关 {gateway_id}"
        )
        return {"applied_as": node_id, "next": "admission by the upstream's administrator"}
    # (3) enroll at the upstream
    if (paths.upstream / "identity.json").exists():
        raise FailedPrecondition("this gateway is linked already", reason="ALREADY_LINKED")
    identity = enroll_at(upstream, token, upstream_ca, paths.upstream, server_name)
    # (4) the upstream as a gateway node here, admitted with a review
    store = Store(config.database_url)
    clock = SystemClock()
    try:
        state = store.read(lambda conn: upstream_node_state(conn, upstream_id))
        if state not in (None, "exited"):
            raise FailedPrecondition(
                f"gateway {upstream_id} is {state} here already", reason="ALREADY_LINKED"
            )
        admin_identity = Identity.load(config.admin_identity)
        admin = Caller(admin_identity.node_id, "admin", admin_identity.region, "", "")
        registry = registry_for(config, clock)
        application, admission = admit_upstream(
            registry, admin, upstream_id, upstream_region, "xinlian gateway link", "link"
        )
        commit_now(store, clock, application)
        admitted = commit_now(store, clock, admission)
    finally:
        store.close()
    # (5) Join: the upstream enrolls back with the token and lists this gateway
    endpoint, tls_name = config.advertised()
    joined = join_upstream(
        identity,
        endpoint=endpoint,
        enroll_endpoint=config.enroll_listen,
        tls_server_name=tls_name,
        ca_pem=config.ca_cert.read_text(),
        verifier_key=config.ledger_verifier_key.read_text().strip(),
        origin=config.origin,
        token=admitted.token,
        catalog_version=Catalog.default().version,
    )
    if joined.upstream_gateway_id != upstream_id:
        raise FailedPrecondition(
            f"the upstream is {joined.upstream_gateway_id}, not {upstream_id}",
            reason="WRONG_UPSTREAM",
        )
    write_link_record(paths, joined.upstream_gateway_id, joined.upstream_region)
    paths.pinned_keys.write_text(joined.directory_verifier_key + "\n")
    return {
        "gateway_id": gateway_id,
        "upstream": joined.upstream_gateway_id,
        "upstream_region": joined.upstream_region,
        "directory_verifier_key": joined.directory_verifier_key,
        "upstream_ledger_index": joined.ledger_index,
    }


def show(config: GatewayConfig) -> dict[str, Any]:
    """The directory held (verified again), the link and the relay lag."""
    paths = FederationPaths(config.home / FEDERATION_DIR)
    gateway_id = local_gateway_id(config.federation_gateway_id, config.federation_region)
    directory: Directory | None = None
    if paths.directory_note.exists():
        keys = (
            [k for k in paths.pinned_keys.read_text().split()] if paths.pinned_keys.exists() else []
        )
        if paths.directory_key.exists():
            keys = [
                NoteSigner.from_key_string(paths.directory_key.read_text().strip()).verifier_key()
            ]
        directory = accept(paths.directory_note.read_text(), keys, None)
    store = Store(config.database_url)
    try:
        lag = store.read(lambda conn: _lag(conn, config, directory))
    finally:
        store.close()
    return {
        "gateway_id": gateway_id,
        "region": config.federation_region,
        "top": paths.directory_key.exists(),
        "upstream": read_link_record(paths),
        "directory": directory.to_json() if directory else None,
        "relay_lag": lag,
    }


def _lag(conn: Any, config: GatewayConfig, directory: Directory | None) -> list[dict[str, Any]]:
    categories = [
        c.id for c in Catalog.default().categories.values() if c.public and c.relay_upstream
    ]
    peers: list[tuple[str, str]] = []
    link = read_link_record(FederationPaths(config.home / FEDERATION_DIR))
    if link:
        peers.append((link["gateway_id"], UP))
    if (
        directory is not None
        and FederationPaths(config.home / FEDERATION_DIR).directory_key.exists()
    ):
        peers += [(m.gateway_id, DOWN) for m in directory.active() if m.upstream]
    out = []
    for peer, direction in peers:
        after = federation_store.cursor(conn, peer, direction)
        out.append(
            {
                "peer": peer,
                "direction": direction,
                "cursor": after,
                "pending_batches": federation_store.pending_count(conn, after, categories),
            }
        )
    return out


# -- commands -----------------------------------------------------------------------------


@click.group("federation")
def federation_group() -> None:
    """The federation of gateways: the top's directory key, the directory, the relay."""


@federation_group.command("init")
@HOME_OPTION
@click.option("--region", default=TOP_REGION, show_default=True, help="The top's region.")
@click.option("--gateway-id", help="Gateway id (default gw-<region>).")
@JSON_OPTION
def init_cmd(home: Path, region: str, gateway_id: str | None, as_json: bool) -> None:
    """Make this gateway the top of a federation (its directory signing key)."""
    result = init_top(_federated(_config(home), region, gateway_id))
    if as_json:
        print_json(result)
        return
    click.echo(
        f"top gateway {result['gateway_id']}; directory key {result['directory_verifier_key']}"
    )


def verify(config: GatewayConfig) -> dict[str, Any]:
    """Every relayed copy held here, re-checked (``gateway.verify.relayed``)."""
    paths = FederationPaths(config.home / FEDERATION_DIR)
    ca_path = paths.upstream / "ca.pem"
    upstream_ca = ca_path.read_text() if ca_path.exists() else None
    store = Store(config.database_url)
    try:
        return store.read(lambda conn: verify_relayed(conn, upstream_ca)).as_json()
    finally:
        store.close()


@federation_group.command("verify")
@HOME_OPTION
@JSON_OPTION
def verify_cmd(home: Path, as_json: bool) -> None:
    """Re-check every relayed copy held here: the department's signature through the
    source gateway's CA, and the bytes' SHA-256 (exit 1 if one does not verify)."""
    result = verify(_config(home))
    if as_json:
        print_json(result)
    else:
        click.echo(
            f"relayed copies: {result['checked']} checked, {result['erased']} erased by "
            f"retention, {len(result['problems'])} problems"
        )
        for problem in result["problems"]:
            click.echo(f"  {problem['copy']}: {problem['reason']} {problem.get('message', '')}")
    if not result["ok"]:
        raise CommandExit(ExitCode.INTEGRITY, "error: a relayed copy does not verify")


@federation_group.command("rotate-key")
@HOME_OPTION
@click.option("--finish", is_flag=True, help="Retire the old key (after members fetched both).")
@JSON_OPTION
def rotate_key_cmd(home: Path, finish: bool, as_json: bool) -> None:
    """Rotate the directory signing key without stopping traffic (docs/federation.md)."""
    result = rotate_key(_config(home), finish)
    if as_json:
        print_json(result)
    elif finish:
        click.echo(f"directory key now {result['directory_verifier_key']}")
    else:
        click.echo(f"signing with both keys; next {result['next']}; then --finish")


@federation_group.command("show")
@HOME_OPTION
@JSON_OPTION
def show_cmd(home: Path, as_json: bool) -> None:
    """The directory held (its signature checked), the upstream link and the relay lag."""
    result = show(_config(home))
    if as_json:
        print_json(result)
        return
    console = data_console()
    console.print(
        f"gateway {result['gateway_id']} (region {result['region']})"
        + (" — top" if result["top"] else "")
    )
    if result["upstream"]:
        console.print(
            f"upstream {result['upstream']['gateway_id']} ({result['upstream']['region']})"
        )
    directory = result["directory"]
    if directory is None:
        console.print("no directory held")
    else:
        console.print(
            f"directory of {directory['top']}, serial {directory['serial']}, "
            f"catalog {directory['catalog_version']}"
        )
        for m in directory["members"]:
            console.print(
                f"  {m['gateway_id']:<16} {m['region']} prefix {m['region_prefix']:<6} "
                f"{m['state']:<10} {m['endpoint']}  origin {m['origin']}"
            )
    for lag in result["relay_lag"]:
        console.print(
            f"relay {lag['direction']:<4} {lag['peer']}: cursor {lag['cursor']}, "
            f"{lag['pending_batches']} batches pending"
        )


@click.command("link")
@HOME_OPTION
@click.option("--upstream", required=True, help="The upstream's enrollment address HOST:PORT.")
@click.option(
    "--upstream-ca",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="The upstream's CA certificate (PEM).",
)
@click.option("--token", help="The enrollment token the upstream's administrator handed out.")
@click.option("--region", help="This gateway's region (saved as federation_region).")
@click.option("--gateway-id", help="This gateway's id (default gw-<region>).")
@click.option("--upstream-id", default="gw-100000", show_default=True)
@click.option("--upstream-region", default=TOP_REGION, show_default=True)
@JSON_OPTION
def link_cmd(
    home: Path,
    upstream: str,
    upstream_ca: Path,
    token: str | None,
    region: str | None,
    gateway_id: str | None,
    upstream_id: str,
    upstream_region: str,
    as_json: bool,
) -> None:
    """Link this gateway to its upstream: apply (no --token), then enroll and join."""
    config = _federated(_config(home), region, gateway_id)
    result = link(
        config,
        upstream,
        upstream_ca.read_bytes(),
        token,
        upstream_id=upstream_id,
        upstream_region=upstream_region,
    )
    if as_json:
        print_json(result)
    elif token is None:
        click.echo(
            f"applied as {result['applied_as']}: ask the upstream's administrator to "
            "admit it, then run again with --token"
        )
    else:
        click.echo(f"linked {result['gateway_id']} to {result['upstream']}; directory key pinned")
