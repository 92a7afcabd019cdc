"""Retention reaches relayed copies: a negative batch relayed from another gateway loses
its signed bytes past the negative-records period, by the same rule as local batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from authz.catalog import Catalog
from gateway.flows.retention import NEGATIVE_RETENTION_DAYS, prune
from gateway.host.home import init_home
from gateway.store import federation_store, schema
from gateway.store.db import Store
from gateway.store.timeutil import to_us
from xinlian.clock import FakeClock

NOW = datetime(2030, 6, 1, tzinfo=UTC)


def _row(batch_id: str, category: str, event: datetime) -> dict[str, object]:
    return {
        "direction": "up",
        "sender_gateway_id": "gw-610000",
        "source_gateway_id": "gw-610000",
        "source_node_id": "sx-court",
        "batch_id": batch_id,
        "category": category,
        "canonical": b"{signed bytes}",
        "canonical_sha256": "0" * 64,
        "signature": b"sig",
        "signer_cert_pem": "-----BEGIN CERTIFICATE-----",
        "source_ledger_index": 3,
        "received_at_us": to_us(event),
        "earliest_event_us": to_us(event),
        "ledger_index": 1,
        "outcomes": "A",
    }


def test_prune_erases_due_relayed_negative_bytes_only(tmp_path: Path) -> None:
    config = init_home(tmp_path / "national", region="100000")
    store = Store(config.database_url)
    try:
        old = NOW - timedelta(days=NEGATIVE_RETENTION_DAYS + 1)
        recent = NOW - timedelta(days=30)

        def seed(conn: object) -> None:
            federation_store.insert_relayed(conn, _row("old-judicial", "judicial", old))  # type: ignore[arg-type]
            federation_store.insert_relayed(conn, _row("new-judicial", "judicial", recent))  # type: ignore[arg-type]
            federation_store.insert_relayed(conn, _row("old-registration", "registration", old))  # type: ignore[arg-type]

        store.write(seed)
        result = prune(store, FakeClock(NOW), Catalog.default(), config.retention_days)
        assert result.relayed_erased == 1
        f = schema.federation_relayed.c
        kept = dict(store.read(lambda conn: conn.execute(select(f.batch_id, f.canonical)).all()))
        assert kept["old-judicial"] is None
        assert kept["new-judicial"] is not None and kept["old-registration"] is not None
    finally:
        store.close()
