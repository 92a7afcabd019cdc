"""What every console page shares: the templates, the security headers, the session
gate, the CSRF check of form posts, CSV downloads and how a refusal is shown."""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from node_agent.console.auth import Sessions, csrf_ok
from node_agent.console.calls import GatewayCalls, Refused
from node_agent.console.proofs import CheckpointWatch

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))

COOKIE = "xinlian_console"
CSRF_FIELD = "csrf"
PUBLIC_PATHS = ("/signin", "/static/")
"""Paths served without a session: the sign-in link and the style sheet."""
MAX_PAGE_SIZE = 500
"""Entries or nodes asked of the gateway per page at most (it has its own limit too)."""
MIN_LINK_INTERVAL_S = 10.0
"""At most one fresh sign-in link printed per this many seconds (after a logout or an
expired session)."""

SECURITY_HEADERS = {
    # no script at all, no inline style, forms only to this origin, never framed
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on form
    # posts, and the Origin check of checked_form needs the real one
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}

NAV: tuple[tuple[str, str, str], ...] = (
    # (path, label, who the gateway serves it to: shown beside the label)
    ("/search", "账本检索", "officer"),
    ("/trace", "记录追踪", "officer"),
    ("/enterprise", "企业披露", "officer"),
    ("/verify", "校验状态", "all"),
    # the statistics page (issue 19 item 2, 月度统计) goes here: ("/statistics", "统计", ...)
    ("/registry", "节点注册", "admin"),
    ("/certificates", "证书到期", "all"),
    ("/objections", "异议", "admin"),
)


class LinkPrinter:
    """Mints a sign-in link and prints it where only the console's user sees it (the
    terminal that runs it); rate-limited, as any local user can ask for one."""

    def __init__(self, sessions: Sessions, base_url: str, say: Callable[[str], None]) -> None:
        self.sessions, self.base_url, self.say = sessions, base_url, say
        self._last = float("-inf")
        self._lock = threading.Lock()

    def link(self) -> str:
        return f"{self.base_url}/signin?token={self.sessions.mint_link_token()}"

    def print_new(self, why: str) -> None:
        with self._lock:
            if time.monotonic() - self._last < MIN_LINK_INTERVAL_S:
                return
            self._last = time.monotonic()
        self.say(f"{why}; new sign-in link: {self.link()}")


@dataclass
class Console:
    """The one console's state, on ``app.state.console``."""

    calls: GatewayCalls
    sessions: Sessions
    watch: CheckpointWatch
    links: LinkPrinter
    public_categories: set[str]


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    console = console_of(request)
    session = getattr(request.state, "session", None)
    identity = console.calls.identity
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "nav": NAV,
            "path": request.url.path,
            "node_id": identity.node_id,
            "node_kind": identity.kind,
            "csrf": session.csrf if session else "",
            "signed_in": session is not None,
            **context,
        },
        status_code=status,
    )


async def checked_form(request: Request) -> FormData:
    """A POSTed form whose CSRF token is the session's (else 403), from this origin."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "跨站请求被拒绝 (Origin)")
    form = await request.form()
    session = getattr(request.state, "session", None)
    if session is None or not csrf_ok(session, form.get(CSRF_FIELD)):
        raise HTTPException(403, "CSRF 令牌无效，请求被拒绝")
    return form


class Gate(BaseHTTPMiddleware):
    """Security headers on every response; a live session for every page but the public
    ones (else 401, and a fresh link printed to the console's terminal if a session had
    expired)."""

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await self._gate(request, call_next)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def _gate(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith(PUBLIC_PATHS):
            return await call_next(request)
        console = console_of(request)
        cookie = request.cookies.get(COOKIE)
        session = console.sessions.get(cookie)
        if session is None:
            if cookie:
                console.links.print_new("a session expired")
            message = "会话已过期，请用控制台终端新打印的登录链接重新登录" if cookie else "请先登录"
            response = render(request, "message.html", 401, title="未登录", message=message)
            if cookie:
                response.delete_cookie(COOKIE, path="/")
            return response
        request.state.session = session
        return await call_next(request)


def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render(request, "message.html", exc.status_code, title="请求被拒绝", message=exc.detail)


REFUSAL_STATUS = {
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 403,
    "INVALID_ARGUMENT": 400,
    "NOT_FOUND": 404,
    "FAILED_PRECONDITION": 409,
    "ALREADY_EXISTS": 409,
}


def on_refused(request: Request, exc: Exception) -> Response:
    """A gateway refusal, as the gateway worded it."""
    assert isinstance(exc, Refused)
    status = REFUSAL_STATUS.get(exc.code, 502)
    return render(request, "refused.html", status, refusal=exc)


def csv_response(name: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Response:
    """A table as a CSV download (UTF-8 with BOM, which spreadsheet programs want for
    Chinese text)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )


MAX_INT64 = 2**63 - 1


def query_int(value: str, name: str) -> int:
    """A non-negative int64 from a query parameter ("" is 0); else 400 naming ``name``."""
    if not value:
        return 0
    if not value.isascii() or not value.isdigit() or len(value) > 19 or int(value) > MAX_INT64:
        raise HTTPException(400, f"{name}：应为非负整数")
    return int(value)


def next_page_url(request: Request, token: str) -> str:
    """The same page with the gateway's next page token ("" on the last page)."""
    if not token:
        return ""
    params = {k: v for k, v in request.query_params.items() if k != "page_token"}
    return f"{request.url.path}?{urlencode({**params, 'page_token': token})}"


def csv_url(request: Request, **extra: str) -> str:
    """The same request as a CSV download."""
    return f"{request.url.path}?{urlencode({**request.query_params, 'format': 'csv', **extra})}"


def wants_csv(request: Request) -> bool:
    return request.query_params.get("format") == "csv"
