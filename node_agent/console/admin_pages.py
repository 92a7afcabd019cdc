"""The administrator's pages: the registry (apply, admit with the review form, suspend,
readmit, exit), certificate expiry, objections and their deadlines. Every change is one
gateway call with the node's own identity; the gateway decides and records it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node_agent.console.web import (
    MAX_PAGE_SIZE,
    checked_form,
    console_of,
    csv_response,
    csv_url,
    next_page_url,
    query_int,
    render,
    wants_csv,
)
from xinlian.wire import KIND_TO_WIRE

NODE_COLUMNS = (
    "node_id",
    "kind",
    "region",
    "name",
    "state",
    "categories",
    "reason",
    "contact",
    "applied_at",
    "updated_at",
    "reviewer",
    "security_assessment",
    "authorization_assessment",
    "review_notes",
    "reviewed_at",
)
CERT_COLUMNS = ("what", "subject", "serial", "not_before", "not_after", "days_left")
OBJECTION_COLUMNS = (
    "objection_id",
    "credit_code",
    "category",
    "state",
    "platform_node_id",
    "filed_at",
    "forward_due",
    "forwarded_late",
    "answer_due",
    "overdue",
    "answered_at",
    "answered_by",
)
STATES = ("applied", "admitted", "suspended", "exited")
STATE_ACTIONS = ("suspend", "readmit", "exit")
MAX_TEXT = 2000
"""Characters kept of a free-text field (the gateway checks its own limits too)."""


def _field(form: Any, name: str, required: bool = True) -> str:
    value = str(form.get(name, "")).strip()[:MAX_TEXT]
    if required and not value:
        raise HTTPException(400, f"缺少必填项：{name}")
    return value


async def registry_page(request: Request) -> Response:
    q = request.query_params
    state, kind = q.get("state", ""), q.get("kind", "")
    if state not in ("", *STATES) or kind not in ("", *KIND_TO_WIRE):
        raise HTTPException(400, "未知的状态或类型")
    page = await run_in_threadpool(
        console_of(request).calls.nodes,
        state,
        kind,
        min(query_int(q.get("page_size", ""), "每页条数"), MAX_PAGE_SIZE),
        q.get("page_token", ""),
    )
    rows = [{**n, "categories": ",".join(n["categories"])} for n in page.rows]
    if wants_csv(request):
        return csv_response("registry", NODE_COLUMNS, rows)
    return render(
        request,
        "registry.html",
        rows=rows,
        state=state,
        kind=kind,
        states=STATES,
        kinds=sorted(KIND_TO_WIRE),
        next_url=next_page_url(request, page.next_token),
        csv_url=csv_url(request),
    )


async def admit_form(request: Request) -> Response:
    return render(request, "admit.html", node_id=request.query_params.get("node", ""))


async def admit(request: Request) -> Response:
    form = await checked_form(request)
    result = await run_in_threadpool(
        console_of(request).calls.admit,
        _field(form, "node_id"),
        _field(form, "security_assessment"),
        _field(form, "authorization_assessment"),
        _field(form, "notes", required=False),
    )
    # the one-time enrollment token is shown once, in this response only (never a URL)
    return render(request, "admitted.html", node=result)


async def change_state(request: Request) -> Response:
    action = request.path_params["action"]
    if action not in STATE_ACTIONS:
        raise HTTPException(404, "未知操作")
    form = await checked_form(request)
    await run_in_threadpool(
        console_of(request).calls.change_state,
        action,
        _field(form, "node_id"),
        _field(form, "reason"),
    )
    return RedirectResponse("/registry", status_code=303)


async def apply_form(request: Request) -> Response:
    return render(
        request,
        "apply.html",
        address=console_of(request).calls.enroll_address,
        kinds=sorted(KIND_TO_WIRE),
    )


async def apply(request: Request) -> Response:
    form = await checked_form(request)
    kind = _field(form, "kind")
    if kind not in KIND_TO_WIRE:
        raise HTTPException(400, "未知的节点类型")
    categories = [c for c in _field(form, "categories", required=False).split(",") if c.strip()]
    node = await run_in_threadpool(
        console_of(request).calls.apply,
        _field(form, "address"),
        name=_field(form, "name"),
        kind=kind,
        region=_field(form, "region"),
        categories=[c.strip() for c in categories],
        contact=_field(form, "contact", required=False),
        requested_id=_field(form, "requested_id", required=False),
    )
    return render(
        request,
        "message.html",
        title="申请已提交",
        message=f"节点 {node['node_id']}：{node['state']}",
    )


def _cert_row(what: str, data: bytes, now: datetime) -> dict[str, Any]:
    """A certificate (PEM, or DER as a TLS handshake gives it) as a table row."""
    cert = (
        x509.load_pem_x509_certificate(data)
        if data.startswith(b"-----")
        else x509.load_der_x509_certificate(data)
    )
    left = cert.not_valid_after_utc - now
    return {
        "what": what,
        "subject": cert.subject.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(timespec="seconds"),
        "not_after": cert.not_valid_after_utc.isoformat(timespec="seconds"),
        "days_left": left.days,
    }


async def certificates_page(request: Request) -> Response:
    console = console_of(request)
    me = await run_in_threadpool(console.calls.me)
    files = console.calls.identity.files
    now = datetime.now(UTC)
    server = await run_in_threadpool(console.calls.server_certificate)
    rows = [
        _cert_row(f"本节点 {me['node_id']}", files.cert.read_bytes(), now),
        _cert_row(f"网关服务器 {console.calls.identity.gateway}", server, now),
        _cert_row("网关 CA", files.ca.read_bytes(), now),
    ]
    if wants_csv(request):
        return csv_response("certificates", CERT_COLUMNS, rows)
    return render(
        request, "certificates.html", rows=rows, me=me, csv_url="/certificates?format=csv"
    )


async def objections_page(request: Request) -> Response:
    q = request.query_params
    state, overdue = q.get("state", ""), q.get("overdue") == "1"
    if state not in ("", "open", "upheld", "corrected", "withdrawn", "unconfirmable"):
        raise HTTPException(400, "未知的异议状态")
    rows = await run_in_threadpool(console_of(request).calls.objections, state, overdue)
    if wants_csv(request):
        return csv_response("objections", OBJECTION_COLUMNS, rows)
    return render(
        request,
        "objections.html",
        rows=rows,
        state=state,
        overdue=overdue,
        csv_url=csv_url(request),
    )


ROUTES = [
    Route("/registry", registry_page),
    Route("/registry/admit", admit_form, methods=["GET"]),
    Route("/registry/admit", admit, methods=["POST"]),
    Route("/registry/apply", apply_form, methods=["GET"]),
    Route("/registry/apply", apply, methods=["POST"]),
    Route("/registry/{action}", change_state, methods=["POST"]),
    Route("/certificates", certificates_page),
    Route("/objections", objections_page),
]
