"""The officer's own check of a trace across gateways (``xinlian audit trace
--trace-id``): the gateway returns, for each hop, the peer's entry, its inclusion proof
and the peer's signed checkpoint with the peer's verifier key (from the federation
directory the gateway holds); the officer's side checks them again, needing nothing but
``audit`` (it does not take the gateway's word for "proven").

Steps of ``check_hop``, numbered as in the code:

1. the peer's checkpoint note carries a valid signature of the given verifier key;
2. the peer's entry hashes to the proven leaf, decodes, and carries the trace id;
3. the inclusion proof of the peer index verifies against the signed root.
"""

from __future__ import annotations

from typing import Any

from audit.checkpoint import NoteVerifier, open_note
from audit.entry import Entry
from audit.merkle import ProofError, leaf_hash, verify_inclusion
from xinlian.errors import IntegrityViolation, InvalidArgument


def check_hop(hop: Any, trace_id: str) -> str:
    """ "" when the hop's proof material checks out, else what is wrong."""
    try:
        # (1) the signed checkpoint
        checkpoint = open_note(
            hop.peer_checkpoint, NoteVerifier.from_key_string(hop.peer_verifier_key)
        )
        if checkpoint.size != hop.peer_tree_size:
            return (
                f"the proof is for size {hop.peer_tree_size}, the checkpoint has {checkpoint.size}"
            )
        # (2) the entry
        entry_bytes = bytes(hop.peer_entry)
        if leaf_hash(entry_bytes) != bytes(hop.peer_leaf_hash):
            return "the peer's entry does not hash to the proven leaf"
        if Entry.decode(entry_bytes).trace_id != trace_id:
            return "the peer's entry carries another trace id"
        # (3) the inclusion proof
        verify_inclusion(
            bytes(hop.peer_leaf_hash),
            int(hop.peer_index),
            checkpoint.size,
            [bytes(p) for p in hop.proof],
            checkpoint.root_hash,
        )
    except (IntegrityViolation, InvalidArgument, ProofError) as exc:
        return str(exc)
    return ""
