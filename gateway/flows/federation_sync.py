"""Keeping the federation running in one gateway process: the top publishes the directory,
a member fetches it on an interval and keeps the last good copy, and both relay.

``publish`` (the top): the members recorded by ``Join``, each with its state in the
registry (a suspended or exited gateway node is listed so), plus the top itself; a new
serial only when the content changed, signed with every directory key present.

``refresh`` (a member): fetch, ``accept`` (signature of a pinned key, this federation, no
rollback), then keep it: the note on disk (written aside and renamed), the listed keys
pinned, the member rows replaced (grants to ``node@gateway`` check them). When the
upstream cannot be reached or the note does not verify, the copy held stays in use.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from sqlalchemy import Connection

from gateway.flows.federation_directory import Directory, Member, accept, sign_directory
from gateway.flows.federation_link import Federation
from gateway.flows.registry import get_node
from gateway.flows.relay import RelayCalls, Relayer
from gateway.flows.runtime import Runtime
from gateway.store import federation_store
from gateway.store.timeutil import to_us
from xinlian.errors import XinLianError
from xinlian.identity import Identity

log = logging.getLogger("xinlian.federation")


class DirectoryCalls(Protocol):
    async def fetch_directory(self, identity: Identity, deadline_s: float) -> str: ...


class FederationCalls(DirectoryCalls, RelayCalls, Protocol):
    pass


# -- the top ------------------------------------------------------------------------------


def _self_member(rt: Runtime, fed: Federation) -> Member:
    endpoint, server_name = rt.config.advertised(*rt.served)
    return Member(
        gateway_id=fed.gateway_id,
        region=fed.region,
        endpoint=endpoint,
        tls_server_name=server_name,
        ca_pem=rt.config.ca_cert.read_text(),
        verifier_key=rt.signer.verifier_key(),
        origin=rt.config.origin,
        catalog_version=rt.catalog.version,
        upstream="",
        state="admitted",
    )


def _members(conn: Connection) -> list[Member]:
    out = []
    for row in federation_store.member_rows(conn):
        node = get_node(conn, row["gateway_id"])
        state = node.state if node is not None else "exited"
        out.append(Member(**{**row, "state": state}))
    return out


async def publish(rt: Runtime, fed: Federation) -> Directory:
    """The top's current directory, signed (re-signed only when the content changed)."""
    members = await rt.read(_members)
    listed = tuple(sorted([_self_member(rt, fed), *members], key=lambda m: m.gateway_id))
    signers = fed.directory_signers()
    keys = tuple(s.verifier_key() for s in signers)
    held = fed.directory
    if held is not None and held.members == listed and held.signer_keys == keys:
        return held
    serial = max((held.serial + 1) if held else 1, time.time_ns() // 1000)
    directory = Directory(
        top=fed.gateway_id,
        serial=serial,
        issued_at_us=to_us(rt.clock.now()),
        catalog_version=rt.catalog.version,
        signer_keys=keys,
        members=listed,
    )
    fed.directory = sign_directory(directory, signers)
    write_note(fed, fed.directory.note)
    return fed.directory


def write_note(fed: Federation, note: str) -> None:
    """The directory note on disk, written aside and renamed (the last good copy)."""
    path = fed.paths.directory_note
    tmp = path.with_suffix(".tmp")
    tmp.write_text(note)
    tmp.replace(path)


# -- a member -----------------------------------------------------------------------------


def load_held(fed: Federation) -> None:
    """At start: the copy on disk, verified again with the pinned keys."""
    path = fed.paths.directory_note
    if fed.is_top or not path.exists():
        return
    try:
        fed.directory = accept(path.read_text(), fed.pinned(), None)
    except XinLianError as exc:
        log.warning("federation: the directory on disk does not verify: %s", exc.message)


async def refresh(rt: Runtime, fed: Federation, calls: DirectoryCalls) -> bool:
    """One fetch; True if a directory was accepted."""
    upstream = fed.upstream()
    if upstream is None:
        return False
    try:
        note = await calls.fetch_directory(upstream, fed.forward_deadline_s)
        directory = accept(note, fed.pinned(), fed.directory)
    except XinLianError as exc:
        log.warning("federation: directory not refreshed (%s): %s", exc.reason, exc.message)
        return False
    await keep(rt, fed, directory)
    return True


async def keep(rt: Runtime, fed: Federation, directory: Directory) -> None:
    write_note(fed, directory.note)
    fed.pin(list(directory.signer_keys))
    rows = [
        {
            **{k: getattr(m, k) for k in federation_store.MEMBER_COLUMNS},
        }
        for m in directory.members
        if m.gateway_id != fed.gateway_id
    ]
    now_us = to_us(rt.clock.now())

    def work(conn: Connection, ledger: Any) -> None:
        federation_store.replace_members(conn, rows, now_us)

    await rt.commit(work)
    fed.directory = directory


# -- the loop -----------------------------------------------------------------------------


async def run_federation(rt: Runtime, fed: Federation, calls: FederationCalls) -> None:
    """Directory and relay, each on its interval, until cancelled."""
    relayer = Relayer(rt, fed, calls)
    next_directory = 0.0
    loop = asyncio.get_running_loop()
    while True:
        # the top re-reads its members every round: a suspension stops down relay and
        # forwards to the member within a relay interval; members fetch on their interval
        if fed.is_top or loop.time() >= next_directory:
            try:
                if fed.is_top:
                    await publish(rt, fed)
                else:
                    await refresh(rt, fed, calls)
            except Exception:
                log.exception("federation: directory round failed")
            next_directory = loop.time() + fed.directory_interval_s
        try:
            await relayer.run_once()
        except XinLianError as exc:
            log.warning("federation: relay round stopped (%s): %s", exc.reason, exc.message)
        except Exception:
            log.exception("federation: relay round failed")
        await asyncio.sleep(fed.relay_interval_s)
