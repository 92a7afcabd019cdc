"""Relayed copies re-checked from the store (``xinlian federation verify``): each copy other
gateways sent here still proves its department's signature through the source gateway's
CA, as the directory lists it, and its bytes still hash to the SHA-256 recorded at
arrival. A copy whose bytes retention erased is counted, not checked (its row, SHA-256 and
``relay.received`` entry stay)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from sqlalchemy import Connection, select

from gateway.flows.relay import check_provenance
from gateway.store import federation_store, schema

RELAYED_CHUNK = 200


@dataclass
class RelayedReport:
    checked: int = 0
    erased: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "erased": self.erased,
            "problems": self.problems,
        }


def verify_relayed(conn: Connection, upstream_ca_pem: str | None) -> RelayedReport:
    """Every relayed copy; ``upstream_ca_pem``: the CA of this gateway's upstream (the
    source of copies relayed down), if linked."""
    cas: dict[str, x509.Certificate] = {
        row["gateway_id"]: x509.load_pem_x509_certificate(row["ca_pem"].encode())
        for row in federation_store.member_rows(conn)
    }
    upstream = x509.load_pem_x509_certificate(upstream_ca_pem.encode()) if upstream_ca_pem else None
    report = RelayedReport()
    f = schema.federation_relayed.c
    last = 0
    while True:
        rows = conn.execute(
            select(schema.federation_relayed).where(f.id > last).order_by(f.id).limit(RELAYED_CHUNK)
        ).all()
        if not rows:
            return report
        last = int(rows[-1].id)
        for row in rows:
            _check(row, cas, upstream, report)


def _check(
    row: Any,
    cas: dict[str, x509.Certificate],
    upstream: x509.Certificate | None,
    report: RelayedReport,
) -> None:
    name = f"{row.source_gateway_id}/{row.source_node_id}/{row.batch_id}"
    if row.canonical is None:
        report.erased += 1
        return
    report.checked += 1
    content = bytes(row.canonical)
    if hashlib.sha256(content).hexdigest() != row.canonical_sha256:
        report.problems.append({"copy": name, "reason": "SHA256_MISMATCH"})
        return
    ca = upstream if row.direction == "down" else cas.get(row.source_gateway_id)
    if ca is None:
        report.problems.append({"copy": name, "reason": "SOURCE_CA_UNKNOWN"})
        return
    decoded, reason, message = check_provenance(
        ca,
        row.signer_cert_pem,
        row.source_node_id,
        row.batch_id,
        row.category,
        content,
        bytes(row.signature),
    )
    if decoded is None:
        report.problems.append({"copy": name, "reason": reason, "message": message})
