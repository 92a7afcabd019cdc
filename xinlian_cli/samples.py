"""``xinlian agent sample``: synthetic records for demos and tests.

    xinlian agent sample --category C --enterprises N --records-per N --out FILE
                       [--format jsonl|csv] [--seed S] [--version V]

Sample data is not the agent's: the command is made here, from :mod:`xinlian_samples`,
and :mod:`xinlian_cli.main` adds it to the ``agent`` group of :mod:`node_agent.agent_cli`.
"""

from __future__ import annotations

from pathlib import Path

import click

from xinlian.console import print_json


@click.command("sample")
@click.option("--category", required=True, help="Catalog category to generate records for.")
@click.option("--enterprises", default=10, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option(
    "--records-per",
    default=3,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Records per enterprise.",
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default=None,
    help="Default: from the file name (.csv → csv, else jsonl).",
)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--version", "version", default=1, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def sample_cmd(
    category: str,
    enterprises: int,
    records_per: int,
    out: Path,
    fmt: str | None,
    seed: int,
    version: int,
    as_json: bool,
) -> None:
    """Generate realistic synthetic records (valid credit codes) for one category."""
    from authz.catalog import Catalog
    from xinlian_samples.generator import (
        generate_enterprises,
        generate_records,
        write_csv,
        write_jsonl,
    )

    catalog = Catalog.default()
    spec = catalog.get(category)
    if spec is None:
        raise click.BadParameter(
            f"got {category!r}, want one of {', '.join(sorted(catalog.categories))}",
            param_hint="--category",
        )
    fmt = fmt or ("csv" if out.suffix.lower() == ".csv" else "jsonl")
    records = [
        record
        for enterprise in generate_enterprises(enterprises, seed)
        for record in generate_records(enterprise, spec, records_per, seed, version)
    ]
    count = write_csv(records, spec, out) if fmt == "csv" else write_jsonl(records, out)
    if as_json:
        print_json(
            {"records": count, "category": category, "enterprises": enterprises, "out": str(out)}
        )
        return
    click.echo(f"wrote {count} {category} records about {enterprises} enterprises to {out}")
