"""The console in a real headless Chromium (Debian's chromium + chromium-driver, driven by
selenium): sign-in with the link, a search, a trace graph, an admission with its review,
a suspension the node then feels, an expired session, a forged CSRF token, and a bank
that sees none of an officer's data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import grpc
import pytest
from support.browser import chromium, missing
from support.console_world import World, console_for

from node_agent import enroll as enrollment
from xinlian.clock import FakeClock
from xinlian.identity import Identity
from xinlian.v1 import registry_pb2, registry_pb2_grpc

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(missing() is not None, reason=str(missing())),
]


WAIT_S = 60


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def _by_css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def _all(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def _wait_text(driver: Any, selector: str, text: str) -> Any:
    """The element once its text holds ``text`` (after a form post and its redirect)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.wait import WebDriverWait

    def found(d: Any) -> Any:
        element = _by_css(d, selector)
        return element if text in element.text else False

    return WebDriverWait(
        driver, WAIT_S, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
    ).until(found)


def _whoami(identity: Identity) -> registry_pb2.GetSelfResponse:
    with identity.channel() as channel:
        response: registry_pb2.GetSelfResponse = registry_pb2_grpc.RegistryServiceStub(
            channel
        ).GetSelf(registry_pb2.GetSelfRequest(), timeout=30)
        return response


def test_sign_in_search_and_trace_graph(browser: Any, world: World) -> None:
    with console_for(world.officer, FakeClock()) as console:
        browser.get(console.link())
        assert browser.current_url == console.base_url + "/"  # the token left the address
        assert "officer-1" in _by_css(browser, "#me").text
        browser.get(console.base_url + "/search")
        _by_css(browser, "input[name=enterprise]").send_keys(world.code)
        _by_css(browser, "#search").click()
        _wait_text(browser, "#entries", "bank-a")
        actions = [row.text for row in _all(browser, "#entries tbody tr")]
        assert any("query" in a and "bank-a" in a for a in actions), actions
        browser.get(console.base_url + "/trace")
        _by_css(browser, "#record").send_keys(world.record_id)
        _by_css(browser, "#trace").click()
        graph = _wait_text(browser, "#trace-graph", "bank-a")
        sources = _all(graph, "g.box-source")
        recipients = _all(graph, "g.box-recipient")
        assert len(sources) == 1 and "amr-dept" in sources[0].text
        assert len(recipients) == 1 and "bank-a" in recipients[0].text
        assert "公开类别" in recipients[0].text
        assert len(_all(graph, "line")) == 2
        assert "legal_rep_id_number=id_card" in _by_css(browser, "#destinations").text


def test_admission_with_review_then_a_suspension_the_node_feels(browser: Any, world: World) -> None:
    gw = world.gw
    enrollment.apply(
        gw.enroll_address,
        gw.ca_pem,
        name="测试银行",
        kind="institution",
        region="350100",
        requested_id="bank-new",
    )
    with console_for(world.admin, FakeClock()) as console:
        browser.get(console.link())
        browser.get(console.base_url + "/registry?state=applied")
        _by_css(browser, "#node-bank-new a.admit").click()
        _wait_text(browser, "h1", "接入审查")
        _by_css(browser, "textarea[name=security_assessment]").send_keys("等保二级测评通过")
        _by_css(browser, "textarea[name=authorization_assessment]").send_keys("授权管理制度齐备")
        _by_css(browser, "textarea[name=notes]").send_keys("现场核验")
        _by_css(browser, "#admit").click()
        token = _wait_text(browser, "#enrollment-token", "xlt_").text.strip()
        assert token.startswith("xlt_")
        assert token not in browser.current_url
        node = enrollment.enroll(gw.enroll_address, token, gw.ca_pem, gw.tmp / "bank-new")
        node = Identity.load(node.files.root, gateway=gw.address)
        assert _whoami(node).node.review.security_assessment == "等保二级测评通过"
        browser.get(console.base_url + "/registry")
        row = _by_css(browser, "#node-bank-new")
        assert "等保二级测评通过" in row.text and "admitted" in row.text
        _by_css(row, "input.suspend-reason").send_keys("年度安全复查")
        _by_css(row, "button.suspend").click()
        _wait_text(browser, "#node-bank-new", "suspended")
        with pytest.raises(grpc.RpcError) as refused:
            _whoami(node)
        assert refused.value.code() in (
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.PERMISSION_DENIED,
        )


def test_expired_session_is_refused(browser: Any, world: World) -> None:
    clock = FakeClock()
    with console_for(world.officer, clock, session_ttl=timedelta(minutes=30)) as console:
        browser.get(console.link())
        assert "officer-1" in _by_css(browser, "#me").text
        clock.advance(timedelta(minutes=31))
        browser.get(console.base_url + "/search")
        assert "会话已过期" in _by_css(browser, "#message").text
        assert not _all(browser, "#search-form")
        assert not browser.get_cookies()


def test_forged_csrf_token_is_refused(browser: Any, world: World) -> None:
    with console_for(world.admin, FakeClock()) as console:
        browser.get(console.link())
        browser.get(console.base_url + "/registry")
        row = _by_css(browser, "#node-bank-a")
        browser.execute_script(
            "arguments[0].querySelector('input[name=csrf]').value = 'forged';", row
        )
        _by_css(row, "input.suspend-reason").send_keys("伪造的请求")
        _by_css(row, "button.suspend").click()
        _wait_text(browser, "#message", "CSRF")
    _whoami(world.bank)  # still admitted: nothing was done


def test_a_bank_identity_sees_no_officer_data(browser: Any, world: World) -> None:
    with console_for(world.bank, FakeClock()) as console:
        browser.get(console.link())
        for page in (
            f"/search?run=1&enterprise={world.code}",
            f"/trace?record={world.record_id}",
            f"/enterprise?enterprise={world.code}",
            "/registry",
        ):
            browser.get(console.base_url + page)
            assert "PERMISSION_DENIED" in _by_css(browser, "#refusal").text, page
            assert not _all(browser, "#entries, #trace-graph, #nodes, #destinations")
            assert "amr-dept" not in browser.page_source
