"""The client side of credit repair: statements built and signed here, then sent.

A department (or the credit center) signs a repair with the key of its own node
certificate; a city platform sends an application the enterprise signed with its own key
(the key never leaves the machine that holds it)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from authz.publicity import RepairKind
from authz.repair_statements import RepairApplication, RepairStatement
from node_agent.client import RPC_TIMEOUT_S, ServiceClient
from node_agent.push_batches import load_signing_key
from xinlian.identity import Identity
from xinlian.signing import SignerKey, sign
from xinlian.v1 import repairs_pb2 as pb
from xinlian.v1 import repairs_pb2_grpc


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def make_repair(
    identity: Identity,
    *,
    credit_code: str,
    source_node_id: str,
    record_id: str,
    category: str,
    basis: str,
    kind: RepairKind = RepairKind.REPAIR,
    application_id: str | None = None,
    repair_id: str | None = None,
    issued_at: datetime | None = None,
) -> RepairStatement:
    return RepairStatement(
        repair_id=repair_id or new_id("rep"),
        kind=kind,
        credit_code=credit_code,
        source_node_id=source_node_id,
        record_id=record_id,
        category=category,
        basis=basis,
        signer_node_id=identity.node_id,
        application_id=application_id,
        issued_at=issued_at or datetime.now(UTC),
    )


def make_application(
    platform_node_id: str,
    *,
    credit_code: str,
    source_node_id: str,
    record_id: str,
    category: str,
    reason: str,
    application_id: str | None = None,
    issued_at: datetime | None = None,
) -> RepairApplication:
    return RepairApplication(
        application_id=application_id or new_id("app"),
        credit_code=credit_code,
        source_node_id=source_node_id,
        record_id=record_id,
        category=category,
        reason=reason,
        platform_node_id=platform_node_id,
        issued_at=issued_at or datetime.now(UTC),
    )


def sign_statement(key: SignerKey, statement: RepairStatement | RepairApplication) -> bytes:
    return sign(key, statement.canonical_bytes())


class RepairClient(ServiceClient):
    STUB = repairs_pb2_grpc.RepairServiceStub

    def record(self, statement: RepairStatement, signature: bytes | None = None) -> Any:
        """Send a repair; signed with this node's certificate key unless ``signature``."""
        if signature is None:
            signature = sign_statement(load_signing_key(self.identity), statement)
        return self.stub.RecordRepair(
            pb.RecordRepairRequest(statement=statement.canonical_bytes(), signature=signature),
            timeout=RPC_TIMEOUT_S,
        )

    def apply(self, application: RepairApplication, signature: bytes) -> Any:
        return self.stub.ApplyForRepair(
            pb.ApplyForRepairRequest(statement=application.canonical_bytes(), signature=signature),
            timeout=RPC_TIMEOUT_S,
        )

    def refuse(self, application_id: str, reason: str) -> Any:
        return self.stub.RefuseRepairApplication(
            pb.RefuseRepairApplicationRequest(application_id=application_id, reason=reason),
            timeout=RPC_TIMEOUT_S,
        )

    def repairs(self, credit_code: str = "") -> Any:
        return self.stub.ListRepairs(
            pb.ListRepairsRequest(credit_code=credit_code), timeout=RPC_TIMEOUT_S
        ).repairs

    def applications(self, state: str = "") -> Any:
        return self.stub.ListRepairApplications(
            pb.ListRepairApplicationsRequest(state=state), timeout=RPC_TIMEOUT_S
        ).applications
