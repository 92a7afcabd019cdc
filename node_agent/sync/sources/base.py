"""What every source offers the runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class SourceError(RuntimeError):
    """The source cannot be read now (unreachable, a bad answer); the run stops, the
    watermark stays, the next run reads again."""


@dataclass
class Page:
    """Rows read after a watermark. ``watermark``: the value to save once every row is
    acknowledged; ``more``: more rows may follow at once; ``finish``: runs after the
    watermark is saved (e.g. moving a file out of the drop directory)."""

    rows: list[dict[str, Any]]
    watermark: Any
    more: bool
    finish: Callable[[], None] | None = None
    keys: list[Any] = field(default_factory=list)  # per row: its watermark value


class Source(Protocol):
    key_column: str  # the column whose values are the watermark ('' when none)

    def check(self, columns: set[str]) -> None:
        """At start: raise SyncConfigError if the source lacks a column the mapping reads."""

    def read(self, watermark: Any, limit: int) -> Page: ...

    def pending(self, watermark: Any) -> int | None:
        """Rows (or files) waiting after ``watermark``, when the source can tell."""

    def reread(self, keys: list[Any]) -> list[dict[str, Any]]:
        """The current rows for these watermark values (``xinlian agent resync``)."""

    def close(self) -> None: ...
