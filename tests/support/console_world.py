"""The console tests' world: a real gateway on loopback with a pushed registration record
that a bank received, enrolled officer/admin/bank identities, consoles served in a thread,
and a small HTTP client (real sockets, cookies kept by hand)."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from authz.catalog import Catalog, Purpose
from node_agent.console.cli import RunningConsole
from node_agent.push import Pusher
from node_agent.query import QueryClient
from support.authz_helpers import CODE, ENTERPRISES
from support.harness import Gateway
from xinlian.clock import FakeClock
from xinlian.identity import Identity
from xinlian_samples.generator import generate_records, write_jsonl

CATEGORY = "registration"


@dataclass
class World:
    gw: Gateway
    officer: Identity
    admin: Identity
    bank: Identity
    record_id: str
    code: str = CODE


def make_world(gw: Gateway, tmp: Path) -> World:
    """A market-regulation department pushes one registration record of ``CODE`` (a public
    category) and the bank queries it, so the record has a source and a destination."""
    dept = gw.enroll_node("department", "amr-dept", categories=(CATEGORY,))
    spec = Catalog.default().categories[CATEGORY]
    records = generate_records(ENTERPRISES[0], spec, 1, 7)
    path = tmp / "registration.jsonl"
    write_jsonl(records, path)
    Pusher(dept).push_file(path, CATEGORY, batch_size=10)
    bank = gw.enroll_node("institution", "bank-a")
    with QueryClient(bank) as client:
        client.query(CODE, Purpose.FINANCING, [CATEGORY])
    return World(gw, gw.enroll_node("officer", "officer-1"), gw.admin(), bank, records[0].record_id)


@contextmanager
def console_for(
    identity: Identity, clock: FakeClock, **options: object
) -> Iterator[RunningConsole]:
    said: list[str] = []
    running = RunningConsole(
        identity,
        ("127.0.0.1", 0),
        clock=clock,
        say=said.append,
        **options,  # type: ignore[arg-type]
    )
    running.said = said  # type: ignore[attr-defined]
    with running.in_thread():
        yield running


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str
    cookies: list[str]

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]*)"', self.body)
        assert found, "no CSRF field on the page"
        return found.group(1)


@dataclass
class Client:
    """One browser-like user: keeps the session cookie, follows no redirects."""

    base: str
    cookie: str = ""
    host: str = ""
    sent: list[str] = field(default_factory=list)

    def request(
        self, method: str, url: str, body: dict[str, str] | None = None, **headers: str
    ) -> Reply:
        from urllib.parse import urlencode

        parts = urlsplit(self.base + url if url.startswith("/") else url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        wanted = {"Host": self.host or parts.netloc, **headers}
        if self.cookie:
            wanted["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = urlencode(body)
            wanted["Content-Type"] = "application/x-www-form-urlencoded"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=data, headers=wanted)
        response = conn.getresponse()
        text = response.read().decode("utf-8")
        cookies = response.headers.get_all("set-cookie") or []
        for c in cookies:
            name_value = c.split(";", 1)[0]
            self.cookie = (
                "" if "max-age=0" in c.lower() or name_value.endswith('=""') else name_value
            )
        conn.close()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, text, cookies
        )

    def get(self, url: str, **headers: str) -> Reply:
        return self.request("GET", url, **headers)

    def post(self, url: str, body: dict[str, str], **headers: str) -> Reply:
        return self.request("POST", url, body, **headers)

    def sign_in(self, link: str) -> Reply:
        reply = self.get(link)
        assert reply.status == 303, reply.body
        return reply
