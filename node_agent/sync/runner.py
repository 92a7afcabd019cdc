"""One category's sync, page by page, exactly once.

For each page of source rows after the saved watermark:

1. map every row (``node_agent.sync.mapping``): a record, a local reject, or a withdrawal;
2. push the records over the agent's ordinary push path (``Pusher.push_inputs``: the same
   batching, signing and window as ``xinlian agent push``); a batch's id is derived from
   its records' canonical bytes, so a page read again after a crash is the same batch,
   and the gateway's idempotency (batch id, then (source, record id, version)) answers it
   with duplicates; the page's withdrawals go with ``WithdrawRecords``
   (``node_agent.sync.withdraw``, idempotent as well);
3. only when every batch and withdrawal of the page is acknowledged: save the verdicts
   (rejects with their reasons), the withdrawals and the new watermark in ONE transaction
   of the state file (``node_agent.sync.watermark``);
4. then the page's ``finish`` (a drop file is moved).

A crash before (3) re-reads the page and re-sends it: nothing is lost, and the gateway
stores nothing twice. A push that stops early leaves the watermark where it was.

Test hook (tests only): with ``XINLIAN_TESTING=1`` and
``XINLIAN_AGENT_TEST_KILL_AFTER_PUSH=1`` in the environment, the process SIGKILLs itself
between (2) and (3) — the moment a crash costs most — so a test can show that nothing is
lost or duplicated.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authz.catalog import Catalog
from node_agent.push import Pusher, RecordVerdict
from node_agent.push_batches import PushBatch
from node_agent.push_input import InputRecord
from node_agent.sync.config import CategoryConfig, SyncConfig
from node_agent.sync.mapping import MappedRow, Mapper
from node_agent.sync.sources import Page, Source, open_source
from node_agent.sync.watermark import SyncState
from node_agent.sync.withdraw import send_withdrawals
from xinlian.signing import canonical_json

KILL_HOOK_ENV = "XINLIAN_AGENT_TEST_KILL_AFTER_PUSH"  # test only: see the module docstring
BATCH_ID_PREFIX = "sync-"
BATCH_ID_HASH_CHARS = 48  # prefix + 48 hex characters: within the gateway's 64


def sync_batch_id(category: str, records: list[InputRecord]) -> str:
    """A batch id that depends only on the batch's records (and category)."""
    digest = hashlib.sha256(category.encode())
    for item in records:
        if item.record is not None:
            digest.update(b"\n" + (item.canonical or canonical_json(item.record.to_json())))
    return BATCH_ID_PREFIX + digest.hexdigest()[:BATCH_ID_HASH_CHARS]


def _test_kill_point() -> None:
    if os.environ.get("XINLIAN_TESTING") == "1" and os.environ.get(KILL_HOOK_ENV) == "1":
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class RunResult:
    category: str
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    withdrawn: int = 0
    pages: int = 0
    pending: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class CategorySync:
    """Syncs one configured category (see the module docstring)."""

    def __init__(
        self,
        config: SyncConfig,
        category: CategoryConfig,
        state: SyncState,
        catalog: Catalog,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.category = category
        self.state = state
        self.source: Source = open_source(category)
        self.mapper = Mapper(category, catalog, self.source.key_column)
        self.source.check(self.mapper.columns())
        self._now = now

    def close(self) -> None:
        self.source.close()

    def run(
        self, pusher: Pusher | None, show: Callable[[dict[str, Any]], None] | None = None
    ) -> RunResult:
        """Sync until the source has nothing more. ``pusher`` None with ``show``: a dry
        run (nothing sent, nothing saved; ``show`` gets what would be sent)."""
        result = RunResult(self.category.id)
        watermark = self.state.watermark(self.category.id)
        while True:
            page = self.source.read(watermark, self.config.page_size)
            result.pages += 1
            result.read += len(page.rows)
            if pusher is None:
                for n, row in enumerate(page.rows):
                    if show is not None:
                        show(_shown(self.mapper.row(n, row)))
            else:
                self._push_page(pusher, page, result)
            if not page.more or not page.rows:
                break
            watermark = page.watermark
        if pusher is not None:
            result.pending = self.source.pending(self.state.watermark(self.category.id))
        return result

    def _push_page(self, pusher: Pusher, page: Page, result: RunResult) -> None:
        keys: dict[int, Any] = {}  # record number → the row's watermark value
        withdrawn: list[str] = []
        verdicts: list[RecordVerdict] = []

        def mapped() -> Iterator[InputRecord]:
            """The page's records, mapped as the stream asks for them (mapping overlaps
            the gateway's work on the batches before)."""
            for number, row in enumerate(page.rows):
                out = self.mapper.row(number, row)
                if out.withdrawn:
                    withdrawn.append(out.record_id)
                elif out.item is not None:
                    keys[number] = out.key
                    yield out.item

        def on_batch(batch: PushBatch, outcome: list[RecordVerdict]) -> None:
            verdicts.extend(outcome)

        items = mapped()
        first = next(items, None)
        if first is not None:
            report = pusher.push_inputs(
                self.category.id,
                itertools.chain([first], items),
                sync_batch_id,
                on_batch,
                batch_size=self.config.batch_size,
            )
            result.accepted += report.accepted
            result.duplicates += report.duplicates
            result.rejected += report.rejected
        if withdrawn:
            outcomes = send_withdrawals(pusher.identity, self.category.id, withdrawn)
            result.withdrawn += sum(1 for o in outcomes.values() if o == "WITHDRAWN")
        _test_kill_point()
        self.state.commit(
            self.category.id,
            page.watermark,
            [(v, keys.get(v.item.number)) for v in verdicts],
            withdrawn,
            self._now(),
            read=len(page.rows),
        )
        if page.finish is not None:
            page.finish()

    def resync(self, pusher: Pusher) -> RunResult:
        """Re-read the rejected rows by their watermark value (an id watermark does not
        see a fixed row again) and push them; the watermark does not move."""
        result = RunResult(self.category.id)
        keys = [r.key for r in self.state.rejects(self.category.id) if r.key is not None]
        if not keys:
            return result
        rows = self.source.reread(keys)
        watermark = self.state.watermark(self.category.id)
        page = Page(rows, watermark, more=False, keys=[r.get(self.source.key_column) for r in rows])
        result.read, result.pages = len(rows), 1
        self._push_page(pusher, page, result)
        return result


def _shown(row: MappedRow) -> dict[str, Any]:
    if row.withdrawn:
        return {"withdraw": row.record_id}
    item = row.item
    if item is not None and item.record is not None:
        return {"record": item.record.to_json()}
    reason = item.reject if item is not None and item.reject else ("", "")
    return {"reject": row.record_id, "reason_code": reason[0], "message": reason[1]}


__all__ = ["KILL_HOOK_ENV", "CategorySync", "RunResult", "sync_batch_id"]
