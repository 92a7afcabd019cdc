"""``xinlian console serve``: the web console for one node's identity, on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import click
import uvicorn

from authz.catalog import Catalog
from node_agent.console.app import build_app
from node_agent.console.auth import DEFAULT_LINK_TTL, DEFAULT_SESSION_TTL, Sessions
from node_agent.console.calls import GatewayCalls
from node_agent.console.proofs import CheckpointWatch
from node_agent.console.web import Console, LinkPrinter
from xinlian.clock import Clock, SystemClock
from xinlian.identity import Identity

DEFAULT_LISTEN = "127.0.0.1:8780"
LOOPBACK = ("127.0.0.1", "localhost")


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if host not in LOOPBACK or not port.isdigit() or int(port) > 65535:
        raise click.BadParameter(
            f"got {value!r}, want 127.0.0.1:PORT or localhost:PORT (the console serves "
            "plain HTTP on loopback only; reach it from elsewhere through an SSH tunnel)",
            param_hint="--listen",
        )
    return host, int(port)


class RunningConsole:
    """A console serving on a bound socket in a thread (``serve`` runs it in the
    foreground; tests and the demo run it beside themselves)."""

    def __init__(
        self,
        identity: Identity,
        listen: tuple[str, int],
        *,
        clock: Clock | None = None,
        session_ttl: timedelta = DEFAULT_SESSION_TTL,
        link_ttl: timedelta = DEFAULT_LINK_TTL,
        verifier_key: str = "",
        enroll_address: str = "",
        say: Callable[[str], None] = click.echo,
    ) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", listen[1]))
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://{listen[0]}:{self.port}"
        self.sessions = Sessions(clock or SystemClock(), link_ttl, session_ttl)
        self.calls = GatewayCalls(identity, enroll_address)
        public = {c.id for c in Catalog.default().categories.values() if c.public}
        self.console = Console(
            self.calls,
            self.sessions,
            CheckpointWatch(verifier_key),
            LinkPrinter(self.sessions, self.base_url, say),
            public,
        )
        self.console.watch.prime(self.calls)
        config = uvicorn.Config(
            build_app(self.console), log_level="warning", access_log=False, lifespan="off"
        )
        self.server = uvicorn.Server(config)

    def link(self) -> str:
        """A fresh one-time sign-in link."""
        return self.console.links.link()

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    @contextmanager
    def in_thread(self) -> Iterator[RunningConsole]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            while not self.server.started and thread.is_alive():
                threading.Event().wait(0.02)
            yield self
        finally:
            self.server.should_exit = True
            thread.join(30)
            self.calls.close()


@click.group("console")
def console_group() -> None:
    """The web console for officers and administrators (docs/console.md)."""


@console_group.command("serve")
@click.option(
    "--identity",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    required=True,
    help="The node's identity directory (an officer's or an administrator's).",
)
@click.option("--gateway", help="Override the gateway address HOST:PORT.")
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, help="Loopback HOST:PORT.")
@click.option(
    "--session-minutes",
    type=click.IntRange(1, 24 * 60),
    default=30,
    show_default=True,
    help="How long a session lasts after sign-in.",
)
@click.option(
    "--link-minutes",
    type=click.IntRange(1, 60),
    default=5,
    show_default=True,
    help="How long a sign-in link stays valid (it works once).",
)
@click.option(
    "--verifier-key",
    default="",
    help="The ledger's checkpoint verifier key to trust "
    "(default: the first one the gateway sends, pinned from then on).",
)
@click.option(
    "--enroll-gateway",
    default="",
    help="The enrollment address HOST:PORT, for applications made in the console.",
)
def serve_cmd(
    identity: Path,
    gateway: str | None,
    listen: str,
    session_minutes: int,
    link_minutes: int,
    verifier_key: str,
    enroll_gateway: str,
) -> None:
    """Serve the console; prints a one-time sign-in link."""
    running = RunningConsole(
        Identity.load(identity, gateway=gateway),
        _listen(listen),
        session_ttl=timedelta(minutes=session_minutes),
        link_ttl=timedelta(minutes=link_minutes),
        verifier_key=verifier_key,
        enroll_address=enroll_gateway,
    )
    click.echo(f"console for node {running.calls.identity.node_id} on {running.base_url}")
    click.echo(f"sign in (one-time link, valid {link_minutes} min): {running.link()}")
    try:
        running.run()
    finally:
        running.calls.close()
