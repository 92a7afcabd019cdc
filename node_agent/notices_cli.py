"""``xinlian notices pull``: a consumer node reads the correction notices waiting for it
and, with ``--ack``, acknowledges them (each once: a notice acknowledged before is
reported as such, nothing is written twice)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from node_agent.cli import identity_options
from node_agent.notices import NoticeClient, notice_json
from xinlian.console import data_console
from xinlian.identity import Identity

IDENTITY = identity_options("The consumer node's identity directory (from `xinlian node enroll`).")


@click.group("notices")
def notices_group() -> None:
    """Correction notices: records you received that were corrected or withdrawn."""


@notices_group.command("pull")
@IDENTITY
@click.option("--ack", is_flag=True, help="Acknowledge the notices shown.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def pull_cmd(identity: Path, gateway: str | None, ack: bool, as_json: bool) -> None:
    """Show the unacknowledged correction notices (they come again until acknowledged)."""
    with NoticeClient(Identity.load(identity, gateway=gateway)) as client:
        notices = client.pull_all()
        acked = client.ack([n.notice_id for n in notices]) if ack and notices else None
    if as_json:
        out: dict[str, object] = {"notices": [notice_json(n) for n in notices]}
        if acked is not None:
            out["acked"] = list(acked.acked)
            out["already_acked"] = list(acked.already_acked)
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    console = data_console()
    table = Table(title="correction notices (更正通知)")
    for column in (
        "id",
        "record",
        "category",
        "versions",
        "reason",
        "changed (new value)",
        "ledger",
    ):
        table.add_column(column, overflow="fold")
    for n in notices:
        values = {f.name: f.value for f in n.values}
        changed = ", ".join(
            f"{name}={values[name]}" if name in values else name for name in n.changed_fields
        )
        if n.values_withheld:
            changed += f" (values withheld: {n.values_withheld})"
        table.add_row(
            str(n.notice_id),
            f"{n.source_node_id}/{n.record_id}",
            n.category,
            f"{n.old_version} → {n.new_version or 'withdrawn'}",
            n.reason,
            changed,
            str(n.ledger_index),
        )
    console.print(table)
    if not notices:
        click.echo("no notices waiting")
    if acked is not None:
        click.echo(
            f"acknowledged {len(acked.acked)}; acknowledged before {len(acked.already_acked)}"
        )
