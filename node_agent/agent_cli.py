"""``xinlian agent …``: department agents push records.

xinlian agent push --identity DIR --category C FILE [--rejects OUT.jsonl]
                   [--batch-size N] [--window N] [--no-resume] [--gateway ADDR] [--json]

The group's ``sample`` command (sample data for demos and tests) is not the agent's: it is
made in :mod:`xinlian_cli.samples` and added to this group by :mod:`xinlian_cli.main`.

Exit status of ``push`` (``xinlian.exit_codes``): 0 every record accepted (or stored
already); 5 some or all records rejected (counts printed; with ``--rejects`` each with
its line and reason); 2 bad options, an unknown category, a CSV header that does not
fit the category, a file that is not UTF-8; 3 the gateway unreachable (run the same
command again to resume); 4 refused (e.g. a category the department is not responsible
for); 6 any other failure.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from node_agent.push import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_WINDOW,
    INPUT_ERROR,
    MAX_BATCH_SIZE,
    MAX_WINDOW,
    Pusher,
    PushFailed,
    PushInputError,
    PushProgress,
    PushSummary,
)
from xinlian.console import data_console
from xinlian.exit_codes import CommandExit, ExitCode, for_status_name
from xinlian.identity import Identity

console = Console(stderr=True, markup=False, soft_wrap=True)


@click.group("agent")
def agent_group() -> None:
    """Department agents: push records from JSONL or CSV files; make sample data."""


def _known_category(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """--category must name a category of the sharing catalog."""
    from authz.catalog import Catalog

    catalog = Catalog.default()
    if catalog.get(value) is None:
        raise click.BadParameter(
            f"got {value!r}, want one of {', '.join(sorted(catalog.categories))}"
        )
    return value


@agent_group.command("push")
@click.option(
    "--identity",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    required=True,
    help="The department's identity directory (from `xinlian node enroll`).",
)
@click.option(
    "--category",
    required=True,
    callback=_known_category,
    help="Catalog category of every record in FILE.",
)
@click.option(
    "--rejects",
    "rejects_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write each rejected record with its line and reason here (JSONL).",
)
@click.option(
    "--batch-size",
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    type=click.IntRange(1, MAX_BATCH_SIZE),
    help=f"Records per signed batch (the gateway takes at most {MAX_BATCH_SIZE}).",
)
@click.option(
    "--window",
    default=DEFAULT_WINDOW,
    show_default=True,
    type=click.IntRange(1, MAX_WINDOW),
    help="Batches sent ahead of their acknowledgement.",
)
@click.option("--no-resume", is_flag=True, help="Ignore the resume state of an earlier run.")
@click.option("--gateway", help="Override the gateway address HOST:PORT.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def push_cmd(
    identity: Path,
    category: str,
    rejects_path: Path | None,
    batch_size: int,
    window: int,
    no_resume: bool,
    gateway: str | None,
    as_json: bool,
    file: Path,
) -> None:
    """Push FILE (JSONL or .csv) as signed batches; resumes an interrupted run."""
    pusher = Pusher(Identity.load(identity, gateway=gateway), window=window)
    started = time.monotonic()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>9.0f} records/s"),
        TextColumn("rejected {task.fields[rejected]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=as_json or not console.is_terminal) as bar:
        task = bar.add_task(f"push {category}", total=None, rate=0.0, rejected=0)

        def on_progress(report: PushProgress) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(
                task,
                total=report.records_total,
                completed=report.records_skipped + report.records_done,
                rate=report.records_done / elapsed,
                rejected=report.rejected,
            )

        try:
            summary = pusher.push_file(
                file,
                category,
                rejects_path=rejects_path,
                batch_size=batch_size,
                resume=not no_resume,
                progress=on_progress,
            )
        except PushInputError as exc:
            raise CommandExit(ExitCode.USAGE, f"error: {exc}") from exc
        except PushFailed as exc:
            reason = f" [{exc.reason}]" if exc.reason else ""
            console.print(f"{exc}{reason}", style="red")
            saved = f"{exc.acknowledged} batches acknowledged in this run are saved"
            if exc.resumable:
                console.print(f"{saved}; run the same command again to resume.")
            else:
                console.print(
                    f"{saved}; running the same command again will not help "
                    "until the cause above is fixed."
                )
            code = ExitCode.USAGE if exc.code == INPUT_ERROR else for_status_name(exc.code)
            raise CommandExit(code) from exc
    elapsed = max(time.monotonic() - started, 1e-6)
    data = {
        "file": str(summary.path),
        "category": summary.category,
        "records": summary.records_total,
        "batches": summary.batches_total,
        "batches_skipped": summary.batches_skipped,
        "batches_sent": summary.batches_sent,
        "accepted": summary.accepted,
        "duplicates": summary.duplicates,
        "rejected": summary.rejected,
        "rejected_earlier": summary.rejected_earlier,
        "records_per_s": round(summary.records_sent / elapsed, 1),
        "rejects": str(summary.rejects_path) if summary.rejects_path else None,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        _print_table(summary, data)
    if summary.rejected_total:
        earlier = (
            f" ({summary.rejected_earlier} of them in batches acknowledged by an earlier run)"
            if summary.rejected_earlier
            else ""
        )
        where = "" if summary.rejects_path else "; --rejects FILE lists them with reasons"
        raise CommandExit(
            ExitCode.REJECTED,
            f"{summary.rejected_total} of {summary.records_total} records rejected{earlier}{where}",
        )


def _print_table(summary: PushSummary, data: dict[str, Any]) -> None:
    table = Table(title=f"push {summary.path.name} → {summary.category}")
    for column in (
        "records",
        "batches sent",
        "skipped (resumed)",
        "accepted",
        "duplicate",
        "rejected",
        "records/s",
    ):
        table.add_column(column, justify="right")
    table.add_row(
        str(summary.records_total),
        str(summary.batches_sent),
        str(summary.batches_skipped),
        str(summary.accepted),
        str(summary.duplicates),
        str(summary.rejected),
        f"{data['records_per_s']:.0f}",
    )
    data_console().print(table)
    if summary.rejected and summary.rejects_path:
        click.echo(f"rejected records with reasons: {summary.rejects_path}")
