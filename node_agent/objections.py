"""Objections from the node side: the enterprise signs, its city platform countersigns
and files; departments read their inbox and answer; administrators freeze.

The enterprise's key signs the statement's canonical bytes (``authz.objections``); the
platform's node key (``node.key`` of its identity directory, the key of its mTLS
certificate) signs the canonical receipt naming the statement and when the platform
received it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from authz.objections import Objection, ObjectionReceipt, ObjectionState
from node_agent.client import RPC_TIMEOUT_S, ServiceClient
from xinlian.identity import Identity
from xinlian.pki import load_private_key
from xinlian.signing import SignerKey, sign
from xinlian.v1 import objections_pb2 as pb
from xinlian.v1 import objections_pb2_grpc
from xinlian.wire import objection_to_wire, ts

READ_CHUNK = 1 << 20
ANSWERS = {
    "upheld": pb.OBJECTION_STATE_UPHELD,
    "corrected": pb.OBJECTION_STATE_CORRECTED,
    "withdrawn": pb.OBJECTION_STATE_WITHDRAWN,
    "unconfirmable": pb.OBJECTION_STATE_UNCONFIRMABLE,
}
STATE_NAMES = {
    pb.OBJECTION_STATE_OPEN: ObjectionState.OPEN.value,
    **{v: k for k, v in ANSWERS.items()},
}


def evidence_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def make_objection(
    *,
    credit_code: str,
    source_node_id: str,
    record_id: str,
    version: int,
    fields: Iterable[str],
    claim: str,
    evidence: Sequence[Path] = (),
    objection_id: str | None = None,
    issued_at: datetime | None = None,
) -> Objection:
    return Objection(
        objection_id=objection_id or "obj-" + secrets.token_hex(8),
        credit_code=credit_code,
        source_node_id=source_node_id,
        record_id=record_id,
        version=version,
        fields=tuple(fields),
        claim=claim,
        evidence_sha256=tuple(evidence_sha256(p) for p in evidence),
        issued_at=issued_at or datetime.now(UTC),
    )


def sign_objection(key: SignerKey, objection: Objection) -> bytes:
    """The enterprise's signature over the statement's canonical bytes."""
    return sign(key, objection.canonical_bytes())


def countersign(platform: Identity, objection: Objection, received_at: datetime) -> bytes:
    """The platform's signature (its node key) over the canonical receipt."""
    receipt = ObjectionReceipt.of(objection, platform.node_id, received_at)
    return sign(load_private_key(platform.files.key), receipt.canonical_bytes())


class ObjectionClient(ServiceClient):
    """ObjectionService over the node's mTLS channel."""

    STUB = objections_pb2_grpc.ObjectionServiceStub

    def file(
        self,
        objection: Objection,
        signature: bytes,
        received_at: datetime,
        countersignature: bytes | None = None,
    ) -> pb.FileObjectionResponse:
        """File as this platform; countersigned with its node key unless given."""
        if countersignature is None:
            countersignature = countersign(self.identity, objection, received_at)
        response: pb.FileObjectionResponse = self.stub.FileObjection(
            pb.FileObjectionRequest(
                statement=objection_to_wire(objection.to_canonical_dict()),
                signature=signature,
                received_at=ts(received_at),
                countersignature=countersignature,
            ),
            timeout=RPC_TIMEOUT_S,
        )
        return response

    def list(
        self, *, credit_code: str = "", overdue_only: bool = False, state: str = ""
    ) -> list[pb.ObjectionView]:
        wire_state = pb.ObjectionState.Value(f"OBJECTION_STATE_{state.upper()}") if state else 0
        response: pb.ListObjectionsResponse = self.stub.ListObjections(
            pb.ListObjectionsRequest(
                credit_code=credit_code,
                overdue_only=overdue_only,
                state=wire_state,  # type: ignore[arg-type]
            ),
            timeout=RPC_TIMEOUT_S,
        )
        return list(response.objections)

    def get(self, objection_id: str) -> pb.ObjectionView:
        response: pb.GetObjectionResponse = self.stub.GetObjection(
            pb.GetObjectionRequest(objection_id=objection_id), timeout=RPC_TIMEOUT_S
        )
        return response.objection

    def answer(
        self, objection_id: str, answer: str, reason: str = "", corrected_version: int = 0
    ) -> pb.AnswerObjectionResponse:
        if answer not in ANSWERS:
            raise ValueError(f"answer must be one of {', '.join(ANSWERS)}, not {answer!r}")
        response: pb.AnswerObjectionResponse = self.stub.AnswerObjection(
            pb.AnswerObjectionRequest(
                objection_id=objection_id,
                answer=ANSWERS[answer],
                reason=reason,
                corrected_version=corrected_version,
            ),
            timeout=RPC_TIMEOUT_S,
        )
        return response

    def freeze(self, credit_code: str, frozen: bool, reason: str) -> int:
        response: pb.FreezeEnterpriseResponse = self.stub.FreezeEnterprise(
            pb.FreezeEnterpriseRequest(credit_code=credit_code, frozen=frozen, reason=reason),
            timeout=RPC_TIMEOUT_S,
        )
        return int(response.ledger_index)
