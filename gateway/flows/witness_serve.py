"""The peer-facing half of witnessing (``WitnessService``): keep a peer's cosignature of
this gateway's checkpoint, serve checkpoints with the cosignatures they gathered, tell a
witness what this gateway last cosigned of a log, and show a peer the hop entry of a
trace that names it.

``accept_cosignature`` steps, numbered as in the code:

1. the caller is a known peer (``configured_peers``: its gateway id is its node id here);
2. the line parses as a cosignature under that peer's name and cosignature key ID;
3. this gateway signed a checkpoint of that size;
4. the cosignature verifies over that checkpoint's note body (not stamped in the future);
5. it is kept (the first one per witness and size).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from audit.checkpoint import split_note
from audit.cosignature import Cosignature, with_cosignatures
from audit.entry import Entry
from gateway.flows.witness_peers import WitnessPeer, peer_by_id
from gateway.store import schema
from gateway.store.ledger import checkpoint_at, latest_checkpoint
from gateway.store.timeutil import to_us
from gateway.store.witness_store import (
    Received,
    last_cosigned,
    latest_witnessed_size,
    received,
    save_received,
)
from xinlian.errors import IntegrityViolation, InvalidArgument, NotFound, PermissionDenied


def accept_cosignature(
    conn: Connection,
    peers: tuple[WitnessPeer, ...],
    caller_id: str,
    tree_size: int,
    line: str,
    now: datetime,
) -> Received:
    # (1) a known peer
    peer = peer_by_id(peers, caller_id)
    if peer is None:
        raise PermissionDenied(
            f"{caller_id} is not a witness of this gateway", reason="NOT_A_WITNESS"
        )
    # (2) its cosignature key
    cosignature = Cosignature.parse_line(line)
    verifier = peer.cosignature_verifier
    if not verifier.matches(cosignature):
        raise InvalidArgument.field(
            "cosignature", f"{cosignature.name}+{cosignature.key_id:08x}", verifier.verifier_key()
        )
    # (3) a checkpoint this gateway signed
    stored = checkpoint_at(conn, tree_size)
    if stored is None:
        raise NotFound(f"no checkpoint of size {tree_size}", reason="NO_CHECKPOINT")
    # (4) over its body
    body, _ = split_note(stored.note)
    if not verifier.verify(body, cosignature, now=int(now.timestamp())):
        raise IntegrityViolation(
            f"the cosignature of {caller_id} does not verify over the checkpoint of size "
            f"{tree_size}",
            reason="BAD_COSIGNATURE",
        )
    # (5) kept
    row = Received(
        tree_size,
        cosignature.name,
        cosignature.key_id,
        caller_id,
        cosignature.timestamp,
        cosignature.line(),
        to_us(now),
    )
    save_received(conn, row)
    return row


@dataclass(frozen=True)
class CosignedCheckpoint:
    note: str
    """The signed note with every cosignature kept for it appended."""
    tree_size: int
    witnesses: tuple[str, ...]
    """The peers (gateway ids) whose cosignatures it carries."""


def cosigned_checkpoint(conn: Connection, tree_size: int) -> CosignedCheckpoint:
    """The checkpoint of ``tree_size`` (0: the latest some peer cosigned, else the latest)
    with the cosignatures it gathered."""
    if tree_size < 0:
        raise InvalidArgument.field("tree_size", tree_size, "0 (latest witnessed) or a size")
    size = tree_size or latest_witnessed_size(conn)
    stored = checkpoint_at(conn, size) if size else latest_checkpoint(conn)
    if stored is None:
        raise NotFound(f"no checkpoint of size {tree_size}", reason="NO_CHECKPOINT")
    rows = received(conn, stored.tree_size)
    note = with_cosignatures(stored.note, [Cosignature.parse_line(r.line) for r in rows])
    return CosignedCheckpoint(note, stored.tree_size, tuple(sorted({r.peer_id for r in rows})))


def witnessed_note(conn: Connection, origin: str) -> str:
    """The latest checkpoint of ``origin`` this gateway cosigned, with its cosignature;
    "" if it never cosigned that log."""
    last = last_cosigned(conn, origin)
    if last is None:
        return ""
    return with_cosignatures(last.note, [Cosignature.parse_line(last.cosignature)])


def hop_entry(conn: Connection, caller_id: str, index: int, trace_id: str) -> bytes:
    """The entry at ``index`` for the peer ``caller_id`` tracing ``trace_id``: only an
    entry with that trace id whose ``details.hop.peer`` is the caller (the flow the two
    gateways share); anything else is NOT_FOUND, so nothing else of the ledger shows."""
    t = schema.ledger_entries.c
    row = conn.execute(select(t.body, t.trace_id).where(t.idx == index)).first()
    missing = NotFound(f"no hop entry {index} for this trace", reason="HOP_NOT_FOUND")
    if row is None or row.trace_id != trace_id or row.body is None:
        raise missing
    body = bytes(row.body)
    hop = Entry.decode(body).details.get("hop")
    if not isinstance(hop, dict) or hop.get("peer") != caller_id:
        raise missing
    return body


def hop_of(body: bytes) -> dict[str, object] | None:
    """The ``details.hop`` of an entry body (None if absent or malformed)."""
    try:
        details = json.loads(body).get("details") or {}
    except ValueError:
        return None
    hop = details.get("hop") if isinstance(details, dict) else None
    return hop if isinstance(hop, dict) else None
