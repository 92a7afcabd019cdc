"""``xinlian subscribe …``: subscriptions to the gateway's change log (docs/subscriptions.md).

    xinlian subscribe create --identity DIR --kind monitoring [--category C]... [--marked-only]
    xinlian subscribe create --identity DIR --kind batch --region 6101 [--industry C13] \\
        [--category C]... [--backfill-from 2026-01-01T00:00:00+08:00]
    xinlian subscribe list --identity DIR [--all] [--json]
    xinlian subscribe cancel --identity DIR --subscription S
    xinlian subscribe pull --identity DIR --subscription S --out DIR [--resync] [--follow]

``pull`` appends the delivered events to OUT/events.jsonl and resumes from OUT/state.json;
an event comes at least once on the wire and once in the file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.table import Table

from node_agent.cli import JSON_OPTION, identity_options
from node_agent.subscriptions import IDLE_S, SubscriptionClient, subscription_json
from xinlian.console import data_console, print_json
from xinlian.errors import InvalidArgument
from xinlian.identity import Identity

IDENTITY = identity_options("The node's identity directory (from `xinlian node enroll`).")
SUBSCRIPTION = click.option(
    "--subscription",
    "subscription_id",
    required=True,
    help="The subscription id (from `xinlian subscribe create`).",
)


@click.group("subscribe")
def subscribe_group() -> None:
    """Subscriptions: loan monitoring (获贷企业动态监测) and batch push (批量推送)."""


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument.field("--backfill-from", value, "an ISO 8601 time") from None
    if when.tzinfo is None:
        raise InvalidArgument.field("--backfill-from", value, "a time with its UTC offset")
    return when


@subscribe_group.command("create")
@IDENTITY
@click.option("--kind", type=click.Choice(["monitoring", "batch"]), required=True)
@click.option("--category", "categories", multiple=True, help="A category (repeat; none: all).")
@click.option("--purpose", default="", help="The purpose (monitoring: post_loan).")
@click.option("--region", default="", help="batch: division code prefix, e.g. 61 or 6101.")
@click.option("--industry", default="", help="batch: GB/T 4754-2017 section or code, e.g. C13.")
@click.option("--marked-only", is_flag=True, help="monitoring: risk-marked events only.")
@click.option("--backfill-from", default=None, help="Deliver what was logged since this time.")
@JSON_OPTION
def create_cmd(
    identity: Path,
    gateway: str | None,
    kind: str,
    categories: tuple[str, ...],
    purpose: str,
    region: str,
    industry: str,
    marked_only: bool,
    backfill_from: str | None,
    as_json: bool,
) -> None:
    """Create a subscription."""
    with SubscriptionClient(Identity.load(identity, gateway=gateway)) as client:
        created = client.create(
            kind,
            categories,
            purpose=purpose,
            region_prefix=region,
            industry=industry,
            marked_only=marked_only,
            backfill_from=_time(backfill_from),
        )
    if as_json:
        print_json(subscription_json(created))
        return
    click.echo(
        f"subscription {created.subscription_id} created ({created.kind}, "
        f"{', '.join(created.categories)}; ledger entry {created.ledger_index})"
    )


@subscribe_group.command("list")
@IDENTITY
@click.option("--all", "every", is_flag=True, help="Administrators, officers: every node's.")
@JSON_OPTION
def list_cmd(identity: Path, gateway: str | None, every: bool, as_json: bool) -> None:
    """List subscriptions with their lag."""
    with SubscriptionClient(Identity.load(identity, gateway=gateway)) as client:
        found = client.list(every)
    if as_json:
        print_json(
            {
                "head_position": found.head_position,
                "subscriptions": [subscription_json(s) for s in found.subscriptions],
            }
        )
        return
    table = Table(title=f"subscriptions (change log head {found.head_position})")
    for column in ("id", "node", "kind", "categories", "selection", "state", "acked", "lag"):
        table.add_column(column, overflow="fold")
    for s in found.subscriptions:
        selection = " ".join(
            x for x in (s.region_prefix, s.industry, "marked only" if s.marked_only else "") if x
        )
        table.add_row(
            s.subscription_id,
            s.node_id,
            s.kind,
            ", ".join(s.categories),
            selection,
            s.state,
            str(s.acked_position),
            f"{s.lag_events} events, {s.lag_seconds:.1f} s",
        )
    data_console().print(table)


@subscribe_group.command("cancel")
@IDENTITY
@SUBSCRIPTION
@JSON_OPTION
def cancel_cmd(identity: Path, gateway: str | None, subscription_id: str, as_json: bool) -> None:
    """Cancel a subscription (it delivers nothing more)."""
    with SubscriptionClient(Identity.load(identity, gateway=gateway)) as client:
        cancelled = client.cancel(subscription_id)
    if as_json:
        print_json(subscription_json(cancelled))
        return
    click.echo(f"subscription {cancelled.subscription_id} cancelled")


@subscribe_group.command("pull")
@IDENTITY
@SUBSCRIPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory for events.jsonl and state.json (resumes).",
)
@click.option("--resync", is_flag=True, help="Restart from the oldest event kept if expired.")
@click.option("--follow", is_flag=True, help="Keep the stream open until interrupted.")
@click.option(
    "--idle",
    "idle_s",
    type=float,
    default=IDLE_S,
    show_default=True,
    help="Stop after this many seconds without a batch.",
)
@JSON_OPTION
def pull_cmd(
    identity: Path,
    gateway: str | None,
    subscription_id: str,
    out: Path,
    resync: bool,
    follow: bool,
    idle_s: float,
    as_json: bool,
) -> None:
    """Deliver the subscription's events into OUT/events.jsonl, acknowledging each batch."""
    with SubscriptionClient(Identity.load(identity, gateway=gateway)) as client:
        summary = client.pull(subscription_id, out, resync=resync, idle_s=idle_s, follow=follow)
    result = {
        "subscription_id": subscription_id,
        "batches": summary.batches,
        "events_written": summary.events_written,
        "duplicates_skipped": summary.duplicates_skipped,
        "position": summary.position,
        "out": str(out),
    }
    if as_json:
        print_json(result)
        return
    click.echo(
        f"{summary.events_written} events written to {out / 'events.jsonl'} "
        f"({summary.batches} batches, {summary.duplicates_skipped} duplicates skipped; "
        f"position {summary.position})"
    )
