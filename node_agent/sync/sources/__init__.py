"""Where a category's rows come from: :func:`open_source` picks the kind."""

from __future__ import annotations

from node_agent.sync.config import CategoryConfig
from node_agent.sync.sources.base import Page, Source


def open_source(config: CategoryConfig) -> Source:
    kind = config.source.kind
    if kind == "sql":
        from node_agent.sync.sources.sql import SqlSource

        return SqlSource(config.source)
    if kind == "directory":
        from node_agent.sync.sources.directory import DirectorySource

        return DirectorySource(config.source)
    from node_agent.sync.sources.http import HttpSource

    return HttpSource(config.source)


__all__ = ["Page", "Source", "open_source"]
