"""The agent's sync config: one TOML file (``xinlian agent sync --config agent.toml``).

Read with :mod:`tomllib` into frozen values; every problem is a :class:`SyncConfigError`
naming the key (the command prints it as one line and exits 2). Secrets are never in
the file: a source names an environment variable (``password_env`` / ``token_env``) or a
file (``password_file`` / ``token_file``) holding them (``node_agent.sync.secrets``). The
format, with a full example per source kind, is in ``docs/agent.md``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node_agent.push_batches import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE

DEFAULT_PAGE_SIZE = 20_000  # source rows read (and pushed) before the watermark is saved
MAX_PAGE_SIZE = 100_000
DEFAULT_POLL_INTERVAL_S = 60.0  # how often a ``realtime`` category is polled
MIN_INTERVAL_S = 1.0
DEFAULT_RENEW_BEFORE_DAYS = 30
DEFAULT_WARN_WORKDAYS = 2
DEFAULT_TIMEZONE = "Asia/Shanghai"
SOURCE_KINDS = ("sql", "directory", "http")
WATERMARK_KINDS = ("time", "id")
VERSION_KINDS = ("integer", "time")
PAGING_KINDS = ("cursor", "window")


class SyncConfigError(ValueError):
    """The config cannot be used as written; the message names the key."""


TOP_KEYS = frozenset(
    {
        "identity", "state_dir", "gateway", "batch_size", "page_size", "poll_interval_s",
        "metrics_port", "renew_before_days", "warn_workdays", "calendar_dirs", "category",
    }
)  # fmt: skip
CATEGORY_KEYS = frozenset({"id", "interval_s", "source", "mapping"})
MAPPING_KEYS = frozenset(
    {
        "credit_code", "record_id", "version", "version_kind", "event_time", "fields",
        "deleted", "deleted_values", "timezone",
    }
)  # fmt: skip
FIELD_KEYS = frozenset({"column", "unit", "codes", "format"})
_SECRETS = ("password", "password_env", "password_file", "token", "token_env", "token_file")
SOURCE_KEYS = {
    "sql": frozenset({"kind", "url", "query", "watermark", *_SECRETS}),
    "directory": frozenset({"kind", "path", "after", "done_dir", "watermark"}),
    "http": frozenset(
        {"kind", "url", "paging", "items_key", "next_key", "start", "watermark", *_SECRETS}
    ),
}


def _known(raw: dict[str, Any], keys: frozenset[str], where: str) -> None:
    """An unknown key is an error naming it (a typo must not be silently ignored)."""
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise SyncConfigError(
            f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(keys))}"
        )


@dataclass(frozen=True)
class FieldMap:
    """Where one catalog field comes from and how it is converted."""

    column: str
    unit: str = ""  # amounts: "yuan" (as is) or "wan_yuan" (万元, × 10,000)
    codes: dict[str, str] = field(default_factory=dict)  # source code → catalog value
    format: str = ""  # dates read from text: a strptime format, e.g. "%Y%m%d"


@dataclass(frozen=True)
class MappingConfig:
    credit_code: str
    record_id: tuple[str, ...]
    version: str
    version_kind: str
    event_time: str
    fields: dict[str, FieldMap]
    deleted: str = ""  # column flagging a deleted row (its withdrawal)
    deleted_values: tuple[str, ...] = ("1", "true", "t", "y", "yes")
    timezone: str = DEFAULT_TIMEZONE  # naive source times are read in this zone


@dataclass(frozen=True)
class SourceConfig:
    kind: str
    options: dict[str, Any]  # the kind's own keys (see sources/*)

    def text(self, key: str, default: str | None = None) -> str:
        value = self.options.get(key, default)
        if not isinstance(value, str) or not value:
            raise SyncConfigError(f"source.{key}: got {value!r}, want text")
        return value

    def optional(self, key: str, default: str = "") -> str:
        value = self.options.get(key, default)
        if not isinstance(value, str):
            raise SyncConfigError(f"source.{key}: got {value!r}, want text")
        return value


@dataclass(frozen=True)
class CategoryConfig:
    id: str
    source: SourceConfig
    mapping: MappingConfig
    interval_s: float | None = None  # None: from the catalog's update frequency


@dataclass(frozen=True)
class SyncConfig:
    path: Path
    identity: Path
    state_dir: Path
    categories: tuple[CategoryConfig, ...]
    gateway: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    page_size: int = DEFAULT_PAGE_SIZE
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    metrics_port: int | None = None
    renew_before_days: int = DEFAULT_RENEW_BEFORE_DAYS
    warn_workdays: int = DEFAULT_WARN_WORKDAYS
    calendar_dirs: tuple[Path, ...] = ()

    def category(self, category_id: str) -> CategoryConfig:
        for item in self.categories:
            if item.id == category_id:
                return item
        known = ", ".join(c.id for c in self.categories)
        raise SyncConfigError(f"category: got {category_id!r}, want one of {known}")


def load_config(path: Path) -> SyncConfig:
    """Read and check ``path``; raises :class:`SyncConfigError`."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SyncConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SyncConfigError(f"{path}: not TOML: {exc}") from None
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path) -> SyncConfig:
    base = path.parent
    _known(raw, TOP_KEYS, "config")
    categories = raw.get("category")
    if not isinstance(categories, list) or not categories:
        raise SyncConfigError("category: want at least one [[category]] table")
    parsed = tuple(_category(item, n) for n, item in enumerate(categories))
    ids = [c.id for c in parsed]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise SyncConfigError(f"category: {', '.join(twice)} configured twice")
    metrics_port = raw.get("metrics_port")
    if metrics_port is not None:
        metrics_port = _int(raw, "metrics_port", 0, 1, 65535)
    return SyncConfig(
        path=path,
        identity=base / _text(raw, "identity", "identity"),
        state_dir=base / _text(raw, "state_dir", "state_dir"),
        categories=parsed,
        gateway=raw.get("gateway") or None,
        batch_size=_int(raw, "batch_size", DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE),
        page_size=_int(raw, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
        poll_interval_s=_seconds(raw, "poll_interval_s", DEFAULT_POLL_INTERVAL_S),
        metrics_port=metrics_port,
        renew_before_days=_int(raw, "renew_before_days", DEFAULT_RENEW_BEFORE_DAYS, 1, 365),
        warn_workdays=_int(raw, "warn_workdays", DEFAULT_WARN_WORKDAYS, 0, 60),
        calendar_dirs=tuple(base / str(d) for d in raw.get("calendar_dirs", [])),
    )


def _category(raw: Any, n: int) -> CategoryConfig:
    where = f"category[{n}]"
    if not isinstance(raw, dict):
        raise SyncConfigError(f"{where}: want a table")
    category_id = _text(raw, "id", f"{where}.id")
    where = f"category {category_id}"
    _known(raw, CATEGORY_KEYS, where)
    source = raw.get("source")
    if not isinstance(source, dict):
        raise SyncConfigError(f"{where}: want a [category.source] table")
    kind = source.get("kind")
    if kind not in SOURCE_KINDS:
        raise SyncConfigError(f"{where}: source.kind: got {kind!r}, want one of {SOURCE_KINDS}")
    _known(source, SOURCE_KEYS[str(kind)], f"{where}: source")
    mapping = raw.get("mapping")
    if not isinstance(mapping, dict):
        raise SyncConfigError(f"{where}: want a [category.mapping] table")
    interval = raw.get("interval_s")
    return CategoryConfig(
        id=category_id,
        source=SourceConfig(str(kind), dict(source)),
        mapping=_mapping(mapping, where),
        interval_s=None if interval is None else _seconds(raw, "interval_s", 0.0),
    )


def _mapping(raw: dict[str, Any], where: str) -> MappingConfig:
    _known(raw, MAPPING_KEYS, f"{where}: mapping")
    record_id = raw.get("record_id")
    if isinstance(record_id, str):
        record_id = [record_id]
    if (
        not isinstance(record_id, list)
        or not record_id
        or not all(isinstance(c, str) and c for c in record_id)
    ):
        raise SyncConfigError(f"{where}: mapping.record_id: want a column or a list of columns")
    version_kind = raw.get("version_kind", "integer")
    if version_kind not in VERSION_KINDS:
        raise SyncConfigError(
            f"{where}: mapping.version_kind: got {version_kind!r}, want one of {VERSION_KINDS}"
        )
    fields = raw.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise SyncConfigError(f"{where}: want a [category.mapping.fields] table")
    deleted_values = raw.get("deleted_values")
    return MappingConfig(
        credit_code=_text(raw, "credit_code", f"{where}: mapping.credit_code"),
        record_id=tuple(record_id),
        version=_text(raw, "version", f"{where}: mapping.version"),
        version_kind=str(version_kind),
        event_time=_text(raw, "event_time", f"{where}: mapping.event_time"),
        fields={
            name: _field(value, f"{where}: mapping.fields.{name}") for name, value in fields.items()
        },
        deleted=str(raw.get("deleted", "")),
        deleted_values=tuple(str(v).lower() for v in deleted_values)
        if isinstance(deleted_values, list)
        else MappingConfig.deleted_values,
        timezone=str(raw.get("timezone", DEFAULT_TIMEZONE)),
    )


def _field(raw: Any, where: str) -> FieldMap:
    if isinstance(raw, str) and raw:
        return FieldMap(column=raw)
    if not isinstance(raw, dict):
        raise SyncConfigError(f"{where}: want a column name or a table with column = …")
    _known(raw, FIELD_KEYS, where)
    unit = raw.get("unit", "")
    if unit not in ("", "yuan", "wan_yuan"):
        raise SyncConfigError(f"{where}.unit: got {unit!r}, want yuan or wan_yuan")
    codes = raw.get("codes", {})
    if not isinstance(codes, dict):
        raise SyncConfigError(f"{where}.codes: want a table of source code = catalog value")
    return FieldMap(
        column=_text(raw, "column", f"{where}.column"),
        unit=str(unit),
        codes={str(k): str(v) for k, v in codes.items()},
        format=str(raw.get("format", "")),
    )


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise SyncConfigError(f"{where}: got {value!r}, want text")
    return value


def _int(raw: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SyncConfigError(f"{key}: got {value!r}, want an integer {low}..{high}")
    return value


def _seconds(raw: dict[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < MIN_INTERVAL_S:
        raise SyncConfigError(f"{key}: got {value!r}, want at least {MIN_INTERVAL_S} seconds")
    return float(value)
