"""The console over real HTTP on loopback, in front of a real gateway with mTLS: sign-in,
sessions, CSRF, headers, the ledger entries of its searches and traces, what a bank sees,
CSV export and the verify page."""

from __future__ import annotations

import csv
import html
import io
import re
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from support.console_world import Client, World, console_for

from gateway.flows.checkpointer import sign_now
from node_agent.console.calls import GatewayCalls, SearchFilters
from node_agent.console.web import COOKIE
from xinlian.clock import FakeClock
from xinlian.exit_codes import ExitCode
from xinlian_cli.main import run

pytestmark = pytest.mark.integration

STARTUP_S = 60


def _audit_searches(world: World) -> list[dict[str, object]]:
    """The officer's audit.search entries, read over a channel of its own (this read is
    itself one more entry, after the ones it returns)."""
    calls = GatewayCalls(world.officer)
    try:
        return calls.search(SearchFilters(node_id="officer-1", action="audit.search")).rows
    finally:
        calls.close()


def test_link_signs_in_once_and_sets_a_strict_cookie(world: World) -> None:
    with console_for(world.officer, FakeClock()) as console:
        link = console.link()
        user = Client(console.base_url)
        reply = user.sign_in(link)
        assert reply.headers["location"] == "/"
        (cookie,) = reply.cookies
        assert cookie.startswith(f"{COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        home = user.get("/")
        assert home.status == 200 and "officer-1" in home.body
        assert link.split("token=")[1] not in home.body
        # the same link again: refused, and no cookie
        again = Client(console.base_url).get(link)
        assert again.status == 403 and not again.cookies


def test_expired_link_and_no_session_are_refused(world: World) -> None:
    clock = FakeClock()
    with console_for(world.officer, clock, link_ttl=timedelta(minutes=5)) as console:
        link = console.link()
        clock.advance(timedelta(minutes=5, seconds=1))
        assert Client(console.base_url).get(link).status == 403
        anonymous = Client(console.base_url)
        for page in ("/", "/search?run=1", "/trace?record=x", "/verify", "/registry"):
            reply = anonymous.get(page)
            assert reply.status == 401 and "请先登录" in reply.body, page
        forged = Client(console.base_url, cookie=f"{COOKIE}=not-a-session")
        assert forged.get("/").status == 401


def test_session_expires_and_logout_ends_it(world: World) -> None:
    clock = FakeClock()
    with console_for(world.officer, clock, session_ttl=timedelta(minutes=30)) as console:
        user = Client(console.base_url)
        user.sign_in(console.link())
        assert user.get("/").status == 200
        clock.advance(timedelta(minutes=30))
        reply = user.get("/")
        assert reply.status == 401 and "会话已过期" in reply.body
        assert any("new sign-in link" in s for s in console.said)  # type: ignore[attr-defined]
        # a new session, then logout: the cookie stops working at once
        user.sign_in(console.link())
        page = user.get("/")
        kept = user.cookie
        assert user.post("/logout", {"csrf": page.csrf()}).status == 200
        assert Client(console.base_url, cookie=kept).get("/").status == 401


def test_form_posts_need_the_sessions_csrf_token(world: World) -> None:
    with console_for(world.admin, FakeClock()) as console:
        user = Client(console.base_url)
        user.sign_in(console.link())
        token = user.get("/registry").csrf()
        posts = {
            "/registry/suspend": {"node_id": "bank-a", "reason": "x"},
            "/registry/readmit": {"node_id": "bank-a", "reason": "x"},
            "/registry/exit": {"node_id": "bank-a", "reason": "x"},
            "/registry/admit": {
                "node_id": "bank-a",
                "security_assessment": "x",
                "authorization_assessment": "x",
            },
            "/registry/apply": {"address": "127.0.0.1:1", "name": "x", "kind": "institution"},
            "/logout": {},
        }
        for path, body in posts.items():
            for sent in ({}, {"csrf": "forged"}, {"csrf": token[:-1]}):
                reply = user.post(path, {**body, **sent})
                assert reply.status == 403 and "CSRF" in reply.body, (path, sent)
            cross = user.post(path, {**body, "csrf": token}, Origin="http://evil.example")
            assert cross.status == 403, path
        # nothing was changed: the bank is still admitted, the session still works
        assert "state-admitted" in user.get("/registry").body.split('id="node-bank-a"')[1][:400]
        assert user.get("/").status == 200


def test_every_response_carries_the_security_headers(world: World) -> None:
    with console_for(world.officer, FakeClock()) as console:
        user = Client(console.base_url)
        for reply in (user.get("/"), user.sign_in(console.link()), user.get("/search")):
            csp = reply.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "script-src" not in csp
            assert "unsafe-inline" not in csp
            assert reply.headers["x-frame-options"] == "DENY"
            assert reply.headers["cache-control"] == "no-store"
            assert reply.headers["referrer-policy"] == "same-origin"
        body = user.get("/search").body
        assert "<script" not in body and "style=" not in body
        # another Host name (DNS rebinding) is refused
        assert (
            Client(console.base_url, cookie=user.cookie, host="evil.example").get("/").status == 400
        )


def test_searches_and_traces_are_ledger_entries_verify_is_not(world: World) -> None:
    with console_for(world.officer, FakeClock()) as console:
        user = Client(console.base_url)
        user.sign_in(console.link())
        before = len(_audit_searches(world))
        assert user.get(f"/search?run=1&enterprise={world.code}").status == 200
        assert user.get(f"/trace?record={world.record_id}").status == 200
        assert user.get(f"/enterprise?enterprise={world.code}").status == 200
        entries = _audit_searches(world)
        # one more: the read of _audit_searches before this one
        assert len(entries) == before + 1 + 3
        after = len(entries)
        for page in ("/", "/verify", "/verify", "/certificates"):
            assert user.get(page).status == 200
        assert len(_audit_searches(world)) == after + 1


def test_a_bank_sees_nothing_an_officer_sees(world: World) -> None:
    with console_for(world.officer, FakeClock()) as officer_console:
        officer = Client(officer_console.base_url)
        officer.sign_in(officer_console.link())
        seen = officer.get(f"/trace?record={world.record_id}").body
        assert "bank-a" in seen and "amr-dept" in seen
    pages = (
        f"/search?run=1&enterprise={world.code}",
        f"/trace?record={world.record_id}",
        f"/enterprise?enterprise={world.code}",
        "/registry",
        "/objections",
        f"/search?run=1&format=csv&enterprise={world.code}",
    )
    with console_for(world.bank, FakeClock()) as console:
        bank = Client(console.base_url)
        bank.sign_in(console.link())
        for page in pages:
            reply = bank.get(page)
            assert reply.status == 403, page
            assert "PERMISSION_DENIED" in reply.body
            for secret in (world.code, "amr-dept", "officer-1", world.record_id):
                assert secret not in reply.body.replace(page, ""), (page, secret)


def test_csv_export_of_search_trace_and_registry(world: World) -> None:
    with console_for(world.admin, FakeClock()) as admin_console:
        admin = Client(admin_console.base_url)
        admin.sign_in(admin_console.link())
        nodes = admin.get("/registry?format=csv")
        assert nodes.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(nodes.body.lstrip("\ufeff"))))
        assert {"amr-dept", "bank-a", "officer-1"} <= {r["node_id"] for r in rows}
    with console_for(world.officer, FakeClock()) as console:
        user = Client(console.base_url)
        user.sign_in(console.link())
        found = user.get(f"/search?run=1&format=csv&enterprise={world.code}")
        rows = list(csv.DictReader(io.StringIO(found.body.lstrip("\ufeff"))))
        assert {r["credit_code"] for r in rows if r["action"] == "query"} == {world.code}
        assert {r["action"] for r in rows} >= {"push.batch", "query"}
        trace = user.get(f"/trace?record={world.record_id}&format=csv&table=destinations")
        (dest,) = list(csv.DictReader(io.StringIO(trace.body.lstrip("\ufeff"))))
        assert dest["consumer_node_id"] == "bank-a" and "legal_rep_id_number=" in dest["fields"]


def test_verify_page_checks_signature_consistency_and_inclusion(world: World) -> None:
    with console_for(world.officer, FakeClock()) as console:
        user = Client(console.base_url)
        user.sign_in(console.link())
        first = user.get("/verify")
        assert "全部校验通过" in first.body and "包含证明" in first.body
        user.get("/search?run=1")  # grows the ledger; the console hashes the leaves shown
        world.gw.loop.run(sign_now(world.gw.runtime))
        second = user.get("/verify?index=1")
        assert "全部校验通过" in second.body
        assert "一致性证明" in second.body and "控制台自算叶哈希" in second.body
    # a verifier key the gateway does not sign with: the signature check fails
    from audit.checkpoint import NoteSigner

    other = NoteSigner.generate("xinlian.fujian.example/gateway").verifier_key()
    with console_for(world.officer, FakeClock(), verifier_key=other) as console:
        user = Client(console.base_url)
        user.sign_in(console.link())
        page = user.get("/verify")
        assert "校验失败" in page.body and "no signature from a known key" in page.body


def test_the_command_prints_a_link_that_signs_in(world: World) -> None:
    """``xinlian console serve`` as a process: its one-time link signs in once."""
    command = [
        sys.executable,
        "-m",
        "xinlian_cli.main",
        "console",
        "serve",
        "--identity",
        str(world.officer.files.root),
        "--gateway",
        world.gw.address,
        "--listen",
        "127.0.0.1:0",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "console for node officer-1 on http://127.0.0.1:" in first
        link = proc.stdout.readline().split(": ", 1)[1].strip()
        user = Client(link.split("/signin")[0])
        deadline = time.monotonic() + STARTUP_S
        while True:  # the link is printed before uvicorn accepts
            try:
                reply = user.get(link)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert reply.status == 303
        assert user.get("/").status == 200
        assert Client(user.base).get(link).status == 403
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_non_loopback_listen_address_is_a_usage_error(world: World) -> None:
    code = run(
        [
            "console",
            "serve",
            "--identity",
            str(world.officer.files.root),
            "--listen",
            "0.0.0.0:8780",
        ]
    )
    assert code == ExitCode.USAGE


def test_apply_admit_suspend_readmit_exit_through_the_console(world: World) -> None:
    gw = world.gw
    with console_for(world.admin, FakeClock(), enroll_address=gw.enroll_address) as console:
        admin = Client(console.base_url)
        admin.sign_in(console.link())
        form = admin.get("/registry/apply")
        assert gw.enroll_address in form.body
        applied = admin.post(
            "/registry/apply",
            {
                "csrf": form.csrf(),
                "address": gw.enroll_address,
                "name": "测试担保公司",
                "kind": "institution",
                "region": "350100",
                "requested_id": "guarantor-1",
            },
        )
        assert applied.status == 200 and "guarantor-1" in applied.body
        token = admin.get("/registry").csrf()
        admitted = admin.post(
            "/registry/admit",
            {
                "csrf": token,
                "node_id": "guarantor-1",
                "security_assessment": "等保二级测评通过",
                "authorization_assessment": "授权管理制度齐备",
                "notes": "",
            },
        )
        assert "xlt_" in admitted.body
        for action, state in (
            ("suspend", "suspended"),
            ("readmit", "admitted"),
            ("exit", "exited"),
        ):
            reply = admin.post(
                f"/registry/{action}", {"csrf": token, "node_id": "bank-a", "reason": "复查"}
            )
            assert reply.status == 303
            rows = admin.get("/registry?format=csv").body.lstrip("\ufeff")
            bank = next(r for r in csv.DictReader(io.StringIO(rows)) if r["node_id"] == "bank-a")
            assert bank["state"] == state
        # the gateway's own refusal is shown as it said it: readmitting an exited node
        again = admin.post(
            "/registry/readmit", {"csrf": token, "node_id": "bank-a", "reason": "复查"}
        )
        assert again.status in (400, 409) and 'id="refusal"' in again.body


def test_certificate_expiry_of_the_node_the_gateway_and_the_ca(world: World) -> None:
    from cryptography import x509

    mine = x509.load_pem_x509_certificate(world.officer.files.cert.read_bytes())
    server = x509.load_pem_x509_certificate(world.gw.config.server_cert.read_bytes())
    with console_for(world.officer, FakeClock()) as console:
        user = Client(console.base_url)
        user.sign_in(console.link())
        rows = list(
            csv.DictReader(io.StringIO(user.get("/certificates?format=csv").body.lstrip("\ufeff")))
        )
    by_what = {r["what"].split(" ")[0]: r for r in rows}
    assert set(by_what) == {"本节点", "网关服务器", "网关"}
    assert by_what["本节点"]["serial"] == format(mine.serial_number, "x")
    assert by_what["网关服务器"]["serial"] == format(server.serial_number, "x")
    assert by_what["本节点"]["not_after"] == mine.not_valid_after_utc.isoformat()
    assert 80 <= int(by_what["本节点"]["days_left"]) <= 90


def test_search_pages_through_the_ledger(world: World) -> None:
    with console_for(world.officer, FakeClock()) as console:
        user = Client(console.base_url)
        user.sign_in(console.link())
        seen: list[str] = []
        url = "/search?run=1&page_size=3"
        for _ in range(50):
            page = user.get(url)
            seen += re.findall(r'<a href="/verify\?index=(\d+)">', page.body)
            found = re.search(r'<a href="([^"]+)" id="next">', page.body)
            if not found:
                break
            url = html.unescape(found.group(1))
            assert "page_size=3" in url
        assert len(seen) == len(set(seen)) >= 9
        assert [int(i) for i in seen] == sorted(int(i) for i in seen)


def test_an_enterprises_disclosures_over_time(world: World) -> None:
    with console_for(world.officer, FakeClock()) as console:
        user = Client(console.base_url)
        user.sign_in(console.link())
        page = user.get(f"/enterprise?enterprise={world.code}").body
        (bars,) = re.findall(r"披露 (\d+) · 其他 (\d+)", page)
        assert bars[0] == "1"  # the bank's query; the push and the officer's own are others
        assert "bank-a" in page.split('id="entries"')[1]
        rows = csv.DictReader(
            io.StringIO(
                user.get(f"/enterprise?enterprise={world.code}&format=csv").body.lstrip("\ufeff")
            )
        )
        assert [r["actor"] for r in rows if r["action"] == "query"] == ["bank-a"]


def test_what_the_gateway_returns_is_escaped(world: World) -> None:
    """A name an applicant chose is text on the page, never markup."""
    from node_agent import enroll as enrollment

    gw = world.gw
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    enrollment.apply(gw.enroll_address, gw.ca_pem, name=evil, kind="institution", region="350100")
    with console_for(world.admin, FakeClock()) as console:
        user = Client(console.base_url)
        user.sign_in(console.link())
        page = user.get("/registry").body
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
