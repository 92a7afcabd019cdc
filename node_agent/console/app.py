"""The console's ASGI application: sign-in, logout, the home page, and the officer's and
administrator's pages behind the session gate (:mod:`node_agent.console.web`)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from node_agent.console import admin_pages, officer_pages
from node_agent.console.calls import Refused
from node_agent.console.web import (
    COOKIE,
    HERE,
    Console,
    Gate,
    checked_form,
    console_of,
    on_http_error,
    on_refused,
    render,
)

LOCAL_HOSTS = ["127.0.0.1", "localhost"]
"""Host headers served (a page fetched through another name, DNS rebinding, is refused)."""


async def signin(request: Request) -> Response:
    """1. the token is swapped for a session (used up whether or not it was good);
    2. the session id goes into an HttpOnly, SameSite=Strict cookie;
    3. a redirect to the home page takes the token out of the address bar."""
    console = console_of(request)
    result = console.sessions.sign_in(request.query_params.get("token", ""))
    if result is None:
        return render(
            request,
            "message.html",
            403,
            title="登录链接无效",
            message="登录链接无效、已使用或已过期；请使用控制台终端打印的新链接",
        )
    sid, _ = result
    response = RedirectResponse("/", status_code=303)
    max_age = int(console.sessions.session_ttl.total_seconds())
    response.set_cookie(COOKIE, sid, max_age=max_age, path="/", httponly=True, samesite="strict")
    return response


async def logout(request: Request) -> Response:
    await checked_form(request)
    console = console_of(request)
    console.sessions.end(request.cookies.get(COOKIE))
    console.links.print_new("signed out")
    request.state.session = None
    response = render(
        request,
        "message.html",
        title="已退出",
        message="已退出登录；控制台终端已打印新的登录链接",
    )
    response.delete_cookie(COOKIE, path="/")
    return response


async def home(request: Request) -> Response:
    me = await run_in_threadpool(console_of(request).calls.me)
    return render(request, "home.html", me=me)


def build_app(console: Console) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/signin", signin),
            Route("/logout", logout, methods=["POST"]),
            *officer_pages.ROUTES,
            *admin_pages.ROUTES,
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=LOCAL_HOSTS),
            Middleware(Gate),
        ],
        exception_handlers={HTTPException: on_http_error, Refused: on_refused},
    )
    app.state.console = console
    return app
