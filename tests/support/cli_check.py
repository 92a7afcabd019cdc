"""Check a command line written in a deploy file (a systemd unit, the Containerfile, the
compose file, a Kubernetes Job) against the ``xinlian`` CLI: the (sub)commands exist,
every option is known, every required option is given."""

from __future__ import annotations

import click

from xinlian_cli.main import cli


def check_argv(argv: list[str]) -> None:
    """``argv``: the arguments after ``xinlian``; an AssertionError names what is wrong."""
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
