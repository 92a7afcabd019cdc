"""What verification finds: ``Problem``, ``VerifyReport`` and what retention may have
deleted (``Retention``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from xinlian.batch import parse_time

MAX_PROBLEMS = 100
"""Problems collected before verification stops listing (it still counts them)."""
ROW_CHUNK = 16_384
"""Ledger rows read per query (index, leaf hash and body only)."""
CANDIDATE_CHUNK = 500
"""Rows re-checked in Python per query (those the engine's column check flagged)."""
BATCH_CHUNK = 500
"""Batches (with their records) read per query."""

_LEAF_PREFIX = b"\x00"

EntryBodies = dict[int, bytes | None]
"""Ledger entry bodies by index (None: pruned)."""


@dataclass(frozen=True)
class Problem:
    """One finding. ``kind`` is ledger, head, checkpoint, batch or record. A finding
    about a range of entries (``ROOT_MISMATCH`` that the checkpoints cannot narrow
    further, ``UNCOVERED_TAIL``) has ``first_index`` and ``last_index`` (inclusive), and
    ``index`` is ``first_index``."""

    kind: str
    code: str
    message: str
    index: int | None = None
    object_id: str | None = None
    first_index: int | None = None
    last_index: int | None = None

    @property
    def is_interval(self) -> bool:
        """Some entry in ``first_index..last_index`` was changed, which one is unknown."""
        return self.code == "ROOT_MISMATCH" and self.first_index is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "message": self.message,
            "index": self.index,
            "first_index": self.first_index,
            "last_index": self.last_index,
            "object": self.object_id,
        }


@dataclass
class VerifyReport:
    tree_size: int = 0
    root_hash: bytes = b""
    entries: int = 0
    pruned: int = 0
    checkpoints: int = 0
    batches: int = 0
    erased_batches: int = 0
    records: int = 0
    scan_processes: int = 1
    covered_size: int = 0
    """Entries ``0..covered_size-1`` are covered by a validly signed checkpoint."""
    uncovered: int = 0
    """Entries after ``covered_size`` up to the head: covered by no checkpoint."""
    tiles: int = 0
    """Stored tiles checked (``gateway.verify.tiles``)."""
    tiled_size: int = 0
    """The tree size the stored tiles cover."""
    problem_count: int = 0
    problems: list[Problem] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)
    """Findings that do not fail the report (``UNCOVERED_TAIL`` unless required)."""
    witnessed: list[Any] = field(default_factory=list)
    """The checkpoints peers cosigned, and by whom (``gateway.verify.witnesses``)."""

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first_bad_index(self) -> int | None:
        indices = [p.index for p in self.problems if p.index is not None]
        return min(indices) if indices else None

    @property
    def first_bad_interval(self) -> tuple[int, int] | None:
        """``[a, b)`` when the first bad index is only known to lie in an interval (the
        checkpoints allow no narrower one; ``a`` is ``first_bad_index``), else None."""
        first = self.first_bad_index
        at = [p for p in self.problems if p.index is not None and p.index == first]
        if not at or not all(p.is_interval for p in at):
            return None
        last = min(p.last_index for p in at if p.last_index is not None)
        return (at[0].first_index or 0, last + 1)

    @property
    def uncovered_range(self) -> tuple[int, int] | None:
        """First and last index (inclusive) of the entries no checkpoint covers."""
        if not self.uncovered:
            return None
        return (self.covered_size, self.covered_size + self.uncovered - 1)

    @property
    def first_bad_object(self) -> str | None:
        for problem in self.problems:
            if problem.kind in ("batch", "record", "tile"):
                return problem.object_id
        return None

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "entries": self.entries,
            "pruned": self.pruned,
            "checkpoints": self.checkpoints,
            "batches": self.batches,
            "erased_batches": self.erased_batches,
            "records": self.records,
            "scan_processes": self.scan_processes,
            "covered_size": self.covered_size,
            "uncovered": self.uncovered,
            "uncovered_range": list(r) if (r := self.uncovered_range) else None,
            "tiles": self.tiles,
            "tiled_size": self.tiled_size,
            "first_bad_index": self.first_bad_index,
            "first_bad_interval": list(i) if (i := self.first_bad_interval) else None,
            "first_bad_object": self.first_bad_object,
            "problem_count": self.problem_count,
            "problems": [p.to_json() for p in self.problems],
            "notices": [p.to_json() for p in self.notices],
            "witnessed": [w.to_json() for w in self.witnessed],
        }


@dataclass(frozen=True)
class Retention:
    """What retention may have deleted: records of ``negative_categories`` whose signed
    event time is before ``negative_cutoff`` (see ``gateway.flows.retention``)."""

    negative_categories: frozenset[str] = frozenset()
    negative_cutoff: datetime | None = None

    def allows_missing(self, category: str, item: dict[str, Any]) -> bool:
        if self.negative_cutoff is None or category not in self.negative_categories:
            return False
        try:
            return parse_time(str(item.get("event_time"))) < self.negative_cutoff
        except ValueError:
            return False


def _problem_order(problem: Problem) -> tuple[int, int]:
    index = problem.index if problem.index is not None else 2**63
    return (index, 0 if problem.kind == "ledger" else 1)


def _batch_name(batch: Any) -> str:
    return f"batch {batch.node_id}/{batch.batch_id}"


def _record_name(rec: Any) -> str:
    return f"{rec.source_node_id}/{rec.record_id}@{rec.version}"
