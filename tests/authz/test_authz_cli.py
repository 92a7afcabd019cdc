"""`xinlian enterprise|grant|query` against a real gateway."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.authz_helpers import CODE, NAME, seed_records
from support.harness import Gateway

from authz.catalog import Catalog
from xinlian_cli.main import cli

DERIVED_TAX = {f.name for f in Catalog.default().categories["tax"].fields if f.derived}

pytestmark = pytest.mark.integration
ADDRESS = [""]


def _run(*args: str) -> str:
    if "--identity" in args:
        args = (*args, "--gateway", ADDRESS[0])
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_grant_query_revoke(gateway: Gateway, tmp_path: Path) -> None:
    ADDRESS[0] = gateway.address
    seed_records(gateway.runtime.store)
    platform = gateway.enroll_node("city_platform", "fz-platform")
    bank = gateway.enroll_node("institution", "bank-a")
    key = tmp_path / "ent.pem"
    _run("enterprise", "keygen", "--out", str(key))
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    pub = tmp_path / "ent.pub.pem"
    p_dir, b_dir = str(platform.files.root), str(bank.files.root)
    out = _run(
        "enterprise", "register", "--identity", p_dir, "--credit-code", CODE, "--name", NAME,
        "--public-key", str(pub), "--attest-method", "legal_rep_face_match",
        "--evidence", "case-7",
    )  # fmt: skip
    assert "registered" in out and CODE in out
    letter = tmp_path / "letter.txt"
    out = _run(
        "grant", "create", "--identity", p_dir, "--enterprise-key", str(key),
        "--credit-code", CODE, "--grantee", "bank-a", "--category", "tax",
        "--max-uses", "10", "--letter-out", str(letter),
    )  # fmt: skip
    assert "企业信用信息查询授权书" in out and "active" in out
    assert "最多 10 次" in letter.read_text(encoding="utf-8")
    listed = json.loads(_run("grant", "list", "--identity", b_dir, "--json"))
    assert [(g["grantee_node_id"], g["status"], g["max_uses"]) for g in listed] == [
        ("bank-a", "active", 10)
    ]
    grant_id = listed[0]["grant_id"]
    answer = json.loads(
        _run(
            "query",
            "--identity",
            b_dir,
            "--enterprise",
            CODE,
            "--purpose",
            "financing",
            "--category",
            "tax",
            "--json",
        )
    )
    tax = answer["categories"][0]
    assert tax["allowed"] and tax["grant_id"] == grant_id
    # raw detail masked; only the derived fields (纳税信用等级 …) as is
    kept = {f["name"] for f in tax["records"][0]["fields"] if f["mask"] == "keep"}
    assert kept and kept <= DERIVED_TAX
    table = _run(
        "query", "--identity", b_dir, "--enterprise", CODE, "--purpose", "financing",
        "--category", "tax", "--category", "registration",
    )  # fmt: skip
    assert "range:100000" in table and "ledger index" in table
    out = _run(
        "grant", "revoke", "--identity", p_dir, "--grant-id", grant_id,
        "--enterprise-key", str(key), "--reason", "不再需要",
    )  # fmt: skip
    assert "revoked" in out
    table = _run(
        "query", "--identity", b_dir, "--enterprise", CODE, "--purpose", "financing",
        "--category", "tax",
    )  # fmt: skip
    assert "GRANT_REVOKED" in table
    own = json.loads(
        _run(
            "query",
            "--identity",
            p_dir,
            "--enterprise",
            CODE,
            "--purpose",
            "financing",
            "--category",
            "tax",
            "--self-key",
            str(key),
            "--json",
        )
    )
    assert {f["mask"] for f in own["categories"][0]["records"][0]["fields"]} == {"keep"}
