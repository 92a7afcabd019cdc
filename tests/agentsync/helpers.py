"""Shared by the agent sync tests: the gateway's stored records, running the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gateway.store import schema
from gateway.store.db import make_engine

CLI_TIMEOUT_S = 300


def _select(url: str, statement: sa.Select[Any]) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement).all())
    finally:
        engine.dispose()


_R = schema.records.c


def stored(url: str, node_id: str) -> list[tuple[str, int]]:
    """(record id, version) of every record the gateway stored from ``node_id``."""
    rows = _select(url, sa.select(_R.record_id, _R.version).where(_R.source_node_id == node_id))
    return sorted((str(a), int(b)) for a, b in rows)


def withdrawn(url: str, node_id: str) -> list[str]:
    """Record ids of ``node_id`` whose versions the gateway marked withdrawn."""
    statement = (
        sa.select(_R.record_id)
        .where(_R.source_node_id == node_id, _R.withdrawn_at_us.is_not(None))
        .distinct()
    )
    return sorted(str(row[0]) for row in _select(url, statement))


def stored_fields(url: str, node_id: str, record_id: str) -> list[dict[str, Any]]:
    statement = (
        sa.select(_R.fields)
        .where(_R.source_node_id == node_id, _R.record_id == record_id)
        .order_by(_R.version)
    )
    return [json.loads(row[0]) for row in _select(url, statement)]


def xinlian(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``xinlian`` command in a child process."""
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "xinlian_cli.main", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env=full,
        check=False,
    )


def status(config: Path) -> dict[str, Any]:
    done = xinlian("agent", "status", "--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout)["categories"][0])
