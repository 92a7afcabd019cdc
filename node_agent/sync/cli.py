"""``xinlian agent sync|status|resync``: the department agent as a service.

xinlian agent sync   --config agent.toml [--category C] [--dry-run] [--service] [--json]
xinlian agent status --config agent.toml [--json]
xinlian agent resync --config agent.toml [--category C] [--json]

Exit status (``xinlian.exit_codes``): 0 done; 5 some records rejected (kept in the
rejects store, see ``status``); 2 a bad config or a mapping that does not fit the
catalog (the message names the key or field); 3 the gateway or the source unreachable
(run again: nothing acknowledged is lost); 4 refused by the gateway; 6 any other failure.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from authz.catalog import Catalog
from node_agent.push import INPUT_ERROR, Pusher, PushFailed
from node_agent.sync.config import SyncConfig, SyncConfigError, load_config
from node_agent.sync.runner import CategorySync, RunResult
from node_agent.sync.sources.base import SourceError
from node_agent.sync.status import print_status, status_data
from node_agent.sync.watermark import SyncState
from xinlian.exit_codes import CommandExit, ExitCode, for_status_name
from xinlian.identity import Identity

_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The agent's TOML config (docs/agent.md).",
)


def _load(path: Path) -> SyncConfig:
    try:
        return load_config(path)
    except SyncConfigError as exc:
        raise CommandExit(ExitCode.USAGE, f"error: {exc}") from exc


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """The one-line error and exit code of each failure a sync can end with."""
    try:
        yield
    except SyncConfigError as exc:
        raise CommandExit(ExitCode.USAGE, f"error: {exc}") from exc
    except SourceError as exc:
        raise CommandExit(ExitCode.UNREACHABLE, f"error: {exc}; run again to resume") from exc
    except PushFailed as exc:
        code = ExitCode.USAGE if exc.code == INPUT_ERROR else for_status_name(exc.code)
        reason = f" [{exc.reason}]" if exc.reason else ""
        raise CommandExit(code, f"error: {exc}{reason}; the watermark was not moved") from exc


@contextlib.contextmanager
def opened(
    config: SyncConfig, only: str | None = None
) -> Iterator[tuple[SyncState, list[CategorySync]]]:
    """The state file and every category's sync, each mapping checked against the
    catalog (and each SQL query's columns) before anything is read."""
    catalog = Catalog.default()
    chosen = [config.category(only)] if only else list(config.categories)
    state = SyncState(config.state_dir)
    syncs: list[CategorySync] = []
    try:
        for category in chosen:
            syncs.append(CategorySync(config, category, state, catalog))
        yield state, syncs
    finally:
        for sync in syncs:
            sync.close()
        state.close()


def make_pusher(config: SyncConfig) -> Pusher:
    return Pusher(Identity.load(config.identity, gateway=config.gateway))


def _finish(results: list[RunResult], as_json: bool) -> None:
    data = [r.as_dict() for r in results]
    if as_json:
        click.echo(json.dumps({"categories": data}, ensure_ascii=False))
    else:
        for r in results:
            click.echo(
                f"{r.category}: read {r.read}, accepted {r.accepted}, duplicate {r.duplicates},"
                f" rejected {r.rejected}, withdrawn {r.withdrawn}"
                + ("" if r.pending is None else f", still waiting {r.pending}")
            )
    rejected = sum(r.rejected for r in results)
    if rejected:
        raise CommandExit(
            ExitCode.REJECTED,
            f"{rejected} records rejected; `xinlian agent status` lists them with reasons",
        )


@click.command("sync")
@_config_option
@click.option("--category", help="Sync only this configured category.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send and save nothing.")
@click.option("--service", is_flag=True, help="Run as a service: each category on its schedule.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def sync_cmd(
    config_path: Path, category: str | None, dry_run: bool, service: bool, as_json: bool
) -> None:
    """Read the department's sources and push what changed since the last run."""
    config = _load(config_path)
    with _errors(), opened(config, category) as (state, syncs):
        if service:
            from node_agent.sync.service import run_service

            run_service(config, state, syncs)
            return
        if dry_run:

            def show(item: dict[str, Any]) -> None:
                click.echo(json.dumps(item, ensure_ascii=False))

            for sync in syncs:
                sync.run(None, show)
            return
        pusher = make_pusher(config)
        results = [_run_one(sync, pusher, state) for sync in syncs]
    _finish(results, as_json)


def _run_one(sync: CategorySync, pusher: Pusher, state: SyncState) -> RunResult:
    from node_agent.sync.service import record_run

    return record_run(sync, state, lambda: sync.run(pusher))


@click.command("resync")
@_config_option
@click.option("--category", help="Only this configured category.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def resync_cmd(config_path: Path, category: str | None, as_json: bool) -> None:
    """Re-read the rejected rows from the source by id and push them again."""
    config = _load(config_path)
    with _errors(), opened(config, category) as (_state, syncs):
        pusher = make_pusher(config)
        results = [sync.resync(pusher) for sync in syncs]
    _finish(results, as_json)


@click.command("status")
@_config_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_cmd(config_path: Path, as_json: bool) -> None:
    """Progress, lag, last success and rejects by reason, per category."""
    config = _load(config_path)
    state = SyncState(config.state_dir)
    try:
        data = status_data(config, state)
    finally:
        state.close()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, default=str))
    else:
        print_status(data)


def add_sync_commands(group: click.Group) -> None:
    """Add ``sync``, ``status`` and ``resync`` to the agent group."""
    for command in (sync_cmd, status_cmd, resync_cmd):
        group.add_command(command)
