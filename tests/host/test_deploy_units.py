"""The systemd units in deploy/systemd/ run commands this CLI has, with options it knows
(or a PostgreSQL client tool on tables the schema has), and every timer has its service.
(systemd's own checks of the units: test_deploy_systemd.py.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from support.cli_check import check_argv

from gateway.store.schema import metadata

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
SERVICES = sorted(DEPLOY.glob("*.service"))
XINLIAN_BIN = "/opt/xinlian/.venv/bin/xinlian"
PG_TOOLS = ("/usr/bin/pg_dump", "/usr/bin/vacuumdb")


def _exec_lines(unit: Path) -> list[str]:
    return [
        line.split("=", 1)[1]
        for line in unit.read_text(encoding="utf-8").splitlines()
        if re.match(r"ExecStart(Pre)?=", line)
    ]


def _argv(line: str) -> list[str]:
    """The command, also inside ``/bin/sh -c '…'``; shell and systemd variables and
    command substitutions become placeholders."""
    words = shlex.split(line)
    if words[:2] == ["/bin/sh", "-c"]:
        words = shlex.split(re.sub(r"\$\([^)]*\)", "X", words[2]))
    words = words[words.index("exec") + 1 :] if "exec" in words else words
    return [re.sub(r"\$\{?\w+\}?", "/tmp/x", w) for w in words]


def _xinlian_argv(line: str) -> list[str]:
    """The arguments after the xinlian binary."""
    words = _argv(line)
    assert words[0] == XINLIAN_BIN, line
    return words[1:]


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_service_runs_a_real_command(unit: Path) -> None:
    lines = _exec_lines(unit)
    assert lines, f"{unit.name} has no ExecStart"
    for line in lines:
        if _argv(line)[0] in PG_TOOLS:
            _check_pg_tool(_argv(line))
        else:
            check_argv(_xinlian_argv(line))


def _check_pg_tool(argv: list[str]) -> None:
    """A PostgreSQL client tool: no password on the command line (libpq's variables and
    password file only), and the tables it names are the schema's."""
    assert "--no-password" in argv, argv
    assert not any(a.startswith(("--password", "postgresql:")) for a in argv), argv
    tables = {a.split("=", 1)[1] for a in argv if a.startswith("--table=")}
    assert tables <= set(metadata.tables), sorted(tables - set(metadata.tables))


def test_every_timer_has_its_service() -> None:
    timers = sorted(DEPLOY.glob("*.timer"))
    assert timers
    for timer in timers:
        assert timer.with_suffix(".service").exists(), timer.name


def test_the_checker_catches_a_wrong_option() -> None:
    with pytest.raises(AssertionError, match="unknown options"):
        check_argv(["audit", "prune", "--home", "/tmp/x", "--force"])
    with pytest.raises(AssertionError, match="missing"):
        check_argv(["gateway", "backup", "--home", "/tmp/x"])
    with pytest.raises(AssertionError, match="no_such_table"):
        _check_pg_tool(["/usr/bin/vacuumdb", "--no-password", "--table=no_such_table"])
