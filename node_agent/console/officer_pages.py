"""The officer's pages: ledger search, a record's trace graph, an enterprise's
disclosures over time, the verify status. Each search and trace is one gateway call made
with the node's own identity, so the gateway records it in the ledger as it records the
CLI's; the verify page asks only for checkpoints and proofs, which are not recorded."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from audit.entry import Action, Outcome
from node_agent.console.calls import SearchFilters
from node_agent.console.graph import layout, timeline
from node_agent.console.web import (
    MAX_PAGE_SIZE,
    console_of,
    csv_response,
    csv_url,
    next_page_url,
    query_int,
    render,
    wants_csv,
)

ENTRY_COLUMNS = (
    "index",
    "time",
    "action",
    "outcome",
    "actor",
    "credit_code",
    "subject",
    "trace_id",
    "leaf_hash",
    "leaf_ok",
)
SOURCE_COLUMNS = (
    "version",
    "source_node_id",
    "batch_id",
    "batch_signature",
    "received_at",
    "category",
    "credit_code",
    "ledger_index",
    "erased_by",
)
DESTINATION_COLUMNS = (
    "consumer_node_id",
    "fields",
    "grant_id",
    "purpose",
    "time",
    "ledger_index",
    "trace_id",
)
NOTICE_COLUMNS = ("notice_id", "node_id", "old_version", "new_version", "reason", "created_at")
CHECK_COLUMNS = ("what", "ok", "detail", "proof")


def _time(value: str, name: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name}：时间格式应为 ISO 8601，收到 {value[:40]!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


async def search_page(request: Request) -> Response:
    q = request.query_params
    form = {k: q.get(k, "") for k in ("node", "enterprise", "action", "outcome", "since", "until")}
    choices = {"action": [a.value for a in Action], "outcome": [o.value for o in Outcome]}
    if q.get("run") != "1":
        return render(request, "search.html", form=form, choices=choices, page=None)
    filters = SearchFilters(
        node_id=form["node"],
        credit_code=form["enterprise"],
        action=form["action"],
        outcome=form["outcome"],
        since=_time(form["since"], "起始时间"),
        until=_time(form["until"], "截止时间"),
        page_size=min(query_int(q.get("page_size", ""), "每页条数"), MAX_PAGE_SIZE),
        page_token=q.get("page_token", ""),
    )
    page = await run_in_threadpool(console_of(request).calls.search, filters)
    if wants_csv(request):
        return csv_response("ledger-search", ENTRY_COLUMNS, page.rows)
    return render(
        request,
        "search.html",
        form=form,
        choices=choices,
        page=page,
        columns=ENTRY_COLUMNS,
        next_url=next_page_url(request, page.next_token),
        csv_url=csv_url(request),
    )


async def trace_page(request: Request) -> Response:
    record_id = request.query_params.get("record", "").strip()
    source = request.query_params.get("source", "").strip()
    if not record_id:
        return render(request, "trace.html", record_id="", source=source, trace=None)
    console = console_of(request)
    trace = await run_in_threadpool(console.calls.trace_record, record_id, source)
    table = request.query_params.get("table", "destinations")
    if wants_csv(request):
        if table == "sources":
            return csv_response("trace-sources", SOURCE_COLUMNS, trace["sources"])
        if table == "notices":
            return csv_response("trace-notices", NOTICE_COLUMNS, trace["notices"])
        rows = [
            {**d, "fields": ";".join(f"{f}={m}" for f, m in d["fields"])}
            for d in trace["destinations"]
        ]
        return csv_response("trace-destinations", DESTINATION_COLUMNS, rows)
    return render(
        request,
        "trace.html",
        record_id=record_id,
        source=source,
        trace=trace,
        graph=layout(record_id, trace, console.public_categories),
        csv_urls={t: csv_url(request, table=t) for t in ("sources", "destinations", "notices")},
    )


async def enterprise_page(request: Request) -> Response:
    q = request.query_params
    code = q.get("enterprise", "").strip()
    if not code:
        return render(request, "enterprise.html", code="", page=None)
    page = await run_in_threadpool(
        console_of(request).calls.trace_enterprise,
        code,
        min(query_int(q.get("page_size", ""), "每页条数"), MAX_PAGE_SIZE),
        q.get("page_token", ""),
    )
    if wants_csv(request):
        return csv_response("enterprise-flows", ENTRY_COLUMNS, page.rows)
    return render(
        request,
        "enterprise.html",
        code=code,
        page=page,
        columns=ENTRY_COLUMNS,
        days=timeline(page.rows),
        next_url=next_page_url(request, page.next_token),
        csv_url=csv_url(request),
    )


async def verify_page(request: Request) -> Response:
    raw = request.query_params.get("index", "")
    index = query_int(raw, "条目序号") if raw else None
    console = console_of(request)
    report = await run_in_threadpool(console.watch.check, console.calls, index)
    if wants_csv(request):
        rows = [
            {"what": c.what, "ok": c.ok, "detail": c.detail, "proof": " ".join(c.proof)}
            for c in report.checks
        ]
        return csv_response("verify", CHECK_COLUMNS, rows)
    return render(request, "verify.html", report=report, index=raw, csv_url=csv_url(request))


ROUTES = [
    Route("/search", search_page),
    Route("/trace", trace_page),
    Route("/enterprise", enterprise_page),
    Route("/verify", verify_page),
]
