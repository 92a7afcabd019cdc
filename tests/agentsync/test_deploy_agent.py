"""The agent's deploy entries run a real command line and are locked down like the
gateway's (the unit's systemd-analyze rating is tests/host/test_deploy_systemd.py's)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml
from support.cli_check import check_argv

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_systemd_unit_runs_the_service_mode() -> None:
    text = (DEPLOY / "systemd" / "xinlian-agent.service").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert argv[0].endswith("/xinlian")
    check_argv(argv[1:])
    assert "--service" in argv
    assert "ReadWritePaths=/var/lib/xinlian-agent" in text
    assert "NoNewPrivileges=true" in text


def test_container_entry_is_locked_down() -> None:
    compose: dict[str, Any] = yaml.safe_load(
        (DEPLOY / "agent-compose.yaml").read_text(encoding="utf-8")
    )
    agent = compose["services"]["agent"]
    check_argv(agent["command"])
    assert agent["read_only"] is True
    assert agent["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in agent["security_opt"]
    assert agent["restart"] == "unless-stopped"
