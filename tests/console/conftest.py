"""Fixtures of the console tests: one gateway world per test, consoles on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.console_world import World, make_world
from support.harness import running_gateway


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with running_gateway(tmp_path) as gw:
        yield make_world(gw, tmp_path)
