"""Reads for a department's withdrawal of its own records (gateway.flows.withdrawals);
the write itself is ``objections_store.withdraw_record`` (every version, once)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from gateway.store import schema

_R = schema.records.c


@dataclass(frozen=True)
class PushedRecord:
    credit_code: str
    versions: int
    withdrawn: int  # of them, already withdrawn


def pushed_record(
    conn: Connection, source_node_id: str, category: str, record_id: str
) -> PushedRecord | None:
    """The versions this department pushed of ``record_id`` in ``category``, if any."""
    row = conn.execute(
        select(
            func.min(_R.credit_code),
            func.count(),
            func.count(_R.withdrawn_at_us),
        ).where(
            _R.source_node_id == source_node_id,
            _R.category == category,
            _R.record_id == record_id,
        )
    ).one()
    if not row[1]:
        return None
    return PushedRecord(str(row[0]), int(row[1]), int(row[2]))
