"""The query's publicity filter: for a consumer other than the enterprise itself, a record
of a category with a publicity rule (authz.catalog.Publicity) is dropped when
authz.publicity says it is no longer disclosed as public data (past its period, repaired,
removed from its list). The enterprise's repairs are read in the query's own transaction,
and only when the answer holds a record of such a category: a query without one pays a
dictionary lookup per record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from authz.catalog import Catalog, Publicity
from authz.publicity import RepairKind, local_day, verdict
from gateway.store import schema
from gateway.store.query_reads import StoredRecord


def repaired_records(conn: Connection, credit_code: str) -> dict[tuple[str, str], RepairKind]:
    """The repairs and removals of one enterprise's records, by (source, record id)."""
    c = schema.credit_repairs.c
    rows = conn.execute(
        select(c.source_node_id, c.record_id, c.kind).where(c.credit_code == credit_code)
    )
    return {(r.source_node_id, r.record_id): RepairKind(r.kind) for r in rows}


class PublicityFilter:
    """Drops the records no longer disclosed as public data (for non-self consumers)."""

    def __init__(self, catalog: Catalog) -> None:
        self.rules: dict[str, Publicity] = {
            c.id: c.publicity for c in catalog.categories.values() if c.publicity is not None
        }

    def public(
        self, conn: Connection, records: list[StoredRecord], now: datetime, *, own: object
    ) -> list[StoredRecord]:
        """``records`` (of one enterprise) without those no longer public; all of them
        for the enterprise's own query (``own``: its statement, or None)."""
        rules = self.rules
        if own is not None or not any(r.category in rules for r in records):
            return records  # the fast path: the enterprise itself, or no rule applies
        repaired = repaired_records(conn, records[0].credit_code)
        out: list[StoredRecord] = []
        for record in records:
            rule = rules.get(record.category)
            if (
                rule is None
                or verdict(
                    rule,
                    record.fields,
                    local_day(record.event_time),
                    now,
                    repair=repaired.get((record.source_node_id, record.record_id)),
                ).disclosed
            ):
                out.append(record)
        return out
