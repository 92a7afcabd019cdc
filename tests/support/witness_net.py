"""Several real gateways on loopback that know each other as witness peers: each has its
own home (CA, ledger key, origin, SQLite file or PostgreSQL database), its listener on a
port chosen before start (so the peers' configs can name it), and an identity of kind
``gateway`` at every other member (``HOME/peers/<peer id>``)."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from audit.entry import Action, Entry, Outcome
from gateway.flows.checkpointer import sign_checkpoint
from gateway.host.assemble import build_runtime
from gateway.host.config import GatewayConfig
from gateway.host.home import init_home
from gateway.host.server import start
from node_agent import enroll as enrollment
from support.harness import Gateway, LoopThread
from xinlian.clock import SystemClock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Member:
    name: str
    home: Path
    port: int
    enroll_port: int
    gw: Gateway | None = None
    peers: list[str] = field(default_factory=list)

    @property
    def gateway_id(self) -> str:
        return f"gw-{self.name}"

    @property
    def origin(self) -> str:
        return f"gw-{self.name}.xinlian.example/ledger"

    @property
    def verifier_key(self) -> str:
        return (self.home / "ledger" / "verifier.key").read_text().strip()

    @property
    def running(self) -> Gateway:
        assert self.gw is not None, f"{self.name} is not running"
        return self.gw

    def config(self) -> GatewayConfig:
        return GatewayConfig.load(self.home)

    def append(
        self, trace_id: str, details: dict[str, object], action: Action = Action.QUERY
    ) -> int:
        """One ledger entry through the normal append path (the group committer)."""
        gw = self.running
        entry = Entry(
            action=action,
            time=SystemClock().now(),
            actor=f"bank-{self.name}",
            actor_kind="institution",
            outcome=Outcome.OK,
            trace_id=trace_id,
            details=details,
        )
        return int(gw.loop.run(gw.runtime.commit_entry(entry)))

    def checkpoint(self) -> int:
        """Sign a checkpoint of the current tree now; its size."""
        rt = self.running.runtime
        stored = sign_checkpoint(rt.store, rt.signer, rt.config.origin, rt.clock)
        assert stored is not None
        return stored.tree_size


def edit_config(home: Path, **values: object) -> None:
    path = home / "config.json"
    data = json.loads(path.read_text())
    data.update(values)
    path.write_text(json.dumps(data, indent=2))


def peer_entry(member: Member, peer: Member, endpoint_port: int | None = None) -> dict[str, str]:
    """``member``'s witness_peers entry for ``peer``."""
    return {
        "gateway_id": peer.gateway_id,
        "origin": peer.origin,
        "verifier_key": peer.verifier_key,
        "endpoint": f"127.0.0.1:{endpoint_port or peer.port}",
        "ca_cert": str(peer.home / "ca" / "ca.pem"),
        "identity": f"peers/{peer.gateway_id}",
        "server_name": "localhost",
    }


def init_member(root: Path, name: str, db_url: str | None = None) -> Member:
    home = root / name / "gateway"
    init_home(home, db_url=db_url, origin=f"gw-{name}.xinlian.example/ledger")
    return Member(name, home, free_port(), free_port())


def link(members: list[Member], *, interval_s: float = 3600.0) -> None:
    """Write each member's witness_peers: every other member."""
    for member in members:
        member.peers = [p.gateway_id for p in members if p is not member]
        edit_config(
            member.home,
            witness_peers=[peer_entry(member, p) for p in members if p is not member],
            witness_interval_s=interval_s,
        )


def start_member(member: Member) -> Gateway:
    loop = LoopThread()
    config = member.config()
    runtime = build_runtime(config)
    running = loop.run(
        start(runtime, f"127.0.0.1:{member.port}", f"127.0.0.1:{member.enroll_port}")
    )
    member.gw = Gateway(member.home, config, runtime, running, loop, member.home.parent)
    return member.gw


def stop_member(member: Member) -> None:
    if member.gw is not None:
        member.gw.stop()
        member.gw = None


def enroll_at(holder: Member, at: Member) -> Path:
    """Enroll ``holder`` as a node of kind gateway at ``at``; its identity directory."""
    gw = at.running
    enrollment.apply(
        gw.enroll_address,
        gw.ca_pem,
        name=f"网关 {holder.gateway_id}",
        kind="gateway",
        region="610000",
        requested_id=holder.gateway_id,
    )
    token = gw.admit(holder.gateway_id)
    out = holder.home / "peers" / at.gateway_id
    enrollment.enroll(gw.enroll_address, token, gw.ca_pem, out)
    return out


def clone_member(source: Member, name: str, port: int | None = None) -> Member:
    """A stopped copy of ``source``'s home (same CA, ledger key, origin, nodes and ledger)
    under another directory and ports: the same gateway, ready to show another tree."""
    home = source.home.parent.parent / name / "gateway"
    shutil.copytree(source.home, home)
    db = home / "gateway.db"
    edit_config(home, db_url=f"sqlite:///{db.resolve()}")
    return Member(source.name, home, port or free_port(), free_port())


@contextmanager
def network(
    root: Path,
    names: list[str],
    *,
    interval_s: float = 3600.0,
    db_urls: dict[str, str] | None = None,
    endpoints: dict[tuple[str, str], int] | None = None,
) -> Iterator[list[Member]]:
    """Members ``names``, linked, started, each enrolled at every other. ``endpoints``:
    (member, peer) -> the port that member calls for that peer (a clone's, say)."""
    members = [init_member(root, n, (db_urls or {}).get(n)) for n in names]
    link(members, interval_s=interval_s)
    for (name, peer_name), port in (endpoints or {}).items():
        member = next(m for m in members if m.name == name)
        entries = [
            peer_entry(member, p, port if p.name == peer_name else None)
            for p in members
            if p is not member
        ]
        edit_config(member.home, witness_peers=entries)
    with ExitStack() as stack:
        for member in members:
            start_member(member)
            stack.callback(stop_member, member)
        for holder in members:
            for at in members:
                if at is not holder:
                    enroll_at(holder, at)
        yield members
