"""The console's calls to the gateway, over one mTLS channel of the signed-in node's own
identity, turned into plain values for the pages. A refusal of the gateway is
:class:`Refused`, shown on the page as the gateway said it; nothing is decided here."""

from __future__ import annotations

import base64
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc

from audit.merkle import leaf_hash
from node_agent import enroll as enrollment
from node_agent.audit_cli import entry_json
from node_agent.cli import node_json
from node_agent.objections_cli import view_json
from xinlian.identity import Identity
from xinlian.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    objections_pb2,
    objections_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from xinlian.wire import KIND_TO_WIRE, ts

RPC_TIMEOUT_S = 30.0
MAX_LEAVES_KEPT = 10_000
"""Leaf hashes the console computed itself from entries it was shown, kept for the
inclusion checks of the verify page (the oldest are dropped past this)."""


class Refused(Exception):
    """The gateway refused or failed a call: its status, details and reason, as sent."""

    def __init__(self, code: str, details: str, reason: str) -> None:
        super().__init__(f"{code}: {details}")
        self.code, self.details, self.reason = code, details, reason


def _refused(error: grpc.RpcError) -> Refused:
    code = error.code() if hasattr(error, "code") else None
    name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    details = error.details() if hasattr(error, "details") else ""
    reason = ""
    metadata: Any = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in metadata or ():
        if key == "xinlian-reason":
            reason = str(value)
    return Refused(name, details or "", reason)


def _time(stamp: Any) -> str:
    if stamp is None or (stamp.seconds == 0 and stamp.nanos == 0):
        return ""
    return str(stamp.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds"))


def _enum(enum: Any, prefix: str, name: str) -> int:
    """The wire value of a lower-case enum member name ("" is UNSPECIFIED)."""
    return int(enum.Value(f"{prefix}{(name or 'unspecified').upper()}"))


@dataclass(frozen=True)
class SearchFilters:
    node_id: str = ""
    credit_code: str = ""
    action: str = ""
    outcome: str = ""
    since: datetime | None = None
    until: datetime | None = None
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_token: str


class GatewayCalls:
    """Every gRPC call the console makes, as the node of ``identity``."""

    def __init__(self, identity: Identity, enroll_address: str = "") -> None:
        self.identity = identity
        self.enroll_address = enroll_address
        self.channel = identity.channel()
        self.audit = audit_pb2_grpc.AuditServiceStub(self.channel)
        self.registry = registry_pb2_grpc.RegistryServiceStub(self.channel)
        self.objection_stub = objections_pb2_grpc.ObjectionServiceStub(self.channel)
        self.leaves: dict[int, bytes] = {}

    def _entries(self, entries: Any) -> list[dict[str, Any]]:
        """Entries as rows; the leaf hash of each entry whose bytes came along is computed
        here and compared with the one the gateway sent (``leaf_ok``: None if pruned)."""
        rows = []
        for e in entries:
            row = entry_json(e)
            row["leaf_ok"] = None
            if e.entry:
                mine = leaf_hash(bytes(e.entry))
                row["leaf_ok"] = mine == bytes(e.leaf_hash)
                self.leaves[e.index] = mine
                while len(self.leaves) > MAX_LEAVES_KEPT:
                    self.leaves.pop(next(iter(self.leaves)))
            rows.append(row)
        return rows

    def close(self) -> None:
        self.channel.close()

    @staticmethod
    def call(method: Callable[..., Any], request: Any) -> Any:
        try:
            return method(request, timeout=RPC_TIMEOUT_S)
        except grpc.RpcError as error:
            raise _refused(error) from None

    # ------------------------------------------------------------------ officer

    def search(self, f: SearchFilters) -> Page:
        request = audit_pb2.SearchEntriesRequest(
            node_id=f.node_id,
            credit_code=f.credit_code,
            action=f.action,
            outcome=f.outcome,
            page_size=f.page_size,
            page_token=f.page_token,
        )
        for name, value in (("since", f.since), ("until", f.until)):
            stamp = ts(value)
            if stamp is not None:
                getattr(request, name).CopyFrom(stamp)
        response = self.call(self.audit.SearchEntries, request)
        return Page(self._entries(response.entries), response.next_page_token)

    def trace_enterprise(self, credit_code: str, page_size: int, page_token: str) -> Page:
        response = self.call(
            self.audit.TraceEnterprise,
            audit_pb2.TraceEnterpriseRequest(
                credit_code=credit_code, page_size=page_size, page_token=page_token
            ),
        )
        return Page(self._entries(response.entries), response.next_page_token)

    def trace_record(self, record_id: str, source: str) -> dict[str, Any]:
        trace = self.call(
            self.audit.TraceRecord,
            audit_pb2.TraceRecordRequest(record_id=record_id, source_node_id=source),
        )
        return {
            "sources": [
                {
                    "version": s.version,
                    "source_node_id": s.source_node_id,
                    "batch_id": s.batch_id,
                    "batch_signature": base64.b64encode(s.batch_signature).decode()[:16] + "…",
                    "received_at": _time(s.received_at),
                    "category": s.category,
                    "credit_code": s.credit_code,
                    "ledger_index": s.ledger_index,
                    "erased_by": s.erasure_ledger_index if s.erasure_ledger_index >= 0 else None,
                }
                for s in trace.sources
            ],
            "destinations": [
                {
                    "consumer_node_id": d.consumer_node_id,
                    "fields": list(zip(d.fields, d.masks, strict=True)),
                    "grant_id": d.grant_id,
                    "purpose": d.purpose,
                    "time": _time(d.time),
                    "ledger_index": d.ledger_index,
                    "trace_id": d.trace_id,
                }
                for d in trace.destinations
            ],
            "notices": [
                {
                    "notice_id": n.notice_id,
                    "node_id": n.node_id,
                    "old_version": n.old_version,
                    "new_version": n.new_version,
                    "reason": n.reason,
                    "created_at": _time(n.created_at),
                    "acked": n.ack_ledger_index >= 0,
                }
                for n in trace.notices
            ],
        }

    def checkpoint(self) -> audit_pb2.GetCheckpointResponse:
        response: audit_pb2.GetCheckpointResponse = self.call(
            self.audit.GetCheckpoint, audit_pb2.GetCheckpointRequest()
        )
        return response

    def inclusion(self, index: int, tree_size: int) -> audit_pb2.GetInclusionProofResponse:
        response: audit_pb2.GetInclusionProofResponse = self.call(
            self.audit.GetInclusionProof,
            audit_pb2.GetInclusionProofRequest(index=index, tree_size=tree_size),
        )
        return response

    def consistency(self, first: int, second: int) -> list[bytes]:
        response = self.call(
            self.audit.GetConsistencyProof,
            audit_pb2.GetConsistencyProofRequest(first_size=first, second_size=second),
        )
        return [bytes(p) for p in response.proof]

    # ------------------------------------------------------------------ administrator

    def me(self) -> dict[str, Any]:
        response = self.call(self.registry.GetSelf, registry_pb2.GetSelfRequest())
        return {
            **node_json(response.node),
            "certificate_serial": response.certificate_serial,
            "certificate_not_after": _time(response.certificate_not_after),
        }

    def server_certificate(self) -> bytes:
        """The gateway's server certificate (DER), from a TLS handshake with the node's
        own certificate, checked against the identity's CA and the gateway's TLS name."""
        host, _, port = self.identity.gateway.rpartition(":")
        context = ssl.create_default_context(cafile=str(self.identity.files.ca))
        context.load_cert_chain(str(self.identity.files.cert), str(self.identity.files.key))
        context.set_alpn_protocols(["h2"])
        name = self.identity.server_name or host.strip("[]")
        with (
            socket.create_connection((host.strip("[]"), int(port)), timeout=RPC_TIMEOUT_S) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        if der is None:
            raise Refused("UNAVAILABLE", "the gateway sent no certificate", "")
        return der

    def nodes(self, state: str, kind: str, page_size: int, page_token: str) -> Page:
        request = registry_pb2.ListNodesRequest(
            state=common_pb2.NodeState.Name(_enum(common_pb2.NodeState, "NODE_STATE_", state)),
            kind=KIND_TO_WIRE[kind] if kind else common_pb2.NODE_KIND_UNSPECIFIED,
            page_size=page_size,
            page_token=page_token,
        )
        response = self.call(self.registry.ListNodes, request)
        rows = []
        for node in response.nodes:
            review = node.review if node.HasField("review") else None
            rows.append(
                {
                    **node_json(node),
                    "applied_at": _time(node.applied_at),
                    "updated_at": _time(node.updated_at),
                    "contact": node.contact,
                    "reviewer": review.reviewer if review else "",
                    "security_assessment": review.security_assessment if review else "",
                    "authorization_assessment": review.authorization_assessment if review else "",
                    "review_notes": review.notes if review else "",
                    "reviewed_at": _time(review.reviewed_at) if review else "",
                }
            )
        return Page(rows, response.next_page_token)

    def admit(self, node_id: str, security: str, authorization: str, notes: str) -> dict[str, Any]:
        response = self.call(
            self.registry.AdmitNode,
            registry_pb2.AdmitNodeRequest(
                node_id=node_id,
                security_assessment=security,
                authorization_assessment=authorization,
                notes=notes,
            ),
        )
        return {
            **node_json(response.node),
            "enrollment_token": response.enrollment_token,
            "token_expires_at": _time(response.token_expires_at),
        }

    def change_state(self, action: str, node_id: str, reason: str) -> dict[str, Any]:
        """``action``: suspend, readmit or exit."""
        method, request = {
            "suspend": (self.registry.SuspendNode, registry_pb2.SuspendNodeRequest),
            "readmit": (self.registry.ReadmitNode, registry_pb2.ReadmitNodeRequest),
            "exit": (self.registry.ExitNode, registry_pb2.ExitNodeRequest),
        }[action]
        return node_json(self.call(method, request(node_id=node_id, reason=reason)).node)

    def apply(self, address: str, **fields: Any) -> dict[str, Any]:
        """An application over the enrollment listener (server-authenticated TLS, as
        ``xinlian node apply``), trusting the CA of the console's identity."""
        try:
            response = enrollment.apply(address, self.identity.files.ca.read_bytes(), **fields)
        except grpc.RpcError as error:
            raise _refused(error) from None
        return node_json(response.node)

    def objections(self, state: str, overdue_only: bool) -> list[dict[str, Any]]:
        wire_state = objections_pb2.ObjectionState.Name(
            _enum(objections_pb2.ObjectionState, "OBJECTION_STATE_", state)
        )
        response = self.call(
            self.objection_stub.ListObjections,
            objections_pb2.ListObjectionsRequest(state=wire_state, overdue_only=overdue_only),
        )
        return [view_json(v) for v in response.objections]
