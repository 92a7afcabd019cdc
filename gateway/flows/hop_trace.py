"""One trace across gateways (``xinlian audit trace --trace-id T``): this gateway's ledger
entries with the trace id, and for each that names a hop, the peer's proof that it wrote
its side of the hop.

An entry of a cross-gateway flow carries ``details["hop"] = {"peer": <peer gateway id>,
"peer_index": <the peer's ledger index, or null>, "direction": "out" | "in"}`` and the
same trace id on both gateways. ``prove_hop`` steps, numbered as in the code:

1. the peer is known (``configured_peers``) and reachable, and the hop names an index;
2. the peer's latest signed checkpoint carries its signature (its verifier key from the
   peer descriptor, i.e. the federation directory) and its origin, and covers the index;
3. the peer's inclusion proof of the index in that checkpoint's tree;
4. the peer's entry at the index (``GetHopEntry``: served only to the peer it names):
   its leaf hash is the proven one, it carries the trace id, and it names this gateway's
   side of the hop (the opposite direction);
5. the proof verifies against the signed root: the hop is *proven*.

The proof material goes back to the officer too, who checks it again
(``node_agent.hop_check``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, select

from audit.checkpoint import open_note
from audit.entry import Entry
from audit.merkle import ProofError, leaf_hash, verify_inclusion
from gateway.flows.witness_peers import PeerConnector, WitnessPeer, peer_by_id
from gateway.flows.witness_serve import hop_of
from gateway.store import schema
from gateway.store.ledger import ENTRY_COLUMNS, LedgerRow, row_to_entry
from xinlian.errors import InvalidArgument, Unavailable, XinLianError

MAX_TRACE_ENTRIES = 200
"""Most local entries of one trace listed (and hops proven)."""

PROVEN = "proven"
NO_INDEX = "no_index"
UNKNOWN_PEER = "unknown_peer"
UNAVAILABLE = "unavailable"
UNCOVERED = "uncovered"
FAILED = "failed"
_OPPOSITE = {"out": "in", "in": "out"}


@dataclass(frozen=True)
class HopProof:
    peer_id: str
    peer_index: int | None
    direction: str
    status: str
    message: str = ""
    peer_entry: bytes = b""
    peer_leaf_hash: bytes = b""
    peer_tree_size: int = 0
    proof: list[bytes] = field(default_factory=list)
    peer_note: str = ""
    peer_verifier_key: str = ""


@dataclass(frozen=True)
class TracedEntry:
    row: LedgerRow
    hop: HopProof | None


def entries_with_trace(conn: Connection, trace_id: str) -> list[LedgerRow]:
    t = schema.ledger_entries.c
    rows = conn.execute(
        select(*ENTRY_COLUMNS)
        .where(t.trace_id == trace_id)
        .order_by(t.idx)
        .limit(MAX_TRACE_ENTRIES)
    ).all()
    return [row_to_entry(r) for r in rows]


async def prove_hop(
    hop: dict[str, object], trace_id: str, peers: tuple[WitnessPeer, ...], connect: PeerConnector
) -> HopProof:
    index = hop.get("peer_index")
    found = HopProof(
        peer_id=str(hop.get("peer") or ""),
        peer_index=index if isinstance(index, int) and not isinstance(index, bool) else None,
        direction=str(hop.get("direction") or ""),
        status=FAILED,
    )
    # (1) a known, reachable peer, and an index to prove
    peer = peer_by_id(peers, found.peer_id)
    if peer is None or not peer.reachable:
        return replace(found, status=UNKNOWN_PEER, message="not a reachable linked gateway")
    if found.peer_index is None:
        return replace(found, status=NO_INDEX, message="the entry names no peer index")
    index = found.peer_index
    try:
        client = connect(peer)
    except XinLianError as exc:
        return replace(found, status=UNKNOWN_PEER, message=str(exc))
    try:
        # (2) the peer's signed checkpoint
        note = await client.checkpoint()
        checkpoint = open_note(note, peer.log_verifier, origin=peer.origin)
        found = replace(found, peer_note=note, peer_verifier_key=peer.verifier_key)
        if index >= checkpoint.size:
            return replace(
                found,
                status=UNCOVERED,
                message=f"the peer's checkpoint (size {checkpoint.size}) does not cover it yet",
            )
        # (3) inclusion proof; (4) the entry it proves
        inclusion = await client.inclusion(index, checkpoint.size)
        body = await client.hop_entry(index, trace_id)
    except Unavailable as exc:
        return replace(found, status=UNAVAILABLE, message=f"{exc.reason}: {exc}")
    except XinLianError as exc:  # a bad signature, no such hop entry, …
        return replace(found, status=FAILED, message=f"{exc.reason}: {exc}")
    finally:
        await client.close()
    found = replace(
        found,
        peer_entry=body,
        peer_leaf_hash=inclusion.leaf_hash,
        peer_tree_size=checkpoint.size,
        proof=inclusion.proof,
    )
    problem = _entry_problem(body, inclusion.leaf_hash, trace_id, found.direction)
    if problem:
        return replace(found, message=problem)
    # (5) the proof against the signed root
    try:
        verify_inclusion(
            inclusion.leaf_hash, index, checkpoint.size, inclusion.proof, checkpoint.root_hash
        )
    except ProofError as exc:
        return replace(found, message=f"inclusion proof: {exc}")
    return replace(found, status=PROVEN)


def _entry_problem(body: bytes, proven_leaf: bytes, trace_id: str, direction: str) -> str:
    """(4) What is wrong with the peer's hop entry, or ""."""
    if leaf_hash(body) != proven_leaf:
        return "the peer's entry does not hash to the proven leaf"
    try:
        entry = Entry.decode(body)
    except InvalidArgument as exc:
        return f"the peer's entry does not decode: {exc}"
    if entry.trace_id != trace_id:
        return f"the peer's entry has trace id {entry.trace_id!r}"
    hop = hop_of(body) or {}
    if direction in _OPPOSITE and hop.get("direction") != _OPPOSITE[direction]:
        return f"the peer's entry is not the {_OPPOSITE[direction]!r} side of this hop"
    return ""


async def trace_hops(
    rows: list[LedgerRow],
    trace_id: str,
    peers: tuple[WitnessPeer, ...],
    connect: PeerConnector,
) -> list[TracedEntry]:
    """Each local entry of the trace, with the proof of its hop if it names one."""
    traced = []
    for row in rows:
        hop = hop_of(row.body) if row.body is not None else None
        proof = await prove_hop(hop, trace_id, peers, connect) if hop is not None else None
        traced.append(TracedEntry(row, proof))
    return traced
