"""What the installed command prints for people and scripts: ``--json`` is one JSON
document on stdout, and a table in a pipe is not cut (a node id that ``xinlian admin
admit`` needs comes out whole)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from support.authz_helpers import CODE, NAME, seed_records
from support.harness import Gateway
from support.installed_cli import assert_exit, xinlian

from node_agent import enroll as enrollment
from xinlian_cli.main import cli

pytestmark = pytest.mark.integration

LONG_ID = "department-market-regulation-fuzhou-gulou-district-0123456789"


def _json(*args: str) -> Any:
    result = xinlian(*args)
    assert_exit(result, 0)
    return json.loads(result.stdout)  # the whole of stdout is one document


def test_admin_list_in_a_pipe_shows_whole_node_ids(gateway: Gateway) -> None:
    enrollment.apply(
        gateway.enroll_address,
        gateway.ca_pem,
        name="福州市鼓楼区市场监督管理局（测试用的一个很长的节点名称）",
        kind="department",
        region="350102",
        categories=["registration"],
        requested_id=LONG_ID,
    )
    admin = str(gateway.config.admin_identity)
    result = xinlian("admin", "list", "--identity", admin, "--gateway", gateway.address)
    assert_exit(result, 0)
    assert LONG_ID in result.stdout, result.stdout
    assert "…" not in result.stdout, result.stdout

    listed = _json("admin", "list", "--identity", admin, "--gateway", gateway.address, "--json")
    nodes = {n["node_id"]: n for n in listed["nodes"]}  # type: ignore[attr-defined, index]
    assert nodes[LONG_ID]["state"] == "applied"
    assert nodes[LONG_ID]["categories"] == ["registration"]


def test_node_whoami_and_catalog_print_json(gateway: Gateway) -> None:
    node = gateway.enroll_node("department", categories=("tax",))
    at = ("--identity", str(gateway.tmp / "nodes" / node.node_id), "--gateway", gateway.address)
    me = _json("node", "whoami", *at, "--json")
    assert me["node"]["node_id"] == node.node_id  # type: ignore[index]
    assert me["node"]["state"] == "admitted"  # type: ignore[index]

    remote = _json("catalog", "list", *at, "--json")
    local = _json("catalog", "list", "--local", "--json")
    assert remote == local  # the gateway enforces the packaged catalog here
    assert "tax" in [c["id"] for c in remote["categories"]]  # type: ignore[attr-defined, index]

    tax = _json("catalog", "show", "tax", *at, "--json")["category"]
    fields = {f["name"]: f for f in tax["fields"]}  # type: ignore[index]
    assert fields["tax_credit_rating"]["type"] == "string"
    assert tax["purposes"]  # type: ignore[index]


def test_catalog_show_of_an_unknown_category_is_a_usage_error() -> None:
    result = xinlian("catalog", "show", "no-such-category", "--local")
    assert_exit(result, 2)
    assert result.stdout == ""
    assert "no-such-category" in result.stderr


def test_catalog_without_identity_or_local_is_a_usage_error() -> None:
    assert_exit(xinlian("catalog", "list"), 2)


def test_onboarding_commands_print_json(gateway: Gateway, tmp_path: Path) -> None:
    """apply → admit → enroll → renew → suspend → readmit, each read by a script."""
    ca = tmp_path / "ca.pem"
    ca.write_bytes(gateway.ca_pem)
    admin = ("--identity", str(gateway.config.admin_identity), "--gateway", gateway.address)
    applied = _json(
        "node", "apply", "--gateway", gateway.enroll_address, "--ca", str(ca),
        "--name", "福州市税务局", "--kind", "department", "--region", "350100",
        "--category", "tax", "--id", "tax-fz", "--json",
    )  # fmt: skip
    assert applied["node"]["node_id"] == "tax-fz"  # type: ignore[index]
    assert applied["node"]["state"] == "applied"  # type: ignore[index]
    admitted = _json(
        "admin", "admit", "tax-fz", *admin, "--security", "ok", "--authorization", "ok", "--json"
    )
    token = admitted["enrollment_token"]
    assert isinstance(token, str) and token
    out = tmp_path / "identity"
    enrolled = _json(
        "node", "enroll", "--gateway", gateway.enroll_address, "--token", token,
        "--ca", str(ca), "--out", str(out), "--json",
    )  # fmt: skip
    assert enrolled == {"node_id": "tax-fz", "kind": "department", "identity": str(out)}
    node = ("--identity", str(out), "--gateway", gateway.address)
    assert _json("node", "renew", *node, "--json")["not_after"]
    suspended = _json("admin", "suspend", "tax-fz", *admin, "--reason", "audit", "--json")
    assert suspended["node"]["state"] == "suspended"  # type: ignore[index]
    readmitted = _json("admin", "readmit", "tax-fz", *admin, "--reason", "fixed", "--json")
    assert readmitted["node"]["state"] == "admitted"  # type: ignore[index]


def test_platform_and_operator_commands_print_json(gateway: Gateway, tmp_path: Path) -> None:
    """enterprise keygen|register, grant create|list|revoke, query, agent sample, audit
    export|prune|verify: each read by a script."""
    seed_records(gateway.runtime.store)
    platform = gateway.enroll_node("city_platform", "fz-platform")
    bank = gateway.enroll_node("institution", "bank-a")
    p_at = ("--identity", str(platform.files.root), "--gateway", gateway.address)
    b_at = ("--identity", str(bank.files.root), "--gateway", gateway.address)
    key = tmp_path / "ent.pem"
    keys = _json("enterprise", "keygen", "--out", str(key), "--json")
    assert keys == {"private_key": str(key), "public_key": str(tmp_path / "ent.pub.pem")}
    registered = _json(
        "enterprise", "register", *p_at, "--credit-code", CODE, "--name", NAME,
        "--public-key", keys["public_key"], "--attest-method", "legal_rep_face_match", "--json",
    )  # fmt: skip
    assert (registered["credit_code"], registered["key_version"]) == (CODE, 1)
    created = _json(
        "grant", "create", *p_at, "--enterprise-key", str(key), "--credit-code", CODE,
        "--grantee", "bank-a", "--category", "tax", "--json",
    )  # fmt: skip
    assert created["status"] == "active" and "授权书" in created["letter"]
    assert [g["grant_id"] for g in _json("grant", "list", *b_at, "--json")] == [created["grant_id"]]
    answer = _json(
        "query", *b_at, "--enterprise", CODE, "--purpose", "financing", "--category", "tax",
        "--json",
    )  # fmt: skip
    assert answer["categories"][0]["allowed"]
    revoked = _json(
        "grant", "revoke", *p_at, "--grant-id", created["grant_id"],
        "--enterprise-key", str(key), "--credit-code", CODE, "--json",
    )  # fmt: skip
    assert revoked["status"] == "revoked"

    sample = tmp_path / "tax.jsonl"
    made = _json("agent", "sample", "--category", "tax", "--enterprises", "2", "--out",
                 str(sample), "--json")  # fmt: skip
    assert made["records"] == 6 and sample.exists()

    home = str(gateway.home)
    exported = _json("audit", "export", "--home", home, "--out", str(tmp_path / "x"), "--json")
    assert exported["entries"] > 0
    # seed_records stores records without their batches: verify fails (exit 1), and its
    # JSON still parses
    verified = xinlian("audit", "verify", "--home", home, "--json")
    assert_exit(verified, 1)
    assert json.loads(verified.stdout)["ok"] is False
    assert _json("audit", "checkpoint", "--home", home, "--json")["note"]
    assert _json("gateway", "migrate", "--home", home, "--json")["after"]
    copy = _json("gateway", "backup", "--home", home, "--out", str(tmp_path / "b.db"), "--json")
    assert copy["bytes"] > 0
    pruned = _json("audit", "prune", "--home", home, "--dry-run", "--json")
    assert pruned["dry_run"] is True and pruned["erase_refused"] == []


# Commands without --json, each with why. Everything else that prints data has it.
WITHOUT_JSON = {
    "gateway serve": "runs the gateway; prints logs, not a result",
    "console serve": "runs the web console; prints its sign-in link, not a result",
    "gateway config": "prints JSON always",
    "gateway init": "not yet: its output changes with the config work of issue 15",
}


def _leaves(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaves(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


def test_every_command_has_json_or_a_reason() -> None:
    missing = [
        name
        for name, command in _leaves(cli)
        if name not in WITHOUT_JSON and not any("--json" in p.opts for p in command.params)
    ]
    assert missing == []
