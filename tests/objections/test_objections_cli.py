"""The installed ``xinlian`` command: a platform files, the department answers, exit
codes for a refusal (another department) and a usage error."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.authz_helpers import CODE, make_world, seed_records
from support.harness import running_gateway
from support.installed_cli import assert_exit, xinlian

from xinlian.clock import FakeClock
from xinlian.exit_codes import ExitCode
from xinlian.workdays import SHANGHAI

pytestmark = pytest.mark.integration


def test_file_list_answer_through_the_command(tmp_path: Path) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with running_gateway(tmp_path, clock=clock) as gw:
        seed_records(gw.runtime.store)
        world = make_world(gw, tmp_path)
        tax = gw.enroll_node("department", "tax-dept", categories=("tax",))
        court = gw.enroll_node("department", "court-dept", categories=("judicial",))
        clock.set(datetime(2025, 10, 11, 9, 0, tzinfo=SHANGHAI))
        evidence = tmp_path / "完税证明.pdf"
        evidence.write_bytes(b"%PDF-1.4 tax cleared")
        platform = ("--identity", str(world.platform.files.root), "--gateway", gw.address)
        filed = xinlian(
            "objection", "file", *platform,
            "--enterprise-key", str(world.key_path),
            "--credit-code", CODE,
            "--source", "tax-dept",
            "--record", "tax-1",
            "--version", "1",
            "--field", "tax_credit_rating",
            "--claim", "欠税已缴清",
            "--evidence", str(evidence),
            "--received-at", "2025-09-30T10:00:00+08:00",
        )  # fmt: skip
        assert_exit(filed, ExitCode.OK)
        assert "forwarded late" in filed.stdout
        objection_id = filed.stdout.split()[1].rstrip(":")
        dept = ("--identity", str(tax.files.root), "--gateway", gw.address)
        inbox = xinlian("agent", "objections", "list", *dept, "--json")
        assert_exit(inbox, ExitCode.OK)
        (view,) = json.loads(inbox.stdout)
        assert view["objection_id"] == objection_id and view["forwarded_late"]
        assert view["evidence_sha256"] and view["record"] == ["tax-dept", "tax-1", 1]
        other = ("--identity", str(court.files.root), "--gateway", gw.address)
        refused = xinlian(
            "agent", "objections", "answer", *other, objection_id, "--answer", "upheld",
            "--reason", "x",
        )  # fmt: skip
        assert_exit(refused, ExitCode.DENIED)
        assert "NOT_RECORD_SOURCE" in refused.stderr
        assert_exit(
            xinlian("agent", "objections", "answer", *dept, objection_id, "--answer", "maybe"),
            ExitCode.USAGE,
        )
        answered = xinlian(
            "agent", "objections", "answer", *dept, objection_id, "--answer", "upheld",
            "--reason", "经核实无误",
        )  # fmt: skip
        assert_exit(answered, ExitCode.OK)
        assert f"objection {objection_id}: upheld" in answered.stdout
        shown = xinlian("objection", "show", *platform, objection_id)
        assert_exit(shown, ExitCode.OK)
        assert json.loads(shown.stdout)["answer_reason"] == "经核实无误"
