"""The demo's console step (scripts/demo.py runs it last): the web console
(``xinlian console serve``, docs/console.md) for the officer and the administrator, each
page opened in Debian's headless Chromium and saved as a screenshot under
var/screenshots/; without Chromium, the step says how to install it. Either way it ends
with the commands that start the console.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "var" / "screenshots"
MIN_HEIGHT, MAX_HEIGHT = 700, 4000
"""Screenshot height bounds (px): each page is shot whole, within these."""


def console_section(
    banner: Callable[[str], None],
    officer: str,
    admin: str,
    gateway: str,
    record_id: str,
    code: str,
) -> None:
    banner("26. The web console (控制台): each page in headless Chromium, under var/screenshots/")
    sys.path.insert(0, str(ROOT / "tests"))
    from support.browser import INSTALL_HINT, missing

    why = missing()
    if why is not None:
        print(f"no screenshots: {why}; install it with: sudo {INSTALL_HINT}")
    else:
        SHOTS.mkdir(parents=True, exist_ok=True)
        pages = {
            "home": "/",
            "search": f"/search?run=1&enterprise={code}",
            "trace": f"/trace?record={record_id}",
            "enterprise": f"/enterprise?enterprise={code}",
            "verify": "/verify",
            "certificates": "/certificates",
        }
        shots = _shoot(officer, gateway, "officer", pages)
        shots += _shoot(
            admin,
            gateway,
            "admin",
            {"registry": "/registry", "admit": "/registry/admit", "objections": "/objections"},
        )
        for path in shots:
            print(f"wrote {path.relative_to(ROOT)}")
    home = Path(admin).parent
    print("start the console yourself (it prints a one-time sign-in link), with the gateway")
    print(f"serving (xinlian gateway serve --home {home}):")
    for who, identity in (("officer", officer), ("administrator", admin)):
        print(f"  {who}: xinlian console serve --identity {identity} --gateway {gateway}")


def _shoot(identity_dir: str, gateway: str, who: str, pages: dict[str, str]) -> list[Path]:
    from support.browser import chromium

    from node_agent.console.cli import RunningConsole
    from xinlian.identity import Identity

    identity = Identity.load(Path(identity_dir), gateway=gateway)
    running = RunningConsole(identity, ("127.0.0.1", 0), say=lambda _: None)
    written = []
    with running.in_thread(), chromium() as driver:
        browser: Any = driver
        browser.get(running.link())
        for name, page in pages.items():
            browser.get(running.base_url + page)
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(1400, max(MIN_HEIGHT, min(MAX_HEIGHT, int(height) + 40)))
            out = SHOTS / f"console-{who}-{name}.png"
            browser.save_screenshot(str(out))
            written.append(out)
    return written
