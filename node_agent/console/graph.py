"""A record's trace laid out as a graph, for a server-rendered SVG: the source
department and batch of each version on the left, the record in the middle, every
recipient on the right with the fields it received (and their masks) and its grant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH = 1100
ROW = 84
"""Vertical room for one box (px)."""
BOX_W = 330
BOX_H = 70
MID_W = 200
TOP = 20


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int
    lines: tuple[str, ...]
    kind: str  # source, record, recipient


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int
    label: str


@dataclass(frozen=True)
class Graph:
    width: int
    height: int
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]


def _mask(mask: str) -> str:
    return "原文" if mask == "keep" else mask


def _basis(d: dict[str, Any], all_public: bool) -> str:
    if d["grant_id"]:
        return f"授权 {d['grant_id']}"
    return "公开类别" if all_public else "企业自查"


def layout(record_id: str, trace: dict[str, Any], public: set[str]) -> Graph:
    """``public``: the catalog's public categories (a disclosure without a grant was either
    of one of them or the enterprise's own query)."""
    sources, recipients = trace["sources"], trace["destinations"]
    rows = max(len(sources), len(recipients), 1)
    height = TOP * 2 + rows * ROW
    mid_x = (WIDTH - MID_W) // 2
    mid_y = height // 2 - BOX_H // 2
    record = Box(mid_x, mid_y, MID_W, BOX_H, ("记录", record_id), "record")
    boxes, edges = [record], []
    all_public = bool(sources) and all(s["category"] in public for s in sources)
    for i, s in enumerate(sources):
        y = TOP + i * ROW + (rows - len(sources)) * ROW // 2
        lines = (
            f"来源 {s['source_node_id']}",
            f"批次 {s['batch_id']} · v{s['version']}",
            f"{s['category']} · 条目 {s['ledger_index']}",
        )
        boxes.append(Box(10, y, BOX_W, BOX_H, lines, "source"))
        edges.append(Edge(10 + BOX_W, y + BOX_H // 2, mid_x, mid_y + BOX_H // 2, "推送"))
    for i, d in enumerate(recipients):
        y = TOP + i * ROW + (rows - len(recipients)) * ROW // 2
        x = WIDTH - BOX_W - 10
        fields = ", ".join(f"{f}={_mask(m)}" for f, m in d["fields"])
        lines = (
            f"去向 {d['consumer_node_id']}",
            fields,
            f"{_basis(d, all_public)} · {d['purpose']} · 条目 {d['ledger_index']}",
        )
        boxes.append(Box(x, y, BOX_W, BOX_H, lines, "recipient"))
        edges.append(Edge(mid_x + MID_W, mid_y + BOX_H // 2, x, y + BOX_H // 2, d["time"][:10]))
    return Graph(WIDTH, height, tuple(boxes), tuple(edges))


DISCLOSURE = "query"
"""The action of an entry that disclosed data to a consumer."""
BAR_PX = 400


def timeline(rows: list[dict[str, Any]]) -> list[tuple[str, int, int, int, int]]:
    """Per day (oldest first): disclosures (``query`` entries), other entries, and their
    bar widths in px (of ``BAR_PX`` for the busiest day)."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        day = counts.setdefault(row["time"][:10], [0, 0])
        day[0 if row["action"] == DISCLOSURE else 1] += 1
    top = max((a + b for a, b in counts.values()), default=1)
    return [
        (day, a, b, a * BAR_PX // top, b * BAR_PX // top) for day, (a, b) in sorted(counts.items())
    ]
