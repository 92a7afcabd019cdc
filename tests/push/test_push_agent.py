"""The agent side: `xinlian agent push` / Pusher over JSONL and CSV, rejects, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from support.harness import Gateway

from authz.catalog import Catalog
from gateway.store import schema
from node_agent.push import Pusher, PushProgress, read_records, state_path_for
from xinlian.exit_codes import CommandExit, ExitCode
from xinlian_cli.main import cli
from xinlian_samples.generator import generate_enterprises, generate_records, write_csv, write_jsonl

pytestmark = pytest.mark.integration

CATALOG = Catalog.default()


def sample(category: str, enterprises: int, per: int, seed: int = 5) -> list:  # type: ignore[type-arg]
    spec = CATALOG.categories[category]
    return [
        r
        for e in generate_enterprises(enterprises, seed)
        for r in generate_records(e, spec, per, seed)
    ]


def stored(gateway: Gateway) -> tuple[int, int]:
    r = schema.records
    return gateway.runtime.store.read(
        lambda conn: (
            conn.execute(select(func.count()).select_from(r)).scalar_one(),
            conn.execute(
                select(func.count()).select_from(
                    select(r.c.source_node_id, r.c.record_id, r.c.version).distinct().subquery()
                )
            ).scalar_one(),
        )
    )


def test_jsonl_with_rejects_file(gateway: Gateway, tmp_path: Path) -> None:
    tax = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    records = sample("tax", 6, 4)
    path = tmp_path / "tax.jsonl"
    write_jsonl(records, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[5])
    bad["credit_code"] = bad["credit_code"][:17] + ("0" if bad["credit_code"][17] != "0" else "1")
    lines[5] = json.dumps(bad, ensure_ascii=False)
    lines.insert(9, "{not json")
    other = json.loads(lines[12])
    other["category"] = "judicial"
    lines[12] = json.dumps(other, ensure_ascii=False)
    number = json.loads(lines[15])
    number["fields"]["total_tax_paid"] = 12.5  # a JSON number: sent as its text "12.5"
    lines[15] = json.dumps(number, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"
    seen: list[PushProgress] = []

    summary = Pusher(tax).push_file(
        path, "tax", rejects_path=rejects, batch_size=7, progress=seen.append
    )
    assert summary.records_total == len(records) + 1
    assert summary.batches_total == 4
    assert summary.rejected == 3
    assert summary.accepted == len(records) - 2
    assert stored(gateway) == (len(records) - 2, len(records) - 2)
    assert seen[-1].batches_done == 4
    out = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    by_reason = {o["reason_code"]: o for o in out}
    assert set(by_reason) == {"BAD_CREDIT_CODE", "MALFORMED_INPUT", "CATEGORY_MISMATCH"}
    assert by_reason["BAD_CREDIT_CODE"]["record_id"] == bad["record_id"]
    assert by_reason["BAD_CREDIT_CODE"]["fields"] == bad["fields"]  # the original record
    assert by_reason["BAD_CREDIT_CODE"]["message"].startswith("credit_code:")
    assert by_reason["MALFORMED_INPUT"]["input"] == "{not json"


def test_csv(gateway: Gateway, tmp_path: Path) -> None:
    dept = gateway.enroll_node("department", "si-dept", categories=("social_insurance",))
    spec = CATALOG.categories["social_insurance"]
    records = sample("social_insurance", 5, 3)
    path = tmp_path / "si.csv"
    write_csv(records, spec, path)
    text = path.read_text(encoding="utf-8").splitlines()
    row = text[3].split(",")
    header = text[0].split(",")
    row[header.index("insured_headcount")] = "many"
    text[3] = ",".join(row)
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    parsed = list(read_records(path, "social_insurance"))
    assert all("" not in p.record.fields.values() for p in parsed if p.record)  # empty = absent
    rejects = tmp_path / "rejects.jsonl"
    summary = Pusher(dept).push_file(path, "social_insurance", rejects_path=rejects, batch_size=4)
    assert (summary.accepted, summary.rejected) == (len(records) - 1, 1)
    [reject] = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert reject["reason_code"] == "WRONG_TYPE"
    assert reject["insured_headcount"] == "many"  # the original CSV row


class Interrupt(Exception):
    pass


def test_resume_skips_acknowledged_batches(gateway: Gateway, tmp_path: Path) -> None:
    tax = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    records = sample("tax", 10, 5)
    path = tmp_path / "tax.jsonl"
    write_jsonl(records, path)

    def stop_after_two(report: PushProgress) -> None:
        if report.batches_done == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        Pusher(tax, window=2).push_file(path, "tax", batch_size=10, progress=stop_after_two)
    state = json.loads(state_path_for(path).read_text())
    assert state["acked"] == [0, 1]

    summary = Pusher(tax).push_file(path, "tax", batch_size=10)
    assert summary.batches_skipped == 2
    assert summary.batches_sent == 3
    assert summary.accepted + summary.duplicates == 30
    assert stored(gateway) == (50, 50)
    assert json.loads(state_path_for(path).read_text())["acked"] == [0, 1, 2, 3, 4]

    # a complete run again: nothing left to send
    again = Pusher(tax).push_file(path, "tax", batch_size=10)
    assert (again.batches_skipped, again.batches_sent) == (5, 0)
    # --no-resume sends everything again: all duplicates, nothing changes
    fresh = Pusher(tax).push_file(path, "tax", batch_size=10, resume=False)
    assert (fresh.batches_sent, fresh.duplicates, fresh.accepted) == (5, 50, 0)
    assert stored(gateway) == (50, 50)


def test_resume_after_crash_writes_each_reject_once(gateway: Gateway, tmp_path: Path) -> None:
    """A crash after a batch's rejects reached the rejects file but before its
    acknowledgement was recorded: the resumed run sends that batch again and its
    rejects must not appear twice."""
    tax = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    lines = [json.dumps(r.to_json(), ensure_ascii=False) for r in sample("tax", 4, 5)]
    for i in (2, 9, 16):  # one bad credit code in each of batches 0, 1 and 2
        bad = json.loads(lines[i])
        bad["credit_code"] = bad["credit_code"][:17] + (
            "0" if bad["credit_code"][17] != "0" else "1"
        )
        lines[i] = json.dumps(bad, ensure_ascii=False)
    lines.insert(12, "{not json")  # batch 1 also has a local reject
    path = tmp_path / "tax.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reference = tmp_path / "reference.jsonl"
    Pusher(tax).push_file(path, "tax", rejects_path=reference, batch_size=7, resume=False)
    want = reference.read_text(encoding="utf-8")
    assert len(want.splitlines()) == 4

    # the crash: batch 0 recorded, and the rejects of the later batches already written
    rejects = tmp_path / "rejects.jsonl"

    def stop_after_first(report: PushProgress) -> None:
        if report.batches_done == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        Pusher(tax).push_file(
            path,
            "tax",
            rejects_path=rejects,
            batch_size=7,
            resume=False,
            progress=stop_after_first,
        )
    state = json.loads(state_path_for(path).read_text())
    assert state["acked"] == [0]
    assert state["rejects_bytes"] == len(want.splitlines()[0].encode("utf-8")) + 1
    rejects.write_text(want, encoding="utf-8")

    summary = Pusher(tax).push_file(path, "tax", rejects_path=rejects, batch_size=7)
    assert summary.batches_skipped == 1
    assert rejects.read_text(encoding="utf-8") == want


def test_cli_sample_and_push(gateway: Gateway, tmp_path: Path) -> None:
    dept = gateway.enroll_node("department", "court-dept", categories=("judicial",))
    runner = CliRunner()
    out = tmp_path / "judicial.jsonl"
    result = runner.invoke(
        cli,
        [
            "agent",
            "sample",
            "--category",
            "judicial",
            "--enterprises",
            "4",
            "--records-per",
            "3",
            "--out",
            str(out),
            "--seed",
            "9",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_text(encoding="utf-8").splitlines()) == 12
    result = runner.invoke(
        cli,
        [
            "agent",
            "push",
            "--identity",
            str(dept.files.root),
            "--gateway",
            gateway.address,
            "--category",
            "judicial",
            str(out),
            "--rejects",
            str(tmp_path / "r.jsonl"),
            "--batch-size",
            "5",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert (summary["accepted"], summary["rejected"], summary["batches_sent"]) == (12, 0, 3)

    # pushing a category the department is not responsible for fails with the reason
    other = tmp_path / "tax.jsonl"
    runner.invoke(cli, ["agent", "sample", "--category", "tax", "--out", str(other)])
    result = runner.invoke(
        cli,
        [
            "agent",
            "push",
            "--identity",
            str(dept.files.root),
            "--gateway",
            gateway.address,
            "--category",
            "tax",
            str(other),
        ],
    )
    assert isinstance(result.exception, CommandExit)
    assert result.exception.code == ExitCode.DENIED
    assert "CATEGORY_NOT_RESPONSIBLE" in result.output
