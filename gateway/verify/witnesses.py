"""Which of this gateway's checkpoints are witnessed, and by whom (``audit verify``).

Every kept cosignature (``witness_received``) is checked again: its checkpoint is stored,
and the line verifies over that checkpoint's note body with the key of the peer that
handed it in (``configured_peers``). A line that no longer verifies is a problem
(``BAD_COSIGNATURE``: the row or the checkpoint was changed); one from a peer no longer
configured is a notice (it cannot be checked). Split-view evidence this gateway holds
about its peers is a notice too: it is about another gateway's log, not this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from audit.checkpoint import split_note
from audit.cosignature import Cosignature
from gateway.flows.witness_peers import WitnessPeer, peer_by_id
from gateway.store.ledger import all_checkpoints
from gateway.store.witness_store import received, split_rows
from gateway.verify.report import Problem, VerifyReport
from xinlian.errors import InvalidArgument


@dataclass(frozen=True)
class Witnessed:
    tree_size: int
    witnesses: tuple[tuple[str, str, int], ...]
    """(peer gateway id, witness key name, cosignature time) of each verified cosignature."""

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "witnesses": [{"peer": p, "name": n, "time": t} for p, n, t in self.witnesses],
        }


def check_witnesses(
    conn: Connection, report: VerifyReport, peers: tuple[WitnessPeer, ...]
) -> list[Witnessed]:
    """The witnessed checkpoints, smallest first; problems and notices go to ``report``."""
    bodies = {c.tree_size: split_note(c.note)[0] for c in all_checkpoints(conn)}
    by_size: dict[int, list[tuple[str, str, int]]] = {}
    for row in received(conn):
        peer = peer_by_id(peers, row.peer_id)
        where = f"cosignature of checkpoint {row.tree_size} by {row.peer_id}"
        if peer is None:
            report.notices.append(
                Problem("checkpoint", "UNKNOWN_WITNESS", f"{where}: not a configured peer")
            )
            continue
        body = bodies.get(row.tree_size)
        try:
            cosignature = Cosignature.parse_line(row.line)
            ok = body is not None and peer.cosignature_verifier.verify(body, cosignature)
        except InvalidArgument:
            ok = False
        if not ok:
            report.add(Problem("checkpoint", "BAD_COSIGNATURE", f"{where}: does not verify"))
            continue
        by_size.setdefault(row.tree_size, []).append(
            (row.peer_id, cosignature.name, cosignature.timestamp)
        )
    for split in split_rows(conn):
        report.notices.append(
            Problem(
                "witness",
                "SPLIT_VIEW",
                f"peer {split.peer_id} (log {split.origin}) showed two trees of size "
                f"{split.tree_size}: {split.source_a} and {split.source_b} "
                "(xinlian audit witness --evidence)",
            )
        )
    return [Witnessed(size, tuple(sorted(w))) for size, w in sorted(by_size.items())]
