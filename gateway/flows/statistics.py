"""Monthly statistics (月度通报) for security officers and administrators.

``monthly_statistics`` follows these steps:

1. the month: ``YYYY-MM``, a month that has begun, whose year the working-day calendar
   has (else ``UnknownCalendarYear``, FAILED_PRECONDITION ``CALENDAR_YEAR_UNKNOWN``: the
   report never guesses a holiday); the period is ``[first day 00:00, next month's first
   day 00:00)`` Asia/Shanghai, and states at its end are taken at ``as_of = min(end,
   now)``;
2. one read snapshot: the ledger size, the period's entries of
   ``audit.period_counts.PERIOD_ACTIONS`` below it, the first versions of records
   received in the period, grants active and objections overdue at ``as_of``, the
   departments and consumers admitted or suspended;
3. the counts (``audit.period_counts``), timeliness and gaps (``authz.timeliness``),
   laid out as named tables (``TABLES``: docs/report.md defines every column);
4. the request is itself a ledger entry (``audit.search``, details ``{"kind":
   "statistics", "month": …}``), committed before the figures leave: it reads the
   whole ledger of a month and reveals each node's use, as a search does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Connection

from audit.entry import Action
from audit.period_counts import PERIOD_ACTIONS, PeriodCounts
from authz.catalog import Catalog
from authz.timeliness import Gap, TimelinessReport, assess, gaps
from gateway.core.caller import Caller
from gateway.flows.runtime import Runtime, new_trace_id
from gateway.store import statistics_reads as reads
from gateway.store.ledger import head_size
from gateway.store.timeutil import to_us
from xinlian.errors import InvalidArgument
from xinlian.workdays import SHANGHAI, WorkdayCalendar

MONTH_RE = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
DEPARTMENT_KINDS = ("department",)
CONSUMER_KINDS = ("institution", "city_platform", "gateway")
NOT_APPLICABLE = "n/a"
"""What a cell reads where there is nothing to count: a share of nothing assessed, or a
feature that has not landed (subscriptions)."""

TEXT, INTEGER, SHARE = "text", "integer", "share"

# table name -> (Chinese title, ((column name, Chinese label, kind), ...))
TABLES: dict[str, tuple[str, tuple[tuple[str, str, str], ...]]] = {
    "summary": (
        "总览",
        (("metric", "指标", TEXT), ("label", "名称", TEXT), ("value", "数值", TEXT)),
    ),
    "department_categories": (
        "部门推送与及时率",
        (
            ("department", "部门", TEXT),
            ("category", "数据类别", TEXT),
            ("category_name", "类别名称", TEXT),
            ("deadline_days", "更新时限(工作日)", INTEGER),
            ("batches", "批次", INTEGER),
            ("records", "新增记录", INTEGER),
            ("duplicates", "重复", INTEGER),
            ("rejected", "拒收记录", INTEGER),
            ("assessed", "参评记录", INTEGER),
            ("on_time", "按时", INTEGER),
            ("late", "迟报", INTEGER),
            ("not_assessed", "未评估", INTEGER),
            ("on_time_share", "及时率", SHARE),
        ),
    ),
    "department_rejects": (
        "拒收原因",
        (
            ("department", "部门", TEXT),
            ("category", "数据类别", TEXT),
            ("reason", "原因", TEXT),
            ("records", "拒收记录", INTEGER),
            ("batches_refused", "整批拒收", INTEGER),
        ),
    ),
    "missing_categories": (
        "无数据类别(漏报)",
        (
            ("department", "部门", TEXT),
            ("category", "数据类别", TEXT),
            ("category_name", "类别名称", TEXT),
            ("update_frequency", "更新频率", TEXT),
            ("gap", "计为漏报", TEXT),
        ),
    ),
    "consumers": (
        "机构与平台使用情况",
        (
            ("node", "节点", TEXT),
            ("kind", "类型", TEXT),
            ("queries", "查询", INTEGER),
            ("denied_queries", "被拒查询", INTEGER),
            ("denied_categories", "被拒类别", INTEGER),
            ("grants_new", "新增授权", INTEGER),
            ("grants_active", "有效授权", INTEGER),
            ("enterprises_registered", "登记企业", INTEGER),
            ("refused_calls", "被拒调用", INTEGER),
            ("subscriptions", "订阅", TEXT),
        ),
    ),
    "consumer_denials": (
        "拒绝原因",
        (
            ("node", "节点", TEXT),
            ("kind", "类型", TEXT),
            ("source", "拒绝环节", TEXT),
            ("reason", "原因", TEXT),
            ("denials", "次数", INTEGER),
        ),
    ),
    "objections": (
        "异议处理",
        (
            ("department", "部门", TEXT),
            ("received", "收到", INTEGER),
            ("answered", "答复", INTEGER),
            ("answered_late", "逾期答复", INTEGER),
            ("overdue_open", "逾期未答复", INTEGER),
        ),
    ),
}


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: str  # TEXT | INTEGER | SHARE


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Period:
    month: str  # YYYY-MM
    start: datetime  # aware, Asia/Shanghai
    end: datetime


@dataclass(frozen=True)
class MonthlyStatistics:
    period: Period
    as_of: datetime
    ledger_size: int
    tables: tuple[Table, ...]
    notes: tuple[str, ...]
    ledger_index: int = -1  # the request's own audit.search entry


def parse_month(text: str, calendar: WorkdayCalendar, now: datetime) -> Period:
    """Step (1): the month as a period; its year must be in ``calendar``."""
    match = MONTH_RE.fullmatch(text)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise InvalidArgument.field("month", text, "a month YYYY-MM, e.g. 2025-03")
    year, month = int(match.group(1)), int(match.group(2))
    if year < 1991:
        raise InvalidArgument.field("month", text, "a month from 1991 on")
    first = date(year, month, 1)
    calendar.is_workday(first)  # raises UnknownCalendarYear for a year with no file
    following = date(year + month // 12, month % 12 + 1, 1)
    start = datetime(first.year, first.month, 1, tzinfo=SHANGHAI)
    if start > now:
        raise InvalidArgument.field("month", text, "a month that has begun")
    end = datetime(following.year, following.month, 1, tzinfo=SHANGHAI)
    return Period(text, start, end)


@dataclass
class _Read:
    """What step (2) read, in one snapshot."""

    ledger_size: int = 0
    counts: PeriodCounts = field(default_factory=PeriodCounts)
    pruned: int = 0
    timeliness: TimelinessReport = field(default_factory=TimelinessReport)
    grants_active: dict[str, int] = field(default_factory=dict)
    overdue: dict[str, int] = field(default_factory=dict)
    departments: list[reads.ListedNode] = field(default_factory=list)
    consumers: list[reads.ListedNode] = field(default_factory=list)


def _read(
    conn: Connection, period: Period, as_of: datetime, catalog: Catalog, calendar: WorkdayCalendar
) -> _Read:
    """Step (2), and the counting of step (3) as the rows stream by."""
    out = _Read(ledger_size=head_size(conn))
    start_us, end_us = to_us(period.start), to_us(period.end)
    actions = [a.value for a in PERIOD_ACTIONS]
    for entry in reads.period_entries(conn, actions, start_us, end_us, out.ledger_size):
        if entry.pruned:
            out.pruned += 1
            continue
        out.counts.add(entry.action, entry.actor, entry.actor_kind, entry.outcome, entry.details)
    records = reads.first_versions_received(conn, start_us, end_us)
    out.timeliness = assess(records, catalog, calendar)
    out.grants_active = reads.active_grants(conn, to_us(as_of))
    out.overdue = reads.overdue_objections(conn, to_us(as_of))
    out.departments = reads.listed_nodes(conn, DEPARTMENT_KINDS)
    out.consumers = reads.listed_nodes(conn, CONSUMER_KINDS)
    return out


def share(part: int, whole: int) -> str:
    """``part / whole`` with four decimals, or ``n/a`` when ``whole`` is 0."""
    return f"{part / whole:.4f}" if whole else NOT_APPLICABLE


def _table(name: str, rows: Iterable[Iterable[object]]) -> Table:
    title, columns = TABLES[name]
    return Table(
        name,
        title,
        tuple(Column(*c) for c in columns),
        tuple(tuple(str(cell) for cell in row) for row in rows),
    )


def _department_tables(data: _Read, catalog: Catalog) -> tuple[list[Table], list[Gap]]:
    counts, timeliness = data.counts, data.timeliness.counts
    keys = sorted(set(counts.pushes) | set(timeliness))
    rows = []
    for department, category_id in keys:
        push = counts.pushes.get((department, category_id))
        t = timeliness.get((department, category_id))
        category = catalog.get(category_id)
        on_time, late = (t.on_time, t.late) if t else (0, 0)
        rows.append(
            (
                department,
                category_id,
                category.name_zh if category else "",
                category.update_deadline_days if category else "",
                push.batches if push else 0,
                push.accepted if push else 0,
                push.duplicates if push else 0,
                push.rejected if push else 0,
                on_time + late,
                on_time,
                late,
                t.not_assessed if t else 0,
                share(on_time, on_time + late),
            )
        )
    reasons = sorted(set(counts.rejects) | set(counts.refused_batches))
    rejects = [
        (d, c, r, counts.rejects.get((d, c, r), 0), counts.refused_batches.get((d, c, r), 0))
        for d, c, r in reasons
    ]
    with_data = {key for key, push in counts.pushes.items() if push.accepted}
    responsible = {n.node_id: n.categories for n in data.departments}
    for department, _category in counts.pushes:
        responsible.setdefault(department, ())
    missing = gaps(responsible, with_data, catalog)
    gap_rows = [
        (
            g.department or "—",
            g.category_id,
            g.category.name_zh if g.category else "",
            g.category.update_frequency if g.category else "",
            "是" if g.expected else "否",
        )
        for g in missing
    ]
    return [
        _table("department_categories", rows),
        _table("department_rejects", rejects),
        _table("missing_categories", gap_rows),
    ], missing


def _consumer_tables(data: _Read) -> list[Table]:
    """Institutions, city platforms and peer gateways (listed, or seen in the period);
    the denials of every node, whatever its kind."""
    counts = data.counts
    kinds = {n.node_id: n.kind for n in data.consumers}
    for node_id, seen in counts.consumers.items():
        kinds.setdefault(node_id, seen.kind)
    for node_id in data.grants_active:
        kinds.setdefault(node_id, "")
    rows = []
    for node_id in sorted(kinds):
        c = counts.consumers.get(node_id)
        if kinds[node_id] and kinds[node_id] not in CONSUMER_KINDS:
            continue  # a department's or an officer's refused calls: consumer_denials only
        rows.append(
            (
                node_id,
                kinds[node_id],
                c.queries if c else 0,
                c.denied_queries if c else 0,
                c.denied_categories if c else 0,
                c.grants_new if c else 0,
                data.grants_active.get(node_id, 0),
                c.enterprises_registered if c else 0,
                c.refused_calls if c else 0,
                NOT_APPLICABLE,
            )
        )
    denials = [
        (node_id, kinds.get(node_id, ""), source, reason, n)
        for (node_id, source, reason), n in sorted(counts.denials.items())
    ]
    return [_table("consumers", rows), _table("consumer_denials", denials)]


def _objection_table(data: _Read) -> Table:
    counts = data.counts.objections
    departments = sorted({n.node_id for n in data.departments} | set(counts) | set(data.overdue))
    rows = []
    for department in departments:
        c = counts.get(department)
        rows.append(
            (
                department,
                c.received if c else 0,
                c.answered if c else 0,
                c.answered_late if c else 0,
                data.overdue.get(department, 0),
            )
        )
    return _table("objections", rows)


def _summary(tables: dict[str, Table], missing: list[Gap], data: _Read) -> Table:
    def total(table: str, column: str) -> int:
        t = tables[table]
        at = [c.name for c in t.columns].index(column)
        return sum(int(row[at]) for row in t.rows if row[at].isdigit())

    on_time, late = (
        total("department_categories", "on_time"),
        total("department_categories", "late"),
    )
    rows = [
        ("records", "新增记录", total("department_categories", "records")),
        ("rejected", "拒收记录", total("department_categories", "rejected")),
        ("on_time_share", "及时率", share(on_time, on_time + late)),
        ("late", "迟报记录", late),
        ("gaps", "漏报类别", sum(1 for g in missing if g.expected)),
        ("queries", "查询", total("consumers", "queries")),
        ("denied_queries", "被拒查询", total("consumers", "denied_queries")),
        ("refused_calls", "被拒调用", total("consumers", "refused_calls")),
        ("grants_new", "新增授权", total("consumers", "grants_new")),
        ("grants_active", "有效授权", sum(data.grants_active.values())),
        ("enterprises_registered", "登记企业", total("consumers", "enterprises_registered")),
        ("objections_received", "收到异议", total("objections", "received")),
        ("objections_answered", "答复异议", total("objections", "answered")),
        ("objections_overdue", "逾期未答复异议", total("objections", "overdue_open")),
        ("subscriptions", "订阅", NOT_APPLICABLE),
    ]
    return _table("summary", rows)


def _notes(data: _Read) -> list[str]:
    notes = [
        "订阅 (subscriptions): n/a until subscriptions land; the column is kept for them.",
    ]
    if data.pruned:
        notes.append(
            f"{data.pruned} ledger entries of the month were pruned by retention: "
            "their details are not counted."
        )
    years = sorted(data.timeliness.unknown_years)
    if years:
        shown = ", ".join(str(y) for y in years)
        notes.append(
            f"Records with an event or receipt day in {shown} are not assessed for "
            f"timeliness: no working-day calendar for {shown} (docs/workdays.md)."
        )
    if data.timeliness.unknown_categories:
        shown = ", ".join(sorted(data.timeliness.unknown_categories))
        notes.append(f"Categories not in the catalog are not assessed: {shown}.")
    return notes


def compute(
    conn: Connection, period: Period, as_of: datetime, catalog: Catalog, calendar: WorkdayCalendar
) -> MonthlyStatistics:
    """Steps (2) and (3) on one connection (a read snapshot)."""
    data = _read(conn, period, as_of, catalog, calendar)
    department_tables, missing = _department_tables(data, catalog)
    tables = {t.name: t for t in [*department_tables, *_consumer_tables(data)]}
    tables["objections"] = _objection_table(data)
    ordered = (_summary(tables, missing, data), *tables.values())
    return MonthlyStatistics(period, as_of, data.ledger_size, ordered, tuple(_notes(data)))


async def monthly_statistics(rt: Runtime, caller: Caller, month: str) -> MonthlyStatistics:
    """Steps (1)-(4); see the module docstring."""
    now = rt.clock.now()
    period = parse_month(month, rt.calendar, now)  # (1)
    as_of = min(period.end, now)

    def read() -> MonthlyStatistics:
        with rt.store.snapshot() as conn:  # (2), (3)
            return compute(conn, period, as_of, rt.catalog, rt.calendar)

    result = await _in_executor(read)
    entry = caller.entry(  # (4)
        Action.AUDIT_SEARCH,
        now,
        new_trace_id(),
        {"kind": "statistics", "month": period.month, "ledger_size": result.ledger_size},
    )
    index = await rt.commit_entry(entry)
    return MonthlyStatistics(
        result.period, result.as_of, result.ledger_size, result.tables, result.notes, index
    )


async def _in_executor(fn: Callable[[], MonthlyStatistics]) -> MonthlyStatistics:
    return await asyncio.get_running_loop().run_in_executor(None, fn)


__all__ = [
    "NOT_APPLICABLE",
    "TABLES",
    "Column",
    "MonthlyStatistics",
    "Period",
    "Table",
    "compute",
    "monthly_statistics",
    "parse_month",
    "share",
]
