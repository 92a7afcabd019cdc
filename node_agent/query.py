"""Queries by a consumer node: one enterprise, a batch, a stream; and their display."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from rich.table import Table

from authz.catalog import Purpose
from authz.enterprise_statements import SelfQuery
from node_agent.client import RPC_TIMEOUT_S, ServiceClient
from xinlian.signing import SignerKey, sign
from xinlian.v1 import exchange_pb2 as pb
from xinlian.v1 import exchange_pb2_grpc
from xinlian.wire import purpose_to_wire, ts

NONCE_BYTES = 16


def self_query_proof(
    key: SignerKey, credit_code: str, platform_node_id: str, now: datetime | None = None
) -> pb.SelfQueryProof:
    """The enterprise signs a fresh statement letting ``platform_node_id`` query its data."""
    statement = SelfQuery(
        credit_code=credit_code,
        platform_node_id=platform_node_id,
        nonce=secrets.token_urlsafe(NONCE_BYTES),
        issued_at=now or datetime.now(UTC),
    )
    return pb.SelfQueryProof(
        nonce=statement.nonce,
        issued_at=ts(statement.issued_at),
        signature=sign(key, statement.canonical_bytes()),
    )


def query_request(
    credit_code: str,
    purpose: Purpose,
    categories: Sequence[str] = (),
    *,
    self_proof: pb.SelfQueryProof | None = None,
    trace_id: str = "",
) -> pb.QueryRequest:
    request = pb.QueryRequest(
        credit_code=credit_code,
        purpose=purpose_to_wire(purpose),
        categories=list(categories),
        trace_id=trace_id,
    )
    if self_proof is not None:
        request.self_query.CopyFrom(self_proof)
    return request


class QueryClient(ServiceClient):
    """ExchangeService queries over the node's mTLS channel."""

    STUB = exchange_pb2_grpc.ExchangeServiceStub

    def query(
        self,
        credit_code: str,
        purpose: Purpose = Purpose.FINANCING,
        categories: Sequence[str] = (),
        *,
        self_key: SignerKey | None = None,
    ) -> pb.QueryResponse:
        proof = (
            self_query_proof(self_key, credit_code, self.identity.node_id)
            if self_key is not None
            else None
        )
        response: pb.QueryResponse = self.stub.Query(
            query_request(credit_code, purpose, categories, self_proof=proof),
            timeout=RPC_TIMEOUT_S,
        )
        return response

    def batch(
        self,
        credit_codes: Sequence[str],
        purpose: Purpose = Purpose.FINANCING,
        categories: Sequence[str] = (),
    ) -> list[pb.QueryResponse]:
        response = self.stub.QueryBatch(
            pb.QueryBatchRequest(
                credit_codes=list(credit_codes),
                purpose=purpose_to_wire(purpose),
                categories=list(categories),
            ),
            timeout=RPC_TIMEOUT_S,
        )
        return list(response.results)

    def stream(
        self,
        credit_codes: Iterable[str],
        purpose: Purpose = Purpose.FINANCING,
        categories: Sequence[str] = (),
    ) -> Iterator[pb.QueryResponse]:
        def requests() -> Iterator[pb.QueryStreamRequest]:
            for code in credit_codes:
                yield pb.QueryStreamRequest(
                    credit_code=code, purpose=purpose_to_wire(purpose), categories=list(categories)
                )

        for item in self.stub.QueryStream(requests(), timeout=RPC_TIMEOUT_S * 10):
            yield item.result


# -- display ---------------------------------------------------------------------------


def response_tables(response: pb.QueryResponse) -> list[Table]:
    """One table per allowed category (field, value, mask); one table of the denials."""
    tables: list[Table] = []
    denied = Table(title=f"{response.credit_code}: denied categories")
    for column in ("category", "reason", "message"):
        denied.add_column(column)
    for result in response.categories:
        if not result.allowed:
            denied.add_row(result.category, result.reason_code, result.message)
            continue
        title = f"{response.credit_code} · {result.category}"
        if result.grant_id:
            title += f" (grant {result.grant_id})"
        table = Table(title=title)
        for column in ("record", "field", "value", "mask"):
            table.add_column(column)
        if not result.records:
            table.add_row("-", "(no records)", "", "")
        if result.withheld:
            table.add_row("-", f"({result.withheld} withheld: objection open)", "", "")
        for record in result.records:
            label = f"{record.record_id} v{record.version}"
            for note in record.objections:  # docs/objections.md
                table.add_row(label, note.label, note.objection_id, note.finding)
                label = ""
            for f in record.fields:
                table.add_row(label, f.name, f.value, f.mask)
                label = ""
        tables.append(table)
    if denied.row_count:
        tables.append(denied)
    return tables


def response_json(response: pb.QueryResponse) -> dict[str, object]:
    return {
        "credit_code": response.credit_code,
        "trace_id": response.trace_id,
        "ledger_index": response.ledger_index,
        "categories": [
            {
                "category": r.category,
                "allowed": r.allowed,
                "reason_code": r.reason_code,
                "message": r.message,
                "grant_id": r.grant_id,
                "records": [
                    {
                        "record_id": rec.record_id,
                        "version": rec.version,
                        "source_node_id": rec.source_node_id,
                        "event_time": rec.event_time.ToDatetime(tzinfo=UTC).isoformat(),
                        "fields": [
                            {"name": f.name, "value": f.value, "mask": f.mask} for f in rec.fields
                        ],
                        "objections": [
                            {
                                "objection_id": n.objection_id,
                                "state": n.state,
                                "label": n.label,
                                "filed_at": n.filed_at.ToDatetime(tzinfo=UTC).isoformat(),
                                "finding": n.finding,
                            }
                            for n in rec.objections
                        ],
                    }
                    for rec in r.records
                ],
                "withheld": r.withheld,
            }
            for r in response.categories
        ],
    }
