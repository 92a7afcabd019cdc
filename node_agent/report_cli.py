"""``xinlian report monthly``: the monthly report (月度通报) of an officer or administrator.

    xinlian report monthly --identity DIR --month YYYY-MM --out DIR [--json]

Writes ``report.html`` (titled 月度通报, charts embedded), one CSV file per table and
``statistics.json`` (the same document ``--json`` prints) into ``--out``. The request is
an ``audit.search`` entry on the gateway's ledger (docs/report.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from node_agent.cli import JSON_OPTION, identity_options
from node_agent.report_html import TITLE, CjkFontMissing, cjk_font, render
from node_agent.statistics import StatisticsClient, to_document, valid_month, write_csv
from xinlian.console import print_json
from xinlian.exit_codes import CommandExit, ExitCode
from xinlian.identity import Identity

IDENTITY = identity_options("An officer's or administrator's identity directory.")
REPORT_FILE = "report.html"
JSON_FILE = "statistics.json"


@click.group("report")
def report_group() -> None:
    """Reports on how data is shared and used (月度通报)."""


@report_group.command("monthly")
@IDENTITY
@click.option("--month", required=True, help="The month, YYYY-MM (Asia/Shanghai).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory for report.html, the CSV tables and statistics.json.",
)
@JSON_OPTION
def monthly_cmd(
    identity: Path, gateway: str | None, month: str, out: Path | None, as_json: bool
) -> None:
    """The month's statistics from the gateway, as an HTML report with charts and CSV."""
    if not valid_month(month):
        raise CommandExit(
            ExitCode.USAGE, f"error: --month: got {month!r}, want YYYY-MM (e.g. 2025-03)"
        )
    if out is None and not as_json:
        raise CommandExit(ExitCode.USAGE, "error: --out: give a directory (or --json)")
    family = None
    if out is not None:
        try:
            family = cjk_font()
        except CjkFontMissing as exc:
            raise CommandExit(ExitCode.FAILED, f"error: {exc}") from None
    node = Identity.load(identity, gateway=gateway)
    with StatisticsClient(node) as client:
        document = to_document(client.monthly(month))
    if out is not None and family is not None:
        out.mkdir(parents=True, exist_ok=True)
        tables = write_csv(document, out)
        (out / JSON_FILE).write_text(
            json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        (out / REPORT_FILE).write_text(render(document, family), encoding="utf-8")
        if not as_json:
            click.echo(
                f"wrote {out / REPORT_FILE} ({TITLE} {document['month']}), "
                f"{len(tables)} CSV tables and {JSON_FILE} in {out}"
            )
    if as_json:
        print_json(document)
