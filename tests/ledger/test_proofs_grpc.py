"""Point 5: latest checkpoint, inclusion and consistency proofs over gRPC, for any node;
search/trace/export refused to non-officers."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import select
from support.harness import Gateway
from support.ledger_helpers import checkpoint

from audit.checkpoint import NoteVerifier, open_note
from audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from gateway.store import schema
from xinlian.v1 import audit_pb2, audit_pb2_grpc

pytestmark = pytest.mark.integration


def _reason(err: grpc.RpcError) -> str:
    return dict(err.trailing_metadata() or ()).get("xinlian-reason", "")


def _bodies(gateway: Gateway) -> list[bytes]:
    t = schema.ledger_entries.c
    rows = gateway.runtime.store.read(
        lambda c: c.execute(select(t.body).order_by(t.idx)).scalars().all()
    )
    return [bytes(b) for b in rows]


def test_checkpoint_and_proofs(gateway_any: Gateway) -> None:
    gateway = gateway_any
    bank = gateway.enroll_node("institution", "bank-1")
    first = checkpoint(gateway.config, gateway.runtime.store)
    gateway.enroll_node("city_platform", "fz-platform")
    gateway.enroll_node("officer", "officer-1")
    with bank.channel() as channel:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        # the latest checkpoint: already signed by the background task or signed on demand
        response = stub.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=10)
        verifier = NoteVerifier.from_key_string(response.verifier_key)
        assert response.verifier_key == gateway.config.ledger_verifier_key.read_text().strip()
        note = open_note(response.checkpoint, verifier, origin=gateway.config.origin)
        assert note.size == response.tree_size and note.root_hash == response.root_hash
        # make sure the newest entries are covered
        latest = checkpoint(gateway.config, gateway.runtime.store)
        note = open_note(latest.note, verifier, origin=gateway.config.origin)
        bodies = _bodies(gateway)
        assert note.size == len(bodies) > first.tree_size
        for index, body in enumerate(bodies):
            proof = stub.GetInclusionProof(
                audit_pb2.GetInclusionProofRequest(index=index), timeout=10
            )
            assert proof.tree_size == note.size
            assert proof.leaf_hash == leaf_hash(body)
            verify_inclusion(proof.leaf_hash, index, note.size, list(proof.proof), note.root_hash)
        # an inclusion proof in an older tree
        old = stub.GetInclusionProof(
            audit_pb2.GetInclusionProofRequest(index=0, tree_size=first.tree_size), timeout=10
        )
        verify_inclusion(old.leaf_hash, 0, first.tree_size, list(old.proof), first.root_hash)
        # consistency between the two checkpoints
        consistency = stub.GetConsistencyProof(
            audit_pb2.GetConsistencyProofRequest(first_size=first.tree_size, second_size=note.size),
            timeout=10,
        )
        verify_consistency(
            first.tree_size, note.size, first.root_hash, note.root_hash, list(consistency.proof)
        )
        # out of range: named field, INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as err:
            stub.GetInclusionProof(audit_pb2.GetInclusionProofRequest(index=note.size), timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "index" in (err.value.details() or "")
        with pytest.raises(grpc.RpcError) as err:
            stub.GetConsistencyProof(
                audit_pb2.GetConsistencyProofRequest(first_size=1, second_size=note.size + 5),
                timeout=10,
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # officers only
        with pytest.raises(grpc.RpcError) as err:
            stub.SearchEntries(audit_pb2.SearchEntriesRequest(), timeout=10)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert _reason(err.value) == "KIND_NOT_ALLOWED"
        with pytest.raises(grpc.RpcError) as err:
            list(stub.ExportLedger(audit_pb2.ExportLedgerRequest(), timeout=10))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_cache_refuses_a_ledger_that_no_longer_matches_its_checkpoint(gateway: Gateway) -> None:
    """The per-process leaf cache is checked against the signed root as it grows."""
    bank = gateway.enroll_node("institution", "bank-1")
    store = gateway.runtime.store
    checkpoint(gateway.config, store)
    t = schema.ledger_entries
    store.write(lambda c: c.execute(t.update().where(t.c.idx == 1).values(leaf_hash=bytes(32))))
    with bank.channel() as channel:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.GetInclusionProof(audit_pb2.GetInclusionProofRequest(index=0), timeout=10)
    assert err.value.code() == grpc.StatusCode.DATA_LOSS
    assert _reason(err.value) == "CHECKPOINT_MISMATCH"
