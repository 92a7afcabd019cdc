"""``xinlian enterprise …``, ``xinlian grant …`` and ``xinlian query``.

    xinlian enterprise keygen --out KEY.pem
    xinlian enterprise register --identity PLATFORM_DIR --credit-code C --name N \\
        --public-key PUB.pem --attest-method M [--evidence REF]
    xinlian enterprise rotate --identity PLATFORM_DIR --credit-code C \\
        --enterprise-key OLD.pem --new-public-key NEW.pub.pem
    xinlian grant create --identity PLATFORM_DIR --enterprise-key KEY.pem --credit-code C \\
        --grantee NODE --category CAT [--field CAT.FIELD] [--purpose financing] \\
        [--days 365] [--max-uses N] [--letter-out FILE]
    xinlian grant revoke --identity DIR --grant-id G (--enterprise-key KEY.pem | --reason R)
    xinlian grant list --identity DIR [--credit-code C] [--json]
    xinlian query --identity DIR --enterprise CODE --purpose P [--category C ...] \\
        [--self-key KEY.pem] [--json]

Private enterprise keys stay on this machine: statements are signed here, the platform
submits only the signatures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from authz.catalog import Purpose
from node_agent.cli import JSON_OPTION, identity_options
from node_agent.enterprise import (
    DEFAULT_GRANT_DAYS,
    AuthzClient,
    generate_key,
    load_signing_key,
    make_grant,
    sign_grant,
    sign_revocation,
)
from node_agent.query import QueryClient, response_json, response_tables
from xinlian.console import data_console, print_json
from xinlian.identity import Identity
from xinlian.v1 import authorization_pb2 as apb
from xinlian.wire import PURPOSE_FROM_WIRE

IDENTITY = identity_options("The node's identity directory (from `xinlian node enroll`).")
KEY_FILE = click.Path(path_type=Path, exists=True, dir_okay=False)
PURPOSES = click.Choice([p.value for p in Purpose])


def _identity(path: Path, gateway: str | None) -> Identity:
    return Identity.load(path, gateway=gateway)


def _status(value: int) -> str:
    return apb.GrantStatus.Name(value).removeprefix("GRANT_STATUS_").lower()


# -- enterprise ------------------------------------------------------------------------


def _enterprise_json(enterprise: Any) -> dict[str, object]:
    return {
        "credit_code": enterprise.credit_code,
        "name": enterprise.name,
        "key_version": enterprise.key_version,
        "registered_by": enterprise.registered_by,
    }


@click.group("enterprise")
def enterprise_group() -> None:
    """Enterprise keys and registration (by a city platform)."""


@enterprise_group.command("keygen")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@JSON_OPTION
def keygen_cmd(out: Path, as_json: bool) -> None:
    """Make an Ed25519 key pair: OUT (private, mode 0600) and OUT.pub.pem beside it."""
    pub = generate_key(out)
    if as_json:
        print_json({"private_key": str(out), "public_key": str(pub)})
        return
    click.echo(f"private key: {out} (mode 0600; keep it with the enterprise)")
    click.echo(f"public key:  {pub}")


@enterprise_group.command("register")
@IDENTITY
@click.option("--credit-code", required=True, help="统一社会信用代码 (18 characters).")
@click.option("--name", required=True, help="The enterprise's registered name.")
@click.option("--public-key", type=KEY_FILE, required=True, help="The enterprise's PUB.pem.")
@click.option(
    "--attest-method", required=True, help="How the platform verified the enterprise's identity."
)
@click.option("--evidence", default="", help="Reference to the evidence kept by the platform.")
@JSON_OPTION
def register_cmd(
    identity: Path,
    gateway: str | None,
    credit_code: str,
    name: str,
    public_key: Path,
    attest_method: str,
    evidence: str,
    as_json: bool,
) -> None:
    """A city platform registers an enterprise's public key, attesting its identity."""
    with AuthzClient(_identity(identity, gateway)) as client:
        enterprise = client.register(
            credit_code, name, public_key.read_text(), attest_method, evidence
        )
    if as_json:
        print_json(_enterprise_json(enterprise))
        return
    click.echo(
        f"registered {enterprise.credit_code} {enterprise.name} "
        f"(key version {enterprise.key_version}, attested by {enterprise.registered_by})"
    )


@enterprise_group.command("rotate")
@IDENTITY
@click.option("--credit-code", required=True)
@click.option("--enterprise-key", type=KEY_FILE, required=True, help="The CURRENT private key.")
@click.option("--new-public-key", type=KEY_FILE, required=True, help="The new PUB.pem.")
@JSON_OPTION
def rotate_cmd(
    identity: Path,
    gateway: str | None,
    credit_code: str,
    enterprise_key: Path,
    new_public_key: Path,
    as_json: bool,
) -> None:
    """Replace the enterprise's key; the current key signs the rotation."""
    with AuthzClient(_identity(identity, gateway)) as client:
        enterprise = client.rotate(
            credit_code, load_signing_key(enterprise_key), new_public_key.read_bytes()
        )
    if as_json:
        print_json(_enterprise_json(enterprise))
        return
    click.echo(f"{enterprise.credit_code}: key version {enterprise.key_version}")


# -- grants ----------------------------------------------------------------------------


@click.group("grant")
def grant_group() -> None:
    """Grants (授权): create, revoke, list."""


@grant_group.command("create")
@IDENTITY
@click.option("--enterprise-key", type=KEY_FILE, required=True, help="The enterprise's KEY.pem.")
@click.option("--credit-code", required=True)
@click.option("--grantee", required=True, help="Node id of the grantee (e.g. a bank).")
@click.option("--category", "categories", multiple=True, help="Category id (repeat).")
@click.option("--field", "fields", multiple=True, help="Single field CAT.FIELD (repeat).")
@click.option("--purpose", type=PURPOSES, default=Purpose.FINANCING.value, show_default=True)
@click.option("--days", type=click.IntRange(1, 1096), default=DEFAULT_GRANT_DAYS, show_default=True)
@click.option("--max-uses", type=click.IntRange(1), default=None, help="Default: unlimited.")
@click.option("--letter-out", type=click.Path(path_type=Path, dir_okay=False), default=None)
@JSON_OPTION
def grant_create_cmd(
    identity: Path,
    gateway: str | None,
    enterprise_key: Path,
    credit_code: str,
    grantee: str,
    categories: tuple[str, ...],
    fields: tuple[str, ...],
    purpose: str,
    days: int,
    max_uses: int | None,
    letter_out: Path | None,
    as_json: bool,
) -> None:
    """Render the 授权书, sign the grant with the enterprise key here, submit it."""
    if not categories and not fields:
        raise click.UsageError("name at least one --category or --field")
    grant = make_grant(
        credit_code=credit_code,
        grantee_node_id=grantee,
        categories=categories,
        fields=fields,
        purpose=Purpose(purpose),
        days=days,
        max_uses=max_uses,
    )
    key = load_signing_key(enterprise_key)
    with AuthzClient(_identity(identity, gateway)) as client:
        letter = client.letter(grant)
        if not as_json:
            click.echo(letter.text)
        if letter_out is not None:
            letter_out.write_text(letter.text, encoding="utf-8")
        response = client.submit(grant, sign_grant(key, grant))
    if as_json:
        print_json(
            {
                "grant_id": response.grant.grant.grant_id,
                "status": _status(response.grant.status),
                "ledger_index": response.ledger_index,
                "letter": letter.text,
            }
        )
        return
    click.echo(
        f"grant {response.grant.grant.grant_id}: {_status(response.grant.status)} "
        f"(ledger index {response.ledger_index})"
    )


@grant_group.command("revoke")
@IDENTITY
@click.option("--grant-id", required=True)
@click.option("--enterprise-key", type=KEY_FILE, default=None, help="Revoke as the enterprise.")
@click.option("--credit-code", default="", help="The grant's enterprise (looked up if omitted).")
@click.option("--reason", default="", help="Required for an administrator's revocation.")
@JSON_OPTION
def grant_revoke_cmd(
    identity: Path,
    gateway: str | None,
    grant_id: str,
    enterprise_key: Path | None,
    credit_code: str,
    reason: str,
    as_json: bool,
) -> None:
    """Revoke a grant: signed by the enterprise, or by an administrator with a reason."""
    with AuthzClient(_identity(identity, gateway)) as client:
        if enterprise_key is not None:
            code = credit_code or client.find_credit_code(grant_id)
            signed = sign_revocation(load_signing_key(enterprise_key), grant_id, code, reason)
            view = client.revoke_signed(signed)
        else:
            if not reason.strip():
                raise click.UsageError("give --enterprise-key, or --reason as an administrator")
            view = client.revoke_as_admin(grant_id, reason)
    if as_json:
        print_json(
            {
                "grant_id": view.grant.grant_id,
                "status": _status(view.status),
                "revoke_reason": view.revoke_reason,
            }
        )
        return
    reason = f" ({view.revoke_reason})" if view.revoke_reason else ""
    click.echo(f"grant {view.grant.grant_id}: {_status(view.status)}{reason}")


@grant_group.command("list")
@IDENTITY
@click.option("--credit-code", default="")
@click.option("--active-only", is_flag=True, help="Hide revoked, expired and used-up grants.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def grant_list_cmd(
    identity: Path, gateway: str | None, credit_code: str, active_only: bool, as_json: bool
) -> None:
    """List grants (an institution sees only the grants made to it)."""
    with AuthzClient(_identity(identity, gateway)) as client:
        views = client.list(credit_code, include_inactive=not active_only)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "grant_id": v.grant.grant_id,
                        "credit_code": v.grant.credit_code,
                        "grantee_node_id": v.grant.grantee_node_id,
                        "categories": list(v.grant.categories),
                        "fields": list(v.grant.fields),
                        "purpose": _purpose_name(v.grant.purpose),
                        "not_before": v.grant.not_before.ToJsonString(),
                        "not_after": v.grant.not_after.ToJsonString(),
                        "max_uses": v.grant.max_uses or None,
                        "uses": v.uses,
                        "status": _status(v.status),
                        "revoke_reason": v.revoke_reason,
                    }
                    for v in views
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    table = Table(title="grants")
    for column in ("grant", "enterprise", "grantee", "scope", "purpose", "until", "uses", "status"):
        table.add_column(column)
    for v in views:
        g = v.grant
        uses = f"{v.uses}/{g.max_uses}" if g.max_uses else str(v.uses)
        table.add_row(
            g.grant_id,
            g.credit_code,
            g.grantee_node_id,
            ",".join([*g.categories, *g.fields]),
            _purpose_name(g.purpose),
            g.not_after.ToJsonString(),
            uses,
            _status(v.status) + (f" ({v.revoke_reason})" if v.revoke_reason else ""),
        )
    data_console().print(table)


def _purpose_name(value: int) -> str:
    return PURPOSE_FROM_WIRE.get(value, "unspecified")


# -- query -----------------------------------------------------------------------------


@click.command("query")
@IDENTITY
@click.option("--enterprise", "credit_code", required=True, help="统一社会信用代码.")
@click.option("--purpose", type=PURPOSES, required=True)
@click.option("--category", "categories", multiple=True, help="Category id (repeat; none = all).")
@click.option(
    "--self-key",
    type=KEY_FILE,
    default=None,
    help="The enterprise's own query: its key signs a fresh statement (platforms only).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def query_cmd(
    identity: Path,
    gateway: str | None,
    credit_code: str,
    purpose: str,
    categories: tuple[str, ...],
    self_key: Path | None,
    as_json: bool,
) -> None:
    """Query an enterprise's data with a declared purpose."""
    key = load_signing_key(self_key) if self_key is not None else None
    with QueryClient(_identity(identity, gateway)) as client:
        response = client.query(credit_code, Purpose(purpose), categories, self_key=key)
    if as_json:
        click.echo(json.dumps(response_json(response), ensure_ascii=False, indent=2))
        return
    for table in response_tables(response):
        data_console().print(table)
    data_console().print(f"trace {response.trace_id} · ledger index {response.ledger_index}")
