"""Signs checkpoints of the ledger at an interval and on demand. (Being built.)"""

from __future__ import annotations

from gateway.runtime import Runtime


async def run_checkpointer(rt: Runtime) -> None:
    """Background task started with the server; returns when cancelled."""
    return None
