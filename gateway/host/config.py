"""Gateway configuration: a small value object read once from ``HOME/config.json``.

The config file holds no secrets; key material lives in files of mode 0600 beside it.
A database URL may carry a password: ``redacted()`` and ``repr`` never show it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.store.db import sqlite_url
from xinlian.exit_codes import CommandExit, ExitCode

CONFIG_FILE = "config.json"
DEFAULT_LISTEN = "127.0.0.1:7443"
DEFAULT_ENROLL_LISTEN = "127.0.0.1:7444"
DEFAULT_CHECKPOINT_INTERVAL_S = 10.0
DEFAULT_RETENTION_DAYS = 183  # 网络安全法 第二十一条: network logs at least 6 months
DEFAULT_ENROLLMENT_TOKEN_TTL_H = 72
DEFAULT_NODE_CERT_DAYS = 90
DEFAULT_SERVER_CERT_WARN_DAYS = 30  # serve warns when the server certificate ends sooner
DEFAULT_OPS_LISTEN = "127.0.0.1:9464"  # plain HTTP /healthz /readyz /metrics; "" turns it off
LOG_FORMATS = ("text", "json")
CHECKPOINT_AGE_SLACK_S = 10.0
"""Readiness allows a checkpoint age of 3 checkpoint intervals plus this, by default."""

_PASSWORD_RE = re.compile(r"(://[^:/@]+:)([^@]+)(@)")


def redact_url(url: str) -> str:
    return _PASSWORD_RE.sub(r"\1***\3", url)


class ConfigError(CommandExit, ValueError):
    """A bad value for a key of ``config.json`` (or of the option that overrides it):
    the command ends with exit code 2 (USAGE) and one line naming the key and what is
    wanted, no traceback."""

    def __init__(self, key: str, value: object, wanted: str, *, option: bool = True) -> None:
        where = f"config.json or serve --{key.replace('_', '-')}" if option else "config.json"
        super().__init__(
            ExitCode.USAGE, f"error: {key} ({where}): {value!r} is invalid; wanted {wanted}"
        )
        self.key = key


def _is_host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit() and int(port) < 65536


@dataclass(frozen=True)
class GatewayConfig:
    home: Path
    db_url: str = field(repr=False)
    origin: str = "xinlian.example/gateway"
    listen: str = DEFAULT_LISTEN
    enroll_listen: str = DEFAULT_ENROLL_LISTEN
    server_hosts: tuple[str, ...] = ("localhost", "127.0.0.1")
    checkpoint_interval_s: float = DEFAULT_CHECKPOINT_INTERVAL_S
    retention_days: int = DEFAULT_RETENTION_DAYS
    enrollment_token_ttl_h: int = DEFAULT_ENROLLMENT_TOKEN_TTL_H
    node_cert_days: int = DEFAULT_NODE_CERT_DAYS
    ops_listen: str = DEFAULT_OPS_LISTEN
    log_format: str = "text"
    readiness_max_checkpoint_age_s: float | None = None  # None: 3 × interval + slack
    # extra working-day calendar directories (YYYY.json, docs/workdays.md)
    calendar_dirs: tuple[str, ...] = ()
    server_cert_warn_days: int = DEFAULT_SERVER_CERT_WARN_DAYS
    # the CA key's file ("": HOME/ca/ca.key; relative: under HOME); absent on a serving
    # replica, which then refuses Enroll and Renew with CA_KEY_NOT_HERE (docs/deploy.md)
    ca_key_path: str = ""

    def __post_init__(self) -> None:
        if self.log_format not in LOG_FORMATS:
            raise ConfigError("log_format", self.log_format, f"one of {', '.join(LOG_FORMATS)}")
        if self.ops_listen and not _is_host_port(self.ops_listen):
            raise ConfigError("ops_listen", self.ops_listen, 'HOST:PORT, or "" for no ops port')
        if not isinstance(self.server_cert_warn_days, int) or self.server_cert_warn_days < 0:
            raise ConfigError(
                "server_cert_warn_days", self.server_cert_warn_days, "whole days ≥ 0", option=False
            )
        bound = self.readiness_max_checkpoint_age_s
        if bound is not None and not bound > 0:
            raise ConfigError(
                "readiness_max_checkpoint_age_s", bound, "a positive number", option=False
            )

    @property
    def max_checkpoint_age_s(self) -> float:
        """The checkpoint age above which the gateway is not ready."""
        if self.readiness_max_checkpoint_age_s is not None:
            return self.readiness_max_checkpoint_age_s
        return 3 * self.checkpoint_interval_s + CHECKPOINT_AGE_SLACK_S

    # --- files under home -------------------------------------------------------------
    @property
    def ca_cert(self) -> Path:
        return self.home / "ca" / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.home / (self.ca_key_path or "ca/ca.key")

    @property
    def server_cert(self) -> Path:
        return self.home / "server" / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.home / "server" / "server.key"

    @property
    def ledger_signer_key(self) -> Path:
        return self.home / "ledger" / "signer.key"

    @property
    def ledger_verifier_key(self) -> Path:
        return self.home / "ledger" / "verifier.key"

    @property
    def pseudonym_key(self) -> Path:
        return self.home / "secrets" / "pseudonym.key"

    @property
    def admin_identity(self) -> Path:
        return self.home / "admin"

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    @property
    def node_cert_lifetime(self) -> timedelta:
        return timedelta(days=self.node_cert_days)

    def redacted(self) -> dict[str, Any]:
        data = asdict(self)
        data["home"] = str(self.home)
        data["db_url"] = redact_url(self.db_url)
        data["server_hosts"] = list(self.server_hosts)
        return data

    def __repr__(self) -> str:
        return f"GatewayConfig({self.redacted()!r})"

    # --- persistence ------------------------------------------------------------------
    def save(self) -> None:
        data = asdict(self)
        del data["home"]
        data["server_hosts"] = list(self.server_hosts)
        (self.home / CONFIG_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, home: Path, **overrides: Any) -> GatewayConfig:
        path = home / CONFIG_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: run `xinlian gateway init --home {home}` first"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        data["server_hosts"] = tuple(data.get("server_hosts", ()))
        data["calendar_dirs"] = tuple(data.get("calendar_dirs", ()))
        config = cls(home=home, **data)
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(config, **clean) if clean else config

    @classmethod
    def default_db_url(cls, home: Path) -> str:
        return sqlite_url(home.resolve() / "gateway.db")
