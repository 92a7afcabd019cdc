"""Start and stop a throwaway PostgreSQL cluster for the tests.

PostgreSQL refuses to run as root; when the tests run as root (CI does), the cluster is
created and run as the ``postgres`` system user through ``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

READY_TIMEOUT_S = 180.0
"""How long a (re)started server may take to accept connections (WAL replay on a busy machine)."""


def _bindir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries (initdb) not found; install postgresql")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    base: Path
    port: int
    bindir: Path
    as_postgres_user: bool

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres_user:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True)

    def start(self) -> None:
        """Start the server and return only once it accepts connections.

        ``pg_ctl -w -t 60`` can give up (exit 1) while the server is still replaying WAL
        after an immediate stop on a loaded machine; that is not a failed start, so the
        readiness wait below decides, for up to ``READY_TIMEOUT_S``."""
        try:
            self._run(
                "pg_ctl",
                "-D",
                str(self.datadir),
                "-l",
                str(self.base / "postgres.log"),
                "-o",
                f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1"
                " -c max_connections=200",
                "-w",
                "-t",
                "60",
                "start",
            )
        except subprocess.CalledProcessError:
            if not (self.datadir / "postmaster.pid").exists():
                raise
        self.wait_ready()

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Poll with a real connection until the server answers ``SELECT 1``."""
        deadline = time.monotonic() + timeout_s
        while True:
            engine = sa.create_engine(self.admin_url)
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                return
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
            finally:
                engine.dispose()

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "immediate") -> None:
        """Stop (``immediate`` = like a crash: no checkpoint) and start again."""
        self.stop(mode)
        self.start()

    def create_database(self) -> str:
        name = "xl_" + uuid.uuid4().hex[:12]
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


def start_cluster() -> Cluster:
    bindir = _bindir()
    as_postgres = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="xinlian-pg-"))
    os.chmod(base, 0o755)
    if as_postgres:
        shutil.chown(base, "postgres", "postgres")
    cluster = Cluster(base=base, port=free_port(), bindir=bindir, as_postgres_user=as_postgres)
    cluster._run(
        "initdb",
        "-D",
        str(cluster.datadir),
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--no-sync",
    )
    cluster.start()
    return cluster


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    """A throwaway cluster for the duration of the ``with`` block."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


def private_cluster_fixture() -> Any:
    """A module-scoped ``pg_cluster`` fixture of the test module's own, for tests that stop
    or restart the server (the session's shared cluster must stay up for the others):
    ``pg_cluster = private_cluster_fixture()`` at the top of the module."""

    @pytest.fixture(scope="module", name="pg_cluster")
    def own_cluster() -> Iterator[Cluster]:
        with running_cluster() as cluster:
            yield cluster

    return own_cluster
