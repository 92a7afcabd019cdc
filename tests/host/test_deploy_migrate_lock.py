"""Every replica may run ``xinlian gateway migrate`` before it starts (the compose file's
one-shot job, a Kubernetes Job and a systemd ExecStartPre can overlap): two runs at once
leave one schema at head, both succeeding."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.installed_cli import RUN_TIMEOUT_S, XINLIAN, assert_exit, xinlian

from gateway.store import migrate
from gateway.store.dialect import dialect_for_url

CONCURRENT_RUNS = 3


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    assert_exit(xinlian("gateway", "init", "--home", str(home), "--host", "localhost"), 0)
    return home


def _migrate_at_once(home: Path, db_url: str) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "XINLIAN_DB_URL": db_url}
    procs = [
        subprocess.Popen(
            [str(XINLIAN), "gateway", "migrate", "--home", str(home)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(CONCURRENT_RUNS)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def _versions(db_url: str) -> list[str]:
    engine = dialect_for_url(db_url).create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [
                row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            ]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_concurrent_migrations_leave_one_schema_postgres(tmp_path: Path, pg_url: str) -> None:
    results = _migrate_at_once(_home(tmp_path), pg_url)
    for result in results:
        assert_exit(result, 0)
    assert _versions(pg_url) == [migrate.head_revision()]


def test_concurrent_migrations_leave_one_schema_sqlite(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    results = _migrate_at_once(_home(tmp_path), db_url)
    for result in results:
        assert_exit(result, 0)
    assert _versions(db_url) == [migrate.head_revision()]
