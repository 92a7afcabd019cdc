"""Shared set-up of the subscription tests: pushing records, grants, pulling."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from support.authz_helpers import World

from authz.catalog import Purpose
from gateway.store import schema
from node_agent.enterprise import AuthzClient, make_grant, sign_grant, sign_revocation
from node_agent.push import Pusher
from node_agent.subscriptions import SubscriptionClient, read_events
from xinlian.identity import Identity
from xinlian_samples.generator import SampleRecord, write_jsonl

EVENT_TIME = datetime(2025, 9, 15, tzinfo=UTC)
_files = itertools.count()


def push(
    dept: Identity, tmp: Path, category: str, records: list[tuple[str, str, int, dict[str, str]]]
) -> None:
    """Push (credit code, record id, version, fields) records of one category."""
    samples = [
        SampleRecord(code, category, record_id, version, EVENT_TIME, fields)
        for code, record_id, version, fields in records
    ]
    path = tmp / f"push-{next(_files)}.jsonl"
    write_jsonl(samples, path)
    summary = Pusher(dept).push_file(path, category)
    assert summary.accepted == len(records), summary


def grant(world: World, grantee: str, categories: tuple[str, ...] = ("tax",)) -> str:
    g = make_grant(
        credit_code=world.code,
        grantee_node_id=grantee,
        categories=categories,
        purpose=Purpose.POST_LOAN,
    )
    with AuthzClient(world.platform) as client:
        client.submit(g, sign_grant(world.key, g))
    return g.grant_id


def revoke(world: World, grant_id: str) -> None:
    with AuthzClient(world.platform) as client:
        client.revoke_signed(sign_revocation(world.key, grant_id, world.code, "贷款结清"))


def pull(node: Identity, subscription_id: str, out: Path, **kw: Any) -> list[dict[str, Any]]:
    """Pull until idle; every event written so far in ``out``."""
    with SubscriptionClient(node) as client:
        client.pull(subscription_id, out, idle_s=kw.pop("idle_s", 1.5), **kw)
    return read_events(out)


def count_entries(gateway: Any, action: str) -> int:
    e = schema.ledger_entries.c
    return int(
        gateway.runtime.store.read(
            lambda conn: conn.execute(
                select(func.count()).select_from(schema.ledger_entries).where(e.action == action)
            ).scalar_one()
        )
    )
