"""The push agent on real-world bad input: every record ends sent or rejected with its
line and reason, the exit status says which (0 all accepted, 5 some rejected, 2 bad
options or input), and what the agent reports as acknowledged is what the gateway
stored. The exit-status cases run the installed ``xinlian`` command."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.harness import Gateway

from authz.catalog import Catalog
from authz.records import MAX_FIELD_VALUE_LEN
from gateway.store import schema
from node_agent import push as push_module
from node_agent.push import (
    MAX_BATCH_BYTES,
    MAX_BATCH_SIZE,
    Pusher,
    PushFailed,
    PushInputError,
    state_path_for,
)
from xinlian.exit_codes import ExitCode
from xinlian.identity import Identity
from xinlian_samples.generator import generate_enterprises, generate_records, write_csv, write_jsonl

pytestmark = pytest.mark.integration

CATALOG = Catalog.default()
XINLIAN = Path(sys.executable).parent / "xinlian"


def sample(category: str, enterprises: int, per: int, seed: int = 11) -> list[Any]:
    spec = CATALOG.categories[category]
    return [
        r
        for e in generate_enterprises(enterprises, seed)
        for r in generate_records(e, spec, per, seed)
    ]


def jsonl_lines(records: list[Any]) -> list[str]:
    return [json.dumps(r.to_json(), ensure_ascii=False) for r in records]


def stored_keys(gateway: Gateway, node_id: str) -> list[tuple[str, int]]:
    r = schema.records
    rows = gateway.runtime.store.read(
        lambda conn: conn.execute(
            select(r.c.record_id, r.c.version).where(r.c.source_node_id == node_id)
        ).all()
    )
    return [(row[0], int(row[1])) for row in rows]


def push_cli(
    gateway: Gateway, dept: Identity, path: Path, *extra: str, category: str = "tax"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(XINLIAN),
            "agent",
            "push",
            "--identity",
            str(dept.files.root),
            "--gateway",
            gateway.address,
            "--category",
            category,
            str(path),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "COLUMNS": "200"},
    )


def summary_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def rejects_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_clean_error(result: subprocess.CompletedProcess[str]) -> None:
    """No traceback, and no advice to resume where resuming cannot help."""
    assert "Traceback" not in result.stderr, result.stderr
    assert "resume" not in result.stderr, result.stderr
    assert "Exception iterating requests" not in result.stderr, result.stderr


def test_huge_field_value_is_rejected_locally(gateway: Gateway, tmp_path: Path) -> None:
    """A 50 MiB value (the gateway would say VALUE_TOO_LONG) never makes a message too
    large: rejected here with its line, the rest stored, exit 5."""
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    lines = jsonl_lines(sample("tax", 4, 5))
    huge = json.loads(lines[7])
    huge["fields"]["taxpayer_type"] = "x" * (50 * 1024 * 1024)
    lines[7] = json.dumps(huge, ensure_ascii=False)
    path = tmp_path / "tax.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"

    result = push_cli(gateway, dept, path, "--rejects", str(rejects), "--json")
    assert result.returncode == ExitCode.REJECTED, result.stderr
    assert_clean_error(result)
    summary = summary_of(result)
    assert (summary["accepted"], summary["rejected"]) == (19, 1)
    assert "1 of 20 records rejected" in result.stderr
    keys = stored_keys(gateway, "tax-dept")
    assert len(keys) == len(set(keys)) == 19
    assert (huge["record_id"], 1) not in keys
    [reject] = rejects_of(rejects)
    assert reject["line"] == 8
    assert reject["reason_code"] == "VALUE_TOO_LONG"
    assert reject["message"] == (
        f"fields.taxpayer_type: got {50 * 1024 * 1024} characters, want ≤ {MAX_FIELD_VALUE_LEN}"
    )


def test_large_valid_records_are_split_below_the_message_limit(
    gateway: Gateway, tmp_path: Path
) -> None:
    """Records within every limit but together over the message limit (long Chinese
    texts): the batch is cut early, every record stored."""
    dept = gateway.enroll_node("department", "court-dept", categories=("judicial",))
    records = [r.to_json() for r in sample("judicial", 300, 5)]
    for record in records:
        record["fields"]["case_cause"] = "合同纠纷" * (MAX_FIELD_VALUE_LEN // 4)
    path = tmp_path / "judicial.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    assert path.stat().st_size > MAX_BATCH_BYTES
    summary = Pusher(dept).push_file(path, "judicial", batch_size=MAX_BATCH_SIZE)
    assert (summary.accepted, summary.rejected) == (1500, 0)
    assert summary.batches_sent == summary.batches_total == 2
    assert len(set(stored_keys(gateway, "court-dept"))) == 1500


def test_gbk_file_is_a_usage_error(gateway: Gateway, tmp_path: Path) -> None:
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    path = tmp_path / "tax-gbk.jsonl"
    path.write_bytes(("\n".join(jsonl_lines(sample("tax", 3, 4))) + "\n").encode("gbk"))

    result = push_cli(gateway, dept, path)
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert_clean_error(result)
    assert "no record is UTF-8" in result.stderr
    assert "line 1:" in result.stderr
    assert stored_keys(gateway, "tax-dept") == []


def test_gbk_from_line_1501(gateway: Gateway, tmp_path: Path) -> None:
    """Lines 1501.. are GBK: the 1500 before are stored and reported acknowledged, each
    GBK line is a reject naming its line, and a re-run duplicates nothing."""
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    lines = jsonl_lines(sample("tax", 500, 5))
    assert len(lines) == 2500
    path = tmp_path / "tax.jsonl"
    path.write_bytes(
        ("\n".join(lines[:1500]) + "\n").encode("utf-8")
        + ("\n".join(lines[1500:]) + "\n").encode("gbk")
    )
    rejects = tmp_path / "rejects.jsonl"

    result = push_cli(gateway, dept, path, "--rejects", str(rejects), "--json")
    assert result.returncode == ExitCode.REJECTED, result.stderr
    assert_clean_error(result)
    summary = summary_of(result)
    keys = stored_keys(gateway, "tax-dept")
    assert summary["accepted"] == len(keys) == len(set(keys)) == 1500
    assert summary["rejected"] == 1000
    assert summary["records"] == 2500
    out = rejects_of(rejects)
    assert [o["line"] for o in out] == list(range(1501, 2501))
    assert {o["reason_code"] for o in out} == {"MALFORMED_INPUT"}
    assert out[0]["message"].startswith("line 1501: got byte 0x")
    assert "UTF-8" in out[0]["message"]
    assert json.loads(state_path_for(path).read_text())["acked"] == [0, 1, 2]

    again = push_cli(gateway, dept, path, "--rejects", str(rejects), "--json")
    assert again.returncode == ExitCode.REJECTED, again.stderr
    second = summary_of(again)
    assert (second["batches_sent"], second["accepted"], second["duplicates"]) == (0, 0, 0)
    assert second["rejected_earlier"] == 1000
    after = stored_keys(gateway, "tax-dept")
    assert len(after) == len(set(after)) == 1500
    assert len(rejects_of(rejects)) == 1000


def test_input_error_midway_keeps_acknowledgements_right(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading fails in the middle of a batch: the batches already sent are answered and
    recorded before the error is reported; a resume continues after them."""
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    path = tmp_path / "tax.jsonl"
    write_jsonl(sample("tax", 10, 5), path)
    real = push_module.read_records

    def failing(*args: Any, **kwargs: Any) -> Any:
        for item in real(*args, **kwargs):
            if item.number == 25:
                raise OSError("the disk went away")
            yield item

    monkeypatch.setattr(push_module, "read_records", failing)
    with pytest.raises(PushFailed) as failed:
        Pusher(dept, window=4).push_file(path, "tax", batch_size=10)
    assert failed.value.code == "INPUT"
    assert not failed.value.resumable
    assert failed.value.acknowledged == 2
    assert len(stored_keys(gateway, "tax-dept")) == 20
    assert json.loads(state_path_for(path).read_text())["acked"] == [0, 1]

    monkeypatch.setattr(push_module, "read_records", real)
    summary = Pusher(dept).push_file(path, "tax", batch_size=10)
    assert (summary.batches_skipped, summary.accepted, summary.duplicates) == (2, 30, 0)
    keys = stored_keys(gateway, "tax-dept")
    assert len(keys) == len(set(keys)) == 50


def test_deeply_nested_line(gateway: Gateway, tmp_path: Path) -> None:
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    lines = jsonl_lines(sample("tax", 2, 5))
    lines.insert(4, "[" * (1024 * 1024))
    path = tmp_path / "tax.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"

    result = push_cli(gateway, dept, path, "--rejects", str(rejects), "--json")
    assert result.returncode == ExitCode.REJECTED, result.stderr
    assert_clean_error(result)
    assert (summary_of(result)["accepted"], summary_of(result)["rejected"]) == (10, 1)
    [reject] = rejects_of(rejects)
    assert (reject["line"], reject["reason_code"]) == (5, "MALFORMED_INPUT")
    assert "nested too deeply" in reject["message"]
    assert len(set(stored_keys(gateway, "tax-dept"))) == 10


def test_csv_without_header(gateway: Gateway, tmp_path: Path) -> None:
    dept = gateway.enroll_node("department", "si-dept", categories=("social_insurance",))
    path = tmp_path / "si.csv"
    write_csv(sample("social_insurance", 3, 2), CATALOG.categories["social_insurance"], path)
    path.write_text(
        "".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[1:]),
        encoding="utf-8",
    )

    result = push_cli(gateway, dept, path, category="social_insurance")
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert_clean_error(result)
    assert "header lacks credit_code, record_id, version, event_time" in result.stderr
    assert "line 1" in result.stderr
    assert stored_keys(gateway, "si-dept") == []


def test_csv_row_errors_name_their_line(gateway: Gateway, tmp_path: Path) -> None:
    """A row with a cell count other than the header's, a row that is not UTF-8, a
    blank row: each handled on its own line, the others stored."""
    dept = gateway.enroll_node("department", "si-dept", categories=("social_insurance",))
    spec = CATALOG.categories["social_insurance"]
    path = tmp_path / "si.csv"
    write_csv(sample("social_insurance", 4, 2), spec, path)
    rows = path.read_bytes().splitlines(keepends=True)
    rows[3] = rows[3].rstrip(b"\r\n") + b",extra\r\n"
    rows[5] = rows[5].decode("utf-8").encode("gbk")
    rows.insert(7, "\u3000,\r\n".encode())
    path.write_bytes(b"".join(rows))
    rejects = tmp_path / "rejects.jsonl"
    summary = Pusher(dept).push_file(path, "social_insurance", rejects_path=rejects)
    assert (summary.records_total, summary.accepted, summary.rejected) == (8, 6, 2)
    out = rejects_of(rejects)
    assert [(o["line"], o["reason_code"]) for o in out] == [
        (4, "MALFORMED_INPUT"),
        (6, "MALFORMED_INPUT"),
    ]
    columns = len(rows[0].split(b","))
    assert f"got {columns + 1} cells, want {columns} (the header's)" in out[0]["message"]
    assert out[0]["extra_cells"] == ["extra"]
    assert "UTF-8" in out[1]["message"]
    assert "\\x" in out[1]["input"]  # the bytes that are not UTF-8, escaped
    assert len(set(stored_keys(gateway, "si-dept"))) == 6


def test_utf8_bom(gateway: Gateway, tmp_path: Path) -> None:
    dept = gateway.enroll_node("department", "dept", categories=("tax", "social_insurance"))
    records = sample("tax", 2, 3)
    path = tmp_path / "tax.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(jsonl_lines(records)) + "\n").encode())
    result = push_cli(gateway, dept, path, "--json")
    assert result.returncode == ExitCode.OK, result.stderr
    assert (summary_of(result)["accepted"], summary_of(result)["rejected"]) == (6, 0)
    assert (records[0].record_id, 1) in stored_keys(gateway, "dept")

    csv_path = tmp_path / "si.csv"
    write_csv(sample("social_insurance", 2, 2), CATALOG.categories["social_insurance"], csv_path)
    csv_path.write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes())
    summary = Pusher(dept).push_file(csv_path, "social_insurance")
    assert (summary.accepted, summary.rejected) == (4, 0)


@pytest.mark.parametrize(
    ("option", "value", "shown"),
    [
        ("--batch-size", "0", "1<=x<=5000"),
        ("--batch-size", "100000", "1<=x<=5000"),
        ("--window", "0", "1<=x<=64"),
        ("--category", "taxes", "want one of admin_license"),
    ],
)
def test_bad_options_are_usage_errors(
    gateway: Gateway, tmp_path: Path, option: str, value: str, shown: str
) -> None:
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    path = tmp_path / "tax.jsonl"
    write_jsonl(sample("tax", 2, 2), path)
    args = [option, value]
    category = value if option == "--category" else "tax"
    if option == "--category":
        args = []
    result = push_cli(gateway, dept, path, *args, category=category)
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert_clean_error(result)
    assert shown in result.stderr
    assert stored_keys(gateway, "tax-dept") == []


def test_unknown_category_in_the_library(gateway: Gateway, tmp_path: Path) -> None:
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    path = tmp_path / "tax.jsonl"
    write_jsonl(sample("tax", 1, 2), path)
    with pytest.raises(PushInputError, match="want one of admin_license"):
        Pusher(dept).push_file(path, "taxes")


def test_whitespace_only_lines_are_not_records(gateway: Gateway, tmp_path: Path) -> None:
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    lines = jsonl_lines(sample("tax", 2, 5))
    lines.insert(3, "\u3000")
    lines.insert(6, " \t\u3000 ")
    lines.insert(8, "")
    path = tmp_path / "tax.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = push_cli(gateway, dept, path, "--json", "--batch-size", "4")
    assert result.returncode == ExitCode.OK, result.stderr
    summary = summary_of(result)
    assert (summary["records"], summary["accepted"], summary["rejected"]) == (10, 10, 0)
    assert summary["batches"] == summary["batches_sent"] == 3
    assert len(set(stored_keys(gateway, "tax-dept"))) == 10


def test_every_record_rejected_exits_5(gateway: Gateway, tmp_path: Path) -> None:
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    out = []
    for record in sample("tax", 2, 3):
        obj = record.to_json()
        code = obj["credit_code"]
        obj["credit_code"] = code[:17] + ("0" if code[17] != "0" else "1")
        out.append(json.dumps(obj, ensure_ascii=False))
    path = tmp_path / "tax.jsonl"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    result = push_cli(gateway, dept, path)
    assert result.returncode == ExitCode.REJECTED, result.stderr
    assert_clean_error(result)
    assert "6 of 6 records rejected" in result.stderr
    assert "--rejects FILE" in result.stderr
    assert stored_keys(gateway, "tax-dept") == []


def test_refused_category_exits_denied_without_resume_advice(
    gateway: Gateway, tmp_path: Path
) -> None:
    dept = gateway.enroll_node("department", "court-dept", categories=("judicial",))
    path = tmp_path / "tax.jsonl"
    write_jsonl(sample("tax", 1, 2), path)
    result = push_cli(gateway, dept, path)
    assert result.returncode == ExitCode.DENIED, result.stderr
    assert "CATEGORY_NOT_RESPONSIBLE" in result.stderr
    assert_clean_error(result)


def test_gateway_gone_advises_resume(gateway: Gateway, tmp_path: Path) -> None:
    dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
    path = tmp_path / "tax.jsonl"
    write_jsonl(sample("tax", 1, 2), path)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{sock.getsockname()[1]}"
    result = subprocess.run(
        [
            str(XINLIAN),
            "agent",
            "push",
            "--identity",
            str(dept.files.root),
            "--gateway",
            nowhere,
            "--category",
            "tax",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == ExitCode.UNREACHABLE, result.stderr
    assert "run the same command again to resume" in result.stderr
    assert "Traceback" not in result.stderr


def test_csv_reader_counts_like_the_scan(tmp_path: Path) -> None:
    """The record total comes from the same reading as the records themselves."""
    spec = CATALOG.categories["social_insurance"]
    path = tmp_path / "si.csv"
    write_csv(sample("social_insurance", 3, 2), spec, path)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows.insert(2, ["\u3000"])
    rows.insert(4, [])
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    scan = push_module.scan_file(path, "social_insurance")
    records = list(push_module.read_records(path, "social_insurance"))
    assert scan.records == len(records) == 6
    assert all(r.record is not None for r in records)
