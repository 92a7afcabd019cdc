"""``xinlian report monthly`` through the installed command against a real gateway: the
HTML report (月度通报, charts embedded as PNG drawn with a CJK font: pytest turns
matplotlib's missing-glyph warning into an error), the CSV tables equal to the
statistics, ``--json``, and the exit codes of a bad month, a bank, a year without a
calendar."""

from __future__ import annotations

import base64
import csv
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.harness import Gateway, running_gateway
from support.installed_cli import assert_exit, xinlian

from authz.catalog import Catalog
from node_agent.push import Pusher
from node_agent.report_html import CJK_PACKAGE, CjkFontMissing, cjk_font, render
from node_agent.statistics import StatisticsClient, to_document
from xinlian.batch import BatchRecord
from xinlian.clock import FakeClock
from xinlian.v1 import exchange_pb2_grpc
from xinlian.workdays import SHANGHAI
from xinlian_samples.generator import generate_enterprises, generate_records

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 20, 10, 0, tzinfo=SHANGHAI)
PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    """An officer, a bank and a department that pushed one late and one timely penalty."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with running_gateway(tmp_path, clock=clock) as gateway:
        amr = gateway.enroll_node("department", "amr-fj", categories=("admin_penalty",))
        gateway.enroll_node("officer", "officer-1")
        gateway.enroll_node("institution", "bank-a")
        clock.set(NOW)
        category = Catalog.default().categories["admin_penalty"]
        batch = []
        for i, (enterprise, event) in enumerate(
            zip(
                generate_enterprises(2, seed=3),
                (NOW - timedelta(days=1), NOW - timedelta(days=20)),
                strict=True,
            )
        ):
            sample = generate_records(enterprise, category, 1, seed=3)[0]
            batch.append(BatchRecord(sample.credit_code, f"pen-{i}", 1, event, dict(sample.fields)))
        with amr.channel() as channel:
            stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
            list(
                stub.Push(
                    iter([Pusher(amr).make_request("b-1", "admin_penalty", batch)]), timeout=60
                )
            )
        yield gateway


def identity(gw: Gateway, node: str) -> list[str]:
    return ["--identity", str(gw.tmp / "nodes" / node), "--gateway", gw.address]


def test_report_monthly_writes_html_csv_and_json(gw: Gateway, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = xinlian(
        "report", "monthly", *identity(gw, "officer-1"), "--month", "2025-03", "--out", str(out)
    )
    assert_exit(result, 0)
    assert str(out / "report.html") in result.stdout

    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<title>月度通报 2025-03</title>" in page and "<h1>月度通报 2025-03</h1>" in page
    images = PNG.findall(page)
    assert len(images) >= 1
    for image in images:
        assert base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n")
    assert "http://" not in page and "https://" not in page  # self-contained

    document = json.loads((out / "statistics.json").read_text(encoding="utf-8"))
    for item in document["tables"]:
        with (out / f"{item['name']}.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == [c["name"] for c in item["columns"]]
        assert rows[1:] == item["rows"]
    pushes = next(t for t in document["tables"] if t["name"] == "department_categories")
    [row] = pushes["rows"]
    names = [c["name"] for c in pushes["columns"]]
    assert dict(zip(names, row, strict=True))["late"] == "1"

    as_json = xinlian(
        "report", "monthly", *identity(gw, "officer-1"), "--month", "2025-03", "--json"
    )
    assert_exit(as_json, 0)
    printed = json.loads(as_json.stdout)
    assert printed["tables"] == document["tables"]
    assert printed["ledger_index"] > document["ledger_index"]  # each call is an entry


def test_report_monthly_exit_codes(gw: Gateway, tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    officer = identity(gw, "officer-1")
    for bad in ("2025-13", "March", "2025-3"):
        result = xinlian("report", "monthly", *officer, "--month", bad, "--out", out)
        assert_exit(result, 2)
        assert result.stderr.strip().splitlines() == [
            f"error: --month: got {bad!r}, want YYYY-MM (e.g. 2025-03)"
        ]
    result = xinlian("report", "monthly", *officer, "--month", "2025-03")
    assert_exit(result, 2)
    refused = xinlian(
        "report", "monthly", *identity(gw, "bank-a"), "--month", "2025-03", "--out", out
    )
    assert_exit(refused, 4)
    assert "PERMISSION_DENIED" in refused.stderr
    beyond = xinlian("report", "monthly", *officer, "--month", "2027-01", "--out", out)
    assert_exit(beyond, 6)
    [line] = beyond.stderr.strip().splitlines()
    assert "no working-day calendar for 2027" in line and "CALENDAR_YEAR_UNKNOWN" in line
    assert not Path(out).exists()


def test_without_a_cjk_font_the_error_names_the_package(gw: Gateway) -> None:
    with pytest.raises(CjkFontMissing) as err:
        cjk_font(installed=["DejaVu Sans", "Liberation Serif"])
    assert f"apt-get install -y {CJK_PACKAGE}" in str(err.value)
    with StatisticsClient(gw.admin()) as client:
        document = to_document(client.monthly("2025-03"))
    page = render(document, cjk_font())  # the font of this machine: no missing glyph
    assert "及时率" in page
