"""A small per-process cache whose entries expire: the registry's view of a node (the gate),
grants and enterprise state (the grants flow)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

MAX_CACHE_ENTRIES = 100_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A small dict with a per-entry age limit (monotonic clock) and a size bound (full, it
    is emptied)."""

    def __init__(self, ttl_s: float, max_entries: int = MAX_CACHE_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._data: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        if time.monotonic() - hit[0] >= self.ttl_s:
            del self._data[key]
            return None
        return hit[1]

    def put(self, key: K, value: V, loaded_at: float) -> None:
        """Store ``value`` read at ``loaded_at`` (taken BEFORE the read began)."""
        if len(self._data) >= self.max_entries:
            self._data.clear()
        self._data[key] = (loaded_at, value)

    def invalidate(self, key: K) -> None:
        self._data.pop(key, None)

    def invalidate_where(self, predicate: Callable[[K], bool]) -> None:
        for key in [k for k in self._data if predicate(k)]:
            del self._data[key]

    def clear(self) -> None:
        self._data.clear()
