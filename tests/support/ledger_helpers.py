"""Helpers for the ledger tests: seed signed batches, records and disclosures directly.

Rows are written the way the push and query paths write them (one unit of work: the
rows and their ledger entry in one transaction), without going through those paths.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import Connection, insert

from audit.checkpoint import NoteVerifier
from audit.entry import Action, Entry, Outcome
from authz.credit_code import make_code
from gateway.flows.checkpointer import sign_checkpoint
from gateway.host.config import GatewayConfig
from gateway.store import schema
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from gateway.store.ledger import StoredCheckpoint
from gateway.store.timeutil import to_us
from gateway.verify import VerifyReport, verify_store
from gateway.verify.scan import SPLIT_MIN_ENTRIES
from xinlian.batch import BatchRecord, canonical_batch
from xinlian.clock import SystemClock
from xinlian.identity import Identity
from xinlian.pki import fingerprint, load_private_key
from xinlian.signing import canonical_json, sign

CODE_A = make_code("9", "1", "350100", "MA2Y0001")
CODE_B = make_code("9", "1", "350200", "MA2Y0002")
EVENT_TIME = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class SeededBatch:
    batch_pk: int
    ledger_index: int
    record_pks: dict[str, int]


def seed_batch(
    store: Store,
    dept: Identity,
    batch_id: str,
    category: str,
    records: list[tuple[str, str, dict[str, str]]],
    *,
    event_time: datetime = EVENT_TIME,
) -> SeededBatch:
    """Sign ``records`` (record id, credit code, fields) as ``dept`` and store them."""
    key = load_private_key(dept.files.key)
    cert = x509.load_pem_x509_certificate(dept.files.cert.read_bytes())
    items = [BatchRecord(code, rid, 1, event_time, fields) for rid, code, fields in records]
    canonical = canonical_batch(dept.node_id, batch_id, category, items)
    signature = sign(key, canonical)
    fp = fingerprint(cert)
    now = SystemClock().now()

    def work(conn: Connection, ledger: LedgerTx) -> SeededBatch:
        index = ledger.append(
            Entry(
                action=Action.PUSH_BATCH,
                time=now,
                actor=dept.node_id,
                actor_kind="department",
                outcome=Outcome.OK,
                trace_id=secrets.token_hex(8),
                subject=batch_id,
                details={
                    "category": category,
                    "batch_sha256": hashlib.sha256(canonical).hexdigest(),
                    "signer": fp,
                    "records": len(items),
                    "accepted": len(items),
                    "duplicates": 0,
                    "rejected": 0,
                    "outcomes": "A" * len(items),
                    "reasons": {},
                },
            )
        )
        batch_pk = conn.execute(
            insert(schema.batches).values(
                node_id=dept.node_id,
                batch_id=batch_id,
                category=category,
                canonical=canonical,
                signature=signature,
                signer_fingerprint=fp,
                received_at_us=to_us(now),
                ledger_index=index,
                record_count=len(items),
                accepted=len(items),
                duplicates=0,
                rejected=0,
            )
        ).inserted_primary_key[0]
        pks = {}
        for item in items:
            pks[item.record_id] = conn.execute(
                insert(schema.records).values(
                    source_node_id=dept.node_id,
                    record_id=item.record_id,
                    version=item.version,
                    credit_code=item.credit_code,
                    category=category,
                    event_time_us=to_us(event_time),
                    fields=canonical_json(dict(item.fields)).decode(),
                    batch_pk=batch_pk,
                    received_at_us=to_us(now),
                )
            ).inserted_primary_key[0]
        return SeededBatch(int(batch_pk), index, pks)

    return commit_now(store, SystemClock(), work)


def seed_disclosure(
    store: Store,
    record_pk: int,
    consumer: str,
    credit_code: str,
    masks: dict[str, str],
    *,
    grant_id: str | None = "grant-1",
    purpose: str = "financing",
) -> int:
    """A query that disclosed fields of one record: its entry and its disclosures row."""
    now = SystemClock().now()
    trace_id = secrets.token_hex(8)

    def work(conn: Connection, ledger: LedgerTx) -> int:
        index = ledger.append(
            Entry(
                action=Action.QUERY,
                time=now,
                actor=consumer,
                actor_kind="institution",
                outcome=Outcome.OK,
                trace_id=trace_id,
                credit_code=credit_code,
                subject=credit_code,
                details={"purpose": purpose, "grant_id": grant_id, "fields": masks},
            )
        )
        conn.execute(
            insert(schema.disclosures).values(
                ledger_index=index,
                record_pk=record_pk,
                consumer_node_id=consumer,
                grant_id=grant_id,
                purpose=purpose,
                masks=json.dumps(masks),
                trace_id=trace_id,
                time_us=to_us(now),
            )
        )
        return index

    return commit_now(store, SystemClock(), work)


def checkpoint(config: GatewayConfig, store: Store) -> StoredCheckpoint:
    from audit.checkpoint import NoteSigner

    signer = NoteSigner.from_key_string(config.ledger_signer_key.read_text().strip())
    stored = sign_checkpoint(store, signer, config.origin, SystemClock())
    assert stored is not None
    return stored


def verifier(config: GatewayConfig) -> NoteVerifier:
    return NoteVerifier.from_key_string(config.ledger_verifier_key.read_text().strip())


def verify(
    config: GatewayConfig,
    store: Store,
    now: datetime | None = None,
    *,
    split_min_entries: int = SPLIT_MIN_ENTRIES,
) -> VerifyReport:
    """``verify_store`` as the CLI runs it; ``split_min_entries=1`` makes a SQLite ledger
    of any size be scanned in two processes."""
    from authz.catalog import Catalog
    from gateway.flows.retention import verify_retention

    retention = verify_retention(Catalog.default(), now or SystemClock().now())
    return verify_store(
        store, verifier(config), config.origin, retention, split_min_entries=split_min_entries
    )


def fields_of(i: int) -> dict[str, str]:
    return {"taxpayer_type": "一般纳税人", "tax_rating": "A", "total_tax": f"{1000 + i}.00"}


def tax_records(n: int, prefix: str = "r") -> list[tuple[str, str, dict[str, str]]]:
    return [(f"{prefix}{i}", CODE_A if i % 2 == 0 else CODE_B, fields_of(i)) for i in range(n)]


def cli_verify(home: Path, *extra: str) -> Any:
    from click.testing import CliRunner

    from xinlian_cli.main import cli

    return CliRunner().invoke(cli, ["audit", "verify", "--home", str(home), *extra])
