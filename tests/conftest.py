"""Shared fixtures: database URLs for both backends, a running gateway."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.harness import Gateway, running_gateway
from support.postgres import Cluster, running_cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """A fresh, empty PostgreSQL database on the throwaway cluster."""
    return pg_cluster.create_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    """A real gateway on loopback with mTLS, on an SQLite file."""
    with running_gateway(tmp_path) as gw:
        yield gw


@pytest.fixture
def gateway_any(tmp_path: Path, db_url: str) -> Iterator[Gateway]:
    """A real gateway on loopback with mTLS, on each backend."""
    with running_gateway(tmp_path, db_url) as gw:
        yield gw


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("XINLIAN_TESTING", "1")
