"""``xinlian agent …``: department agents push records. (Being built.)"""

from __future__ import annotations

import click


@click.group("agent")
def agent_group() -> None:
    """Department agents: push records from JSONL or CSV files."""
