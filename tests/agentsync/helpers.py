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


def stored(url: str, node_id: str) -> list[tuple[str, int]]:
    """(record id, version) of every record the gateway stored from ``node_id``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            r = schema.records
            rows = conn.execute(
                sa.select(r.c.record_id, r.c.version).where(r.c.source_node_id == node_id)
            ).all()
    finally:
        engine.dispose()
    return sorted((str(a), int(b)) for a, b in rows)


def withdrawn(url: str, node_id: str) -> list[str]:
    """Record ids of ``node_id`` whose versions the gateway marked withdrawn."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            r = schema.records
            rows = conn.execute(
                sa.select(r.c.record_id)
                .where(r.c.source_node_id == node_id, r.c.withdrawn_at_us.is_not(None))
                .distinct()
            ).all()
    finally:
        engine.dispose()
    return sorted(str(row[0]) for row in rows)


def stored_fields(url: str, node_id: str, record_id: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            r = schema.records
            rows = conn.execute(
                sa.select(r.c.fields)
                .where(r.c.source_node_id == node_id, r.c.record_id == record_id)
                .order_by(r.c.version)
            ).all()
    finally:
        engine.dispose()
    return [json.loads(row[0]) for row in rows]


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
