"""The monthly report (月度通报) as one self-contained HTML file: the statistics' tables
and charts drawn with matplotlib (Agg canvas, no display) embedded as base64 PNG.

Chinese labels need a CJK font. ``cjk_font`` looks one up in matplotlib's font manager
(Debian's ``fonts-noto-cjk`` gives "Noto Sans CJK SC"); without one the report is not
written and the error names the package, rather than drawing empty boxes.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from node_agent.statistics import rows_as_dicts, table
from xinlian.workdays import SHANGHAI

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Serif CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
)
"""Font families tried for the charts' Chinese labels, in order."""
CJK_PACKAGE = "fonts-noto-cjk"
CHART_DPI = 110
TITLE = "月度通报"


class CjkFontMissing(Exception):
    """No font with Chinese glyphs is installed; the message says what to install."""


def cjk_font(installed: Iterable[str] | None = None) -> str:
    """The first of ``CJK_FAMILIES`` that is installed (``installed``: the font family
    names to choose from; by default matplotlib's font manager's)."""
    if installed is None:
        from matplotlib import font_manager

        installed = (f.name for f in font_manager.fontManager.ttflist)
    names = set(installed)
    for family in CJK_FAMILIES:
        if family in names:
            return family
    raise CjkFontMissing(
        "no CJK font for the report's Chinese labels: install Debian's "
        f"{CJK_PACKAGE} (sudo apt-get install -y {CJK_PACKAGE})"
    )


def _ints(rows: Sequence[dict[str, str]], column: str) -> list[int]:
    return [int(r[column]) if r[column].isdigit() else 0 for r in rows]


def _sum_by(
    rows: Sequence[dict[str, str]], key: str, columns: Sequence[str]
) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row in rows:
        totals = out.setdefault(row[key], [0] * len(columns))
        for i, column in enumerate(columns):
            totals[i] += int(row[column]) if row[column].isdigit() else 0
    return out


def _bars(
    family: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    stacked: bool = False,
) -> str:
    """A horizontal bar chart as a base64 PNG (``data:`` URL)."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    with rc_context({"font.family": [family], "axes.unicode_minus": False}):
        height = 1.6 + 0.45 * max(len(labels), 1) * (1 if stacked else max(len(series), 1) * 0.6)
        figure = Figure(figsize=(7.5, height), dpi=CHART_DPI, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        positions = list(range(len(labels)))
        width = 0.8 if stacked else 0.8 / max(len(series), 1)
        left = [0] * len(labels)
        for i, (name, values) in enumerate(series):
            if stacked:
                axes.barh(positions, values, height=width, left=left, label=name)
                left = [a + b for a, b in zip(left, values, strict=True)]
            else:
                shifted = [p - 0.4 + width * (i + 0.5) for p in positions]
                axes.barh(shifted, values, height=width, label=name)
        axes.set_yticks(positions, labels)
        axes.invert_yaxis()
        axes.set_title(title)
        figure.legend(loc="outside lower center", ncol=len(series), fontsize="small")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def charts(document: dict[str, Any], family: str) -> list[tuple[str, str | None]]:
    """(title, data URL or None when the month has no such data) per chart."""
    out: list[tuple[str, str | None]] = []
    pushes = rows_as_dicts(table(document, "department_categories"))
    columns = ("on_time", "late", "not_assessed")
    by_department = _sum_by(pushes, "department", columns)
    title = "各部门新增记录及时情况"
    out.append(
        (
            title,
            _bars(
                family,
                title,
                list(by_department),
                [
                    (label, [v[i] for v in by_department.values()])
                    for i, label in enumerate(("按时", "迟报", "未评估"))
                ],
                stacked=True,
            )
            if by_department
            else None,
        )
    )
    rejects = _sum_by(
        rows_as_dicts(table(document, "department_rejects")),
        "reason",
        ("records", "batches_refused"),
    )
    title = "拒收原因"
    out.append(
        (
            title,
            _bars(
                family,
                title,
                list(rejects),
                [
                    ("拒收记录", [v[0] for v in rejects.values()]),
                    ("整批拒收", [v[1] for v in rejects.values()]),
                ],
            )
            if rejects
            else None,
        )
    )
    consumers = [r for r in rows_as_dicts(table(document, "consumers")) if r["queries"] != "0"]
    title = "机构与平台查询"
    out.append(
        (
            title,
            _bars(
                family,
                title,
                [r["node"] for r in consumers],
                [
                    ("查询", _ints(consumers, "queries")),
                    ("被拒查询", _ints(consumers, "denied_queries")),
                ],
            )
            if consumers
            else None,
        )
    )
    objections = [
        r
        for r in rows_as_dicts(table(document, "objections"))
        if any(r[c] != "0" for c in ("received", "answered", "overdue_open"))
    ]
    title = "异议处理"
    out.append(
        (
            title,
            _bars(
                family,
                title,
                [r["department"] for r in objections],
                [
                    ("收到", _ints(objections, "received")),
                    ("答复", _ints(objections, "answered")),
                    ("逾期未答复", _ints(objections, "overdue_open")),
                ],
            )
            if objections
            else None,
        )
    )
    return out


_STYLE = """
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; }
th { background: #eef; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
th small { display: block; color: #666; font-weight: normal; }
.notes li { color: #844; } img { max-width: 100%; }
"""


def _table_html(item: dict[str, Any]) -> str:
    e = html.escape
    head = "".join(
        f"<th>{e(c['label'])}<small>{e(c['name'])}</small></th>" for c in item["columns"]
    )
    kinds = [c["kind"] for c in item["columns"]]
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{e(cell)}</td>' if kind != "text" else f"<td>{e(cell)}</td>"
            for cell, kind in zip(row, kinds, strict=True)
        )
        + "</tr>"
        for row in item["rows"]
    )
    if not item["rows"]:
        body = f'<tr><td colspan="{len(kinds)}">本月无数据</td></tr>'
    return (
        f'<h2 id="{e(item["name"])}">{e(item["title"])}</h2>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _local(stamp: str) -> str:
    """An RFC 3339 UTC time of the document as Asia/Shanghai wall time."""
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(SHANGHAI)
    return f"{when:%Y-%m-%d %H:%M}"


def render(document: dict[str, Any], family: str) -> str:
    """The whole report, one HTML page (no external resources)."""
    e = html.escape
    month = document["month"]
    figures = "".join(
        f'<figure><img alt="{e(title)}" src="{url}"></figure>'
        if url
        else f"<p>{e(title)}: 本月无数据</p>"
        for title, url in charts(document, family)
    )
    notes = "".join(f"<li>{e(note)}</li>" for note in document["notes"])
    tables = "".join(_table_html(item) for item in document["tables"])
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{TITLE} {e(month)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{TITLE} {e(month)}</h1>"
        f"<p>统计期间 {_local(document['period_start'])} 至 {_local(document['period_end'])}"
        f"(北京时间, 不含结束时刻); 状态截至 {_local(document['as_of'])}; "
        f"账本条目 0-{int(document['ledger_size']) - 1}; "
        f"本次统计的账本记录 #{e(str(document['ledger_index']))}</p>"
        f'<ul class="notes">{notes}</ul>{figures}{tables}</body></html>\n'
    )


__all__ = ["CJK_FAMILIES", "TITLE", "CjkFontMissing", "charts", "cjk_font", "render"]
