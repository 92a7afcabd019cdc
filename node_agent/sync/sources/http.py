"""An HTTP JSON API, read page by page (the standard library's ``urllib``: a handful of
GET requests a run need no client library, and the agent gains no dependency).

Every answer is a JSON object whose ``items_key`` (default ``items``) is a list of row
objects. Two ways to page:

* ``paging = "cursor"``: ``GET url?cursor=<saved>&limit=<page>``; the answer's
  ``next_key`` (default ``next_cursor``) is the next cursor, saved as the watermark once
  the page is acknowledged. An answer without one (or with an empty page) ends the run;
  the saved cursor stays.
* ``paging = "window"``: ``GET url?since=<from>&until=<to>&page=<n>&limit=<page>``
  (UTC, RFC 3339): the window runs from the end of the last one (or ``start``) to now;
  its pages are numbered from 1, and a short page ends it. The watermark is the window
  and the next page, so a crash resumes inside the window.

A bearer token comes from ``token_env`` or ``token_file``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from node_agent.sync.config import SourceConfig, SyncConfigError
from node_agent.sync.secrets import read_secret
from node_agent.sync.sources.base import Page, SourceError

TIMEOUT_S = 60.0
MAX_ANSWER_BYTES = 256 * 1024 * 1024


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class HttpSource:
    key_column = ""

    def __init__(
        self, config: SourceConfig, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.url = config.text("url")
        if urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            raise SyncConfigError(f"source.url: got {self.url!r}, want an http(s) URL")
        self.paging = config.optional("paging", "cursor")
        if self.paging not in ("cursor", "window"):
            raise SyncConfigError(f"source.paging: got {self.paging!r}, want cursor or window")
        self.items_key = config.optional("items_key", "items")
        self.next_key = config.optional("next_key", "next_cursor")
        self.start = config.optional("start", "1970-01-01T00:00:00Z")
        self._token = read_secret(config, "token")
        self._now = now

    def close(self) -> None:
        pass

    def check(self, columns: set[str]) -> None:
        pass  # each row is checked by the mapping (a missing column rejects the row)

    def _get(self, params: dict[str, str]) -> dict[str, Any]:
        url = self.url + ("&" if "?" in self.url else "?") + urllib.parse.urlencode(params)
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                body = answer.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise SourceError(f"source answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SourceError(f"source unreachable: {getattr(exc, 'reason', exc)}") from None
        if len(body) > MAX_ANSWER_BYTES:
            raise SourceError(f"source answer over {MAX_ANSWER_BYTES} bytes")
        try:
            data = json.loads(body)
        except ValueError:
            raise SourceError("source answered with text that is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get(self.items_key), list):
            raise SourceError(f"source answer: want an object with a list {self.items_key!r}")
        return data

    def _items(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            row if isinstance(row, dict) else {"_malformed": row} for row in data[self.items_key]
        ]

    def read(self, watermark: Any, limit: int) -> Page:
        if self.paging == "cursor":
            params = {"limit": str(limit)}
            if watermark:
                params["cursor"] = str(watermark)
            data = self._get(params)
            rows = self._items(data)
            following = data.get(self.next_key)
            if not following or not rows:
                return Page(rows, following if following else watermark, more=False)
            return Page(rows, str(following), more=following != watermark)
        window = watermark if isinstance(watermark, dict) else {"since": self.start}
        since = str(window["since"])
        until = str(window.get("until") or _iso(self._now()))
        page = int(window.get("page", 1))
        data = self._get({"since": since, "until": until, "page": str(page), "limit": str(limit)})
        rows = self._items(data)
        if len(rows) < limit:  # the window is done: the next one starts at its end
            return Page(rows, {"since": until}, more=False)
        return Page(rows, {"since": since, "until": until, "page": page + 1}, more=True)

    def pending(self, watermark: Any) -> int | None:
        return None

    def reread(self, keys: list[Any]) -> list[dict[str, Any]]:
        raise SyncConfigError(
            "resync re-reads rows by id from an sql source; an http source re-sends a "
            "fixed record when the API returns it again"
        )
