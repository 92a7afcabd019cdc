"""The systemd units in deploy/ run commands this CLI has, with options it knows, and
every timer has its service. (The units themselves need systemd; what they invoke is
checked here.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from xinlian_cli.main import cli

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = sorted(DEPLOY.glob("*.service"))
XINLIAN_BIN = "/opt/xinlian/.venv/bin/xinlian"


def _exec_lines(unit: Path) -> list[str]:
    return [
        line.split("=", 1)[1]
        for line in unit.read_text(encoding="utf-8").splitlines()
        if re.match(r"ExecStart(Pre)?=", line)
    ]


def _xinlian_argv(line: str) -> list[str]:
    """The arguments after the xinlian binary, also inside ``/bin/sh -c '…'``; shell and
    systemd variables and command substitutions become placeholders."""
    words = shlex.split(line)
    if words[:2] == ["/bin/sh", "-c"]:
        words = shlex.split(re.sub(r"\$\([^)]*\)", "X", words[2]))
    words = words[words.index("exec") + 1 :] if "exec" in words else words
    assert words[0] == XINLIAN_BIN, line
    return [re.sub(r"\$\{?\w+\}?", "/tmp/x", w) for w in words[1:]]


def _check(argv: list[str]) -> None:
    command: click.Command = cli
    args = list(argv)
    while isinstance(command, click.Group):
        name = args.pop(0)
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"no command {name!r} in {argv}"
        command = sub
    known = {opt for p in command.params for opt in getattr(p, "opts", [])}
    used = {a for a in args if a.startswith("--")}
    assert used <= known, f"unknown options {sorted(used - known)} in {argv}"
    required = {p.opts[0] for p in command.params if p.required and isinstance(p, click.Option)}
    assert required <= used, f"missing {sorted(required - used)} in {argv}"


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_service_runs_a_real_command(unit: Path) -> None:
    lines = _exec_lines(unit)
    assert lines, f"{unit.name} has no ExecStart"
    for line in lines:
        _check(_xinlian_argv(line))


def test_every_timer_has_its_service() -> None:
    timers = sorted(DEPLOY.glob("*.timer"))
    assert timers
    for timer in timers:
        assert timer.with_suffix(".service").exists(), timer.name


def test_the_checker_catches_a_wrong_option() -> None:
    with pytest.raises(AssertionError, match="unknown options"):
        _check(["audit", "prune", "--home", "/tmp/x", "--force"])
    with pytest.raises(AssertionError, match="missing"):
        _check(["gateway", "backup", "--home", "/tmp/x"])
