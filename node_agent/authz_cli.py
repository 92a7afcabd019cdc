"""``xinlian enterprise|grant|query …``. (Being built.)"""

from __future__ import annotations

import click


@click.group("enterprise")
def enterprise_group() -> None:
    """Enterprise keys and registration (by a city platform)."""


@click.group("grant")
def grant_group() -> None:
    """Grants (授权): create, revoke, list."""


@click.command("query")
def query_cmd() -> None:
    """Query an enterprise's data with a declared purpose."""
    raise click.ClickException("not built yet")
