"""Gateway configuration: one validated settings model (pydantic-settings).

Every key comes from ``HOME/config.json`` or from an ``XINLIAN_<KEY>`` environment
variable (the environment wins; a ``serve`` option wins over both). Types and ranges are
checked once, at start: a bad value or an unknown key ends the command with exit 2
(USAGE) and one line naming the key (``docs/configuration.md``, generated from this
model by ``scripts/gen_config_doc.py``).

The config file holds no secrets; key material lives in files of mode 0600 beside it.
The database URL is a secret (``SecretStr``): ``redacted()``, ``repr`` and
``xinlian gateway config`` never show its password, and ``save()`` writes it without
the password. A password comes from ``XINLIAN_DB_URL``, from the file named by
``db_url_file``, or from libpq (``PGPASSWORD``, ``~/.pgpass``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from gateway.host.config_sources import (
    CONFIG_FILE as CONFIG_FILE,
)
from gateway.host.config_sources import (
    ENV_PREFIX as ENV_PREFIX,
)
from gateway.host.config_sources import (
    ConfigError as ConfigError,
)
from gateway.host.config_sources import (
    ConfigFileSource,
    EnvironmentSource,
)
from gateway.host.config_sources import (
    UnknownKeyError as UnknownKeyError,
)
from gateway.host.witness_config import WitnessPeerConfig
from gateway.store.db import sqlite_url

DEFAULT_LISTEN = "127.0.0.1:7443"
DEFAULT_ENROLL_LISTEN = "127.0.0.1:7444"
DEFAULT_TILE_CACHE_TILES = 1024
DEFAULT_CHECKPOINT_INTERVAL_S = 10.0
DEFAULT_WITNESS_INTERVAL_S = 30.0
DEFAULT_RETENTION_DAYS = 183  # 网络安全法 第二十一条: network logs at least 6 months
DEFAULT_ENROLLMENT_TOKEN_TTL_H = 72
DEFAULT_NODE_CERT_DAYS = 90
DEFAULT_SERVER_CERT_WARN_DAYS = 30  # serve warns when the server certificate ends sooner
DEFAULT_OPS_LISTEN = "127.0.0.1:9464"  # plain HTTP /healthz /readyz /metrics; "" turns it off
LOG_FORMATS = ("text", "json")
CHECKPOINT_AGE_SLACK_S = 10.0
"""Readiness allows a checkpoint age of 3 checkpoint intervals plus this, by default."""
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "[::]", ""})

_PASSWORD_RE = re.compile(r"(://[^:/@]+:)([^@]+)(@)")
_QUERY_PASSWORD_RE = re.compile(r"([?&]password=)([^&]*)", re.IGNORECASE)


def redact_url(url: str) -> str:
    return _QUERY_PASSWORD_RE.sub(r"\1***", _PASSWORD_RE.sub(r"\1***\3", url))


def strip_password(url: str) -> str:
    """The URL without its password (libpq may still find one in PGPASSWORD or .pgpass)."""
    return _QUERY_PASSWORD_RE.sub("", _PASSWORD_RE.sub(r"\1\3", url)).replace(":@", "@")


def _is_host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit() and int(port) < 65536


class GatewayConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        validate_default=True,
        hide_input_in_errors=True,
    )

    home: Path = Field(exclude=True, description="The gateway home (not a key).")
    db_url: SecretStr = Field(
        default=SecretStr(""),
        description="Database URL (secret; default: the SQLite file gateway.db in HOME). "
        "Written to config.json without its password.",
    )
    db_url_file: str | None = Field(
        default=None,
        description="File holding the database URL (path relative to HOME); wins over "
        "db_url given in the same place. config.json keeps the path, never the content.",
    )
    origin: str = Field(
        default="xinlian.example/gateway", min_length=1, description="Ledger origin line."
    )
    listen: str = Field(default=DEFAULT_LISTEN, description="mTLS address HOST:PORT.")
    enroll_listen: str = Field(
        default=DEFAULT_ENROLL_LISTEN, description='Enrollment address HOST:PORT; "" for none.'
    )
    public_address: str = Field(
        default="",
        description="HOST:PORT handed to nodes at enrollment. Default: the listen address, "
        "or, when it listens on 0.0.0.0 or ::, the server certificate's first DNS name "
        "with the listen port.",
    )
    tls_server_name: str = Field(
        default="",
        description="TLS server name the nodes check the gateway certificate against; "
        '"" for the host of the public address.',
    )
    server_hosts: tuple[str, ...] = Field(
        default=("localhost", "127.0.0.1"),
        min_length=1,
        description="Names and addresses in the server certificate.",
    )
    checkpoint_interval_s: float = Field(
        default=DEFAULT_CHECKPOINT_INTERVAL_S,
        gt=0,
        le=3600,
        description="Seconds between signed checkpoints.",
    )
    retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS,
        ge=1,
        description="Days ledger entries and records are kept (at least 183 by law).",
    )
    enrollment_token_ttl_h: int = Field(
        default=DEFAULT_ENROLLMENT_TOKEN_TTL_H, ge=1, le=24 * 30, description="Token lifetime."
    )
    node_cert_days: int = Field(
        default=DEFAULT_NODE_CERT_DAYS, ge=1, le=825, description="Node certificate lifetime."
    )
    ops_listen: str = Field(
        default=DEFAULT_OPS_LISTEN,
        description='Plain-HTTP /healthz /readyz /metrics HOST:PORT; "" for none.',
    )
    log_format: str = Field(default="text", description="Log lines: text or json.")
    readiness_max_checkpoint_age_s: float | None = Field(
        default=None,
        description="Checkpoint age (s) above which the gateway is not ready; "
        "default 3 × checkpoint_interval_s + 10.",
    )
    calendar_dirs: tuple[str, ...] = Field(
        default=(), description="Extra working-day calendar directories (docs/workdays.md)."
    )
    server_cert_warn_days: int = Field(
        default=DEFAULT_SERVER_CERT_WARN_DAYS,
        ge=0,
        description="Warn (at start and daily) when the server certificate expires within "
        "this many days.",
    )
    ledger_tile_cache_tiles: int = Field(
        default=DEFAULT_TILE_CACHE_TILES,
        ge=16,
        le=1 << 20,
        description="Ledger tiles each process keeps for proofs (an LRU; about 16 KiB each).",
    )
    tlog_listen: str = Field(
        default="",
        description='Read-only C2SP tlog-tiles HTTPS address HOST:PORT; "" for none '
        "(docs/ledger.md).",
    )
    tlog_allow_networks: tuple[str, ...] = Field(
        default=(),
        description="Networks (CIDR) that may fetch the checkpoint and hash tiles without a "
        "client certificate; entry bundles always need an officer's or a linked gateway's.",
    )
    ca_key_path: str = Field(
        default="",
        description='The CA key\'s file ("": HOME/ca/ca.key; relative: under HOME). Absent on '
        "a serving replica, which then refuses Enroll and Renew with CA_KEY_NOT_HERE "
        "(docs/operations.md).",
    )

    witness_peers: tuple[WitnessPeerConfig, ...] = Field(
        default=(),
        description="Linked gateways to witness (objects: gateway_id, origin, verifier_key, "
        "endpoint, ca_cert, identity, server_name; docs/witness.md). Until the federation "
        "directory lists them.",
    )
    witness_interval_s: float = Field(
        default=DEFAULT_WITNESS_INTERVAL_S,
        gt=0,
        le=86400,
        description="Seconds between witnessing rounds (cosigning the peers' checkpoints).",
    )
    federation_region: str = Field(
        default="",
        description="This gateway's region in a federation (6 digits, 100000 for the national "
        'node); "" when not federated (docs/federation.md).',
    )
    federation_gateway_id: str = Field(
        default="", description='Gateway id in the federation; "" for gw-<federation_region>.'
    )
    federation_directory_interval_s: float = Field(
        default=30.0, gt=0, le=86400, description="Seconds between directory fetches."
    )
    federation_relay_interval_s: float = Field(
        default=1.0, gt=0, le=3600, description="Seconds between relay rounds (up and down)."
    )
    federation_forward_deadline_s: float = Field(
        default=5.0, gt=0, le=120, description="Deadline of one forwarded query hop."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # options (init) > environment > config.json > defaults
        home = getattr(init_settings, "init_kwargs", {}).get("home")
        home = Path(home) if home is not None else None
        return (
            init_settings,
            EnvironmentSource(env_settings, home),
            ConfigFileSource(settings_cls, home),
        )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _config_error(exc) from None

    @model_validator(mode="before")
    @classmethod
    def _default_db_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("db_url") and data.get("home") is not None:
            data = {**data, "db_url": cls.default_db_url(Path(data["home"]))}
        return data

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value not in LOG_FORMATS:
            raise ValueError(f"one of {', '.join(LOG_FORMATS)}")
        return value

    @field_validator("listen", "public_address")
    @classmethod
    def _address(cls, value: str) -> str:
        if value and not _is_host_port(value):
            raise ValueError("HOST:PORT")
        return value

    @field_validator("enroll_listen", "ops_listen", "tlog_listen")
    @classmethod
    def _optional_address(cls, value: str) -> str:
        if value and not _is_host_port(value):
            raise ValueError('HOST:PORT, or "" for none')
        return value

    @field_validator("tlog_allow_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network)
            except ValueError:
                raise ValueError(f"a network such as 10.0.0.0/8, not {network!r}") from None
        return value

    @field_validator("federation_region")
    @classmethod
    def _federation_region(cls, value: str) -> str:
        if value and not (len(value) == 6 and value.isdigit()):
            raise ValueError('a 6-digit division code, or "" when not federated')
        return value

    @field_validator("readiness_max_checkpoint_age_s")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and not value > 0:
            raise ValueError("a positive number")
        return value

    @property
    def max_checkpoint_age_s(self) -> float:
        """The checkpoint age above which the gateway is not ready."""
        if self.readiness_max_checkpoint_age_s is not None:
            return self.readiness_max_checkpoint_age_s
        return 3 * self.checkpoint_interval_s + CHECKPOINT_AGE_SLACK_S

    @property
    def database_url(self) -> str:
        return self.db_url.get_secret_value()

    def advertised(self, listen: str | None = None, port: int = 0) -> tuple[str, str]:
        """(address, TLS server name) handed to nodes at enrollment: ``public_address``
        when set; else the address served (``listen``, its port ``port`` when bound to
        port 0), with the server certificate's first DNS name for a wildcard host."""
        if self.public_address:
            return self.public_address, self.tls_server_name
        host, _, listen_port = (listen or self.listen).rpartition(":")
        served_port = str(port) if port else listen_port
        if host.strip("[]") in WILDCARD_HOSTS:
            host = self._certificate_name() or host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{served_port}", self.tls_server_name

    def _certificate_name(self) -> str:
        from cryptography import x509

        from xinlian.pki import load_cert

        try:
            names = load_cert(self.server_cert).extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            )
        except (OSError, ValueError, x509.ExtensionNotFound):
            return self.server_hosts[0]
        dns = names.value.get_values_for_type(x509.DNSName)
        ips = names.value.get_values_for_type(x509.IPAddress)
        return dns[0] if dns else (str(ips[0]) if ips else "")

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
        """Every key with its effective value; the database URL without its password."""
        data = self.model_dump(mode="json")
        data["home"] = str(self.home)
        data["db_url"] = redact_url(self.database_url)
        return data

    # --- persistence ------------------------------------------------------------------
    def save(self) -> bool:
        """Write config.json (mode 0600 from the start); the database URL without its
        password. Returns whether a password was left out."""
        data = self.model_dump(mode="json")
        stored = data["db_url"] = strip_password(self.database_url)
        path = self.home / CONFIG_FILE
        text = json.dumps(data, indent=2) + "\n"
        with open(path, "w", encoding="utf-8", opener=_private_opener) as out:
            out.write(text)
        return stored != self.database_url

    @classmethod
    def load(cls, home: Path, **overrides: Any) -> GatewayConfig:
        """The config of ``home``: config.json, then XINLIAN_* variables, then the
        non-None ``overrides`` (command-line options)."""
        path = home / CONFIG_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: run `xinlian gateway init --home {home}` first"
            )
        clean = {k: v for k, v in overrides.items() if v is not None}
        return cls(home=home, **clean)

    @classmethod
    def default_db_url(cls, home: Path) -> str:
        return sqlite_url(home.resolve() / "gateway.db")


def _private_opener(path: str, flags: int) -> int:
    import os

    return os.open(path, flags, 0o600)


def _config_error(exc: ValidationError) -> ConfigError:
    """The first error of a validation, as one line naming its key."""
    error = exc.errors(include_url=False)[0]
    key = str(error["loc"][0]) if error["loc"] else "?"
    value = error.get("input")
    if error["type"] == "extra_forbidden":
        known = [name for name in GatewayConfig.model_fields if name != "home"]
        return UnknownKeyError(key, known)  # type: ignore[return-value]
    # pydantic words its messages "Input should be …": the error reads "wanted …"
    wanted = str(error["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
    if "db_url" in key:
        value = "***"
    return ConfigError(key, value, wanted)


def config_keys() -> dict[str, FieldInfo]:
    """The documented keys (every field but ``home``), for docs/configuration.md."""
    return {k: v for k, v in GatewayConfig.model_fields.items() if k != "home"}
