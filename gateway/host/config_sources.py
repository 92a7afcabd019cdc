"""Where the gateway's configuration comes from, apart from options: ``HOME/config.json``
(unknown keys refused with the closest known key) and ``XINLIAN_<KEY>`` variables, each
able to name the database URL through ``db_url_file``; and the one-line errors both give
(gateway.host.config holds the model itself)."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsError

from xinlian.exit_codes import CommandExit, ExitCode

CONFIG_FILE = "config.json"
ENV_PREFIX = "XINLIAN_"
SERVE_OPTIONS = frozenset({"listen", "enroll_listen", "log_format", "ops_listen"})


class ConfigError(CommandExit, ValueError):
    """A bad value for a key of ``config.json`` (or of the variable or option that
    overrides it): the command ends with exit code 2 (USAGE) and one line naming the key
    and what is wanted, no traceback."""

    def __init__(self, key: str, value: object, wanted: str, *, option: bool = True) -> None:
        where = f"config.json or {ENV_PREFIX}{key.upper()}"
        if option and key in SERVE_OPTIONS:
            where += f" or serve --{key.replace('_', '-')}"
        super().__init__(
            ExitCode.USAGE, f"error: {key} ({where}): {value!r} is invalid; wanted {wanted}"
        )
        self.key = key


class UnknownKeyError(CommandExit, ValueError):
    def __init__(self, key: str, known: list[str]) -> None:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        super().__init__(
            ExitCode.USAGE,
            f"error: {key} (config.json): unknown key{hint} (keys: docs/configuration.md)",
        )
        self.key = key


def read_db_url_file(data: dict[str, Any], home: Path | None) -> dict[str, Any]:
    """A source's ``db_url_file`` replaces its ``db_url`` with the file's first line."""
    ref = data.get("db_url_file")
    if not ref:
        return data
    path = Path(ref)
    if not path.is_absolute() and home is not None:
        path = home / path
    try:
        url = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            "db_url_file", str(ref), f"a readable file holding the URL ({exc.strerror})"
        ) from None
    if not url:
        raise ConfigError("db_url_file", str(ref), "a file holding the URL, not an empty one")
    return {**data, "db_url": url}


class ConfigFileSource(PydanticBaseSettingsSource):
    """``HOME/config.json``: unknown keys are refused here, with the closest known key."""

    def __init__(self, settings_cls: type[BaseSettings], home: Path | None) -> None:
        super().__init__(settings_cls)
        self.home = home

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        if self.home is None or not (self.home / CONFIG_FILE).exists():
            return {}
        path = self.home / CONFIG_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandExit(ExitCode.USAGE, f"error: {path}: not readable JSON ({exc})") from None
        if not isinstance(data, dict):
            raise CommandExit(ExitCode.USAGE, f"error: {path}: wanted a JSON object")
        known = [name for name in self.settings_cls.model_fields if name != "home"]
        for key in data:
            if key not in known:
                raise UnknownKeyError(key, known)
        return read_db_url_file(data, self.home)


class EnvironmentSource(PydanticBaseSettingsSource):
    """``XINLIAN_<KEY>`` variables (other ``XINLIAN_*`` variables are not config keys)."""

    def __init__(self, inner: PydanticBaseSettingsSource, home: Path | None) -> None:
        super().__init__(inner.settings_cls)
        self.inner, self.home = inner, home

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        try:
            data = self.inner()
        except SettingsError as exc:
            found = re.search(r'field "(\w+)"', str(exc))
            key = found.group(1) if found else "?"
            raise ConfigError(key, "(environment)", "a JSON value of the key's type") from None
        data.pop("home", None)  # XINLIAN_HOME names the home for the units, not a key
        return read_db_url_file(data, self.home)
