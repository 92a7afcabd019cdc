"""Source credentials: from an environment variable or a file, never the config.

A source names ``<what>_env`` (the variable's name) or ``<what>_file`` (a path, e.g. a
systemd credential or a Kubernetes secret mount); the value itself never appears in a
message, a log line or ``status``.
"""

from __future__ import annotations

import os
from pathlib import Path

from node_agent.sync.config import SourceConfig, SyncConfigError

MAX_SECRET_BYTES = 64 * 1024


def read_secret(source: SourceConfig, what: str) -> str | None:
    """The secret ``what`` (e.g. ``password``, ``token``) of ``source``, or None when the
    source names neither ``<what>_env`` nor ``<what>_file``. A value written in the
    config itself is refused."""
    if what in source.options:
        raise SyncConfigError(
            f"source.{what}: secrets are never read from the config; "
            f"name {what}_env (a variable) or {what}_file (a file) instead"
        )
    env = source.optional(f"{what}_env")
    path = source.optional(f"{what}_file")
    if env and path:
        raise SyncConfigError(f"source: name {what}_env or {what}_file, not both")
    if env:
        value = os.environ.get(env)
        if not value:
            raise SyncConfigError(f"source.{what}_env: the variable {env} is not set")
        return value
    if path:
        try:
            data = Path(path).read_bytes()[:MAX_SECRET_BYTES]
        except OSError as exc:
            raise SyncConfigError(
                f"source.{what}_file: cannot read {path}: {exc.strerror or exc}"
            ) from None
        return data.decode("utf-8").strip()
    return None
