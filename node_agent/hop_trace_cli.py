"""``xinlian audit trace --trace-id T``: one trace across gateways, each hop proven
(docs/witness.md). The officer's gateway lists its entries with the trace id and asks
each hop's peer for its proof (``WitnessService.TraceHops``); the proofs are checked
again here (``node_agent.hop_check``).

Exit status (``xinlian.exit_codes``): 1 when a hop's proof failed (at the gateway or
here); 3 when a peer could not be reached; 0 otherwise (a hop whose entry names no peer
index, the receiving side of a hop, is shown as such).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from node_agent.hop_check import check_hop
from xinlian.console import data_console
from xinlian.exit_codes import CommandExit, ExitCode

RPC_TIMEOUT_S = 120.0
"""The gateway asks every peer in turn: a trace may take a while."""


def _hop_json(hop: Any, officer_check: str) -> dict[str, Any]:
    return {
        "peer": hop.peer,
        "peer_index": hop.peer_index if hop.peer_index >= 0 else None,
        "direction": hop.direction,
        "status": hop.status,
        "message": hop.message,
        "peer_tree_size": hop.peer_tree_size or None,
        "officer_check": officer_check,
        "peer_checkpoint": hop.peer_checkpoint or None,
        "peer_verifier_key": hop.peer_verifier_key or None,
    }


def _action(entry: Any) -> str:
    try:
        return str(json.loads(bytes(entry.entry)).get("action", entry.action))
    except ValueError:
        return str(entry.action)


def show_hop_trace(identity: Path, gateway: str | None, trace_id: str, as_json: bool) -> None:
    from xinlian.identity import Identity
    from xinlian.v1 import witness_pb2, witness_pb2_grpc

    with Identity.load(identity, gateway=gateway).channel() as channel:
        response = witness_pb2_grpc.WitnessServiceStub(channel).TraceHops(
            witness_pb2.TraceHopsRequest(trace_id=trace_id), timeout=RPC_TIMEOUT_S
        )
    rows = []
    failed = unreachable = False
    for entry in response.entries:
        hop = entry.hop if entry.HasField("hop") else None
        check = ""
        if hop is not None and hop.status == "proven":
            problem = check_hop(hop, trace_id)
            check = f"FAILED: {problem}" if problem else "proven"
        failed |= hop is not None and (hop.status == "failed" or check.startswith("FAILED"))
        unreachable |= hop is not None and hop.status == "unavailable"
        rows.append((entry, hop, check))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "trace_id": response.trace_id,
                    "entries": [
                        {
                            "index": e.index,
                            "action": _action(e),
                            "actor": e.actor,
                            "leaf_hash": bytes(e.leaf_hash).hex(),
                            "hop": _hop_json(h, c) if h is not None else None,
                        }
                        for e, h, c in rows
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        table = Table(title=f"trace {response.trace_id}: entries here, each hop proven by its peer")
        for column in ("index", "action", "actor", "hop", "peer index", "proof", "officer check"):
            table.add_column(column, overflow="fold")
        for e, h, c in rows:
            where = f"{h.direction} {h.peer}" if h is not None else ""
            index = str(h.peer_index) if h is not None and h.peer_index >= 0 else ""
            proof = (f"{h.status}: {h.message}" if h.message else h.status) if h else ""
            table.add_row(str(e.index), _action(e), e.actor, where, index, proof, c)
        data_console().print(table)
        if not rows:
            click.echo(f"no entry here carries trace id {trace_id}")
    if failed:
        raise CommandExit(ExitCode.INTEGRITY)
    if unreachable:
        raise CommandExit(ExitCode.UNREACHABLE)
