"""Shared set-up of the authorization tests: nodes, a registered enterprise, records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import insert, select

from gateway.store import schema
from gateway.store.db import Store
from gateway.store.timeutil import to_us
from node_agent.enterprise import AuthzClient, generate_key, load_signing_key
from xinlian.identity import Identity
from xinlian.signing import SignerKey
from xinlian_samples.generator import generate_enterprises

ENTERPRISES = generate_enterprises(3, seed=4)
CODE = ENTERPRISES[0].credit_code
NAME = ENTERPRISES[0].name
OTHER_CODE = ENTERPRISES[1].credit_code
DEPARTMENT = "tax-dept"

# Raw values that must never reach an institution unmasked.
TAX_FIELDS = {
    "tax_period": "2025-09-01",
    "taxpayer_type": "一般纳税人",
    "tax_credit_rating": "A",
    "filing_status": "正常申报",
    "taxable_revenue": "1234567.89",
    "vat_paid": "45678.12",
    "total_tax_paid": "56789.01",
    "arrears_amount": "0",
    "basic_account_no": "6222021234567890123",
}
REGISTRATION_FIELDS = {
    "enterprise_name": NAME,
    "legal_representative": "张三丰",
    "legal_rep_id_number": "350102198001011234",
    "registered_capital": "500.00",
    "establishment_date": "2015-03-02",
    "status": "存续",
}
SOCIAL_FIELDS = {
    "contribution_month": "2025-08-01",
    "insured_headcount": "37",
    "contact_mobile": "13812345678",
    "legal_rep_id_number": "350102198001011234",
}


def reason_of(err: grpc.RpcError) -> str:
    metadata: Any = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    return str(dict(metadata or ()).get("xinlian-reason", ""))


def insert_record(
    store: Store,
    *,
    code: str,
    category: str,
    record_id: str,
    fields: dict[str, str],
    version: int = 1,
    source: str = DEPARTMENT,
    event_time: datetime | None = None,
) -> int:
    """A stored record, as the push path leaves it (the query path reads it the same way)."""
    when = event_time or datetime(2025, 9, 15, tzinfo=UTC)

    def write(conn: Any) -> int:
        result = conn.execute(
            insert(schema.records).values(
                source_node_id=source,
                record_id=record_id,
                version=version,
                credit_code=code,
                category=category,
                event_time_us=to_us(when),
                fields=json.dumps(fields, ensure_ascii=False),
                batch_pk=0,
                received_at_us=to_us(datetime.now(UTC)),
            )
        )
        return int(result.inserted_primary_key[0])

    return store.write(write)


def seed_records(store: Store, code: str = CODE) -> None:
    """One record of tax, registration and social_insurance (ids tax-1 … for CODE)."""
    suffix = "1" if code == CODE else code
    insert_record(store, code=code, category="tax", record_id=f"tax-{suffix}", fields=TAX_FIELDS)
    insert_record(
        store,
        code=code,
        category="registration",
        record_id=f"reg-{suffix}",
        fields=REGISTRATION_FIELDS,
    )
    insert_record(
        store,
        code=code,
        category="social_insurance",
        record_id=f"si-{suffix}",
        fields=SOCIAL_FIELDS,
    )


def ledger_row(store: Store, index: int) -> Any:
    return store.read(
        lambda conn: conn.execute(
            select(schema.ledger_entries).where(schema.ledger_entries.c.idx == index)
        ).one()
    )


def disclosures_at(store: Store, index: int) -> list[Any]:
    return store.read(
        lambda conn: conn.execute(
            select(schema.disclosures).where(schema.disclosures.c.ledger_index == index)
        ).all()
    )


@dataclass
class World:
    platform: Identity
    bank: Identity
    key: SignerKey
    key_path: Path
    code: str = CODE


def make_world(gw: Any, tmp: Path, *, register: bool = True) -> World:
    """A city platform, a bank, and the enterprise CODE registered with a fresh key."""
    platform = gw.enroll_node("city_platform", "fz-platform")
    bank = gw.enroll_node("institution", "bank-a")
    key_path = tmp / "enterprise.pem"
    pub = generate_key(key_path)
    if register:
        with AuthzClient(platform) as client:
            client.register(CODE, NAME, pub.read_text(), "legal_rep_face_match", "case-001")
    return World(platform, bank, load_signing_key(key_path), key_path)
