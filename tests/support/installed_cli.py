"""Run the installed ``xinlian`` command in a subprocess, as an operator or a cron job
does: its exit status is the process's, not click's CliRunner's (which reports 1 for any
error)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

XINLIAN = Path(sys.executable).parent / "xinlian"
RUN_TIMEOUT_S = 120


def xinlian(*args: str, db_url: str | None = None) -> subprocess.CompletedProcess[str]:
    """``xinlian ARGS…``; ``XINLIAN_DB_URL`` is ``db_url`` (unset when None)."""
    env = {k: v for k, v in os.environ.items() if k != "XINLIAN_DB_URL"}
    if db_url is not None:
        env["XINLIAN_DB_URL"] = db_url
    return subprocess.run(
        [str(XINLIAN), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def assert_exit(result: subprocess.CompletedProcess[str], code: int) -> None:
    """The command ended with ``code`` and printed no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
