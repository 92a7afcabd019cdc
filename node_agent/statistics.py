"""The monthly statistics on the client: the call, the reply as a plain document (what
``--json`` prints and the HTML report draws), and the tables as CSV files.

The document::

    {"month": "2025-03", "period_start": RFC 3339, "period_end": …, "as_of": …,
     "ledger_size": N, "ledger_index": I, "notes": [text, …],
     "tables": [{"name": "department_categories", "title": "部门推送与及时率",
                 "columns": [{"name": "department", "label": "部门", "kind": "text"}, …],
                 "rows": [["tax-fj", "tax", …], …]}, …]}

Cells are text as the gateway sent them (integers in decimal, shares with four
decimals or ``n/a``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from node_agent.client import ServiceClient
from xinlian.v1 import statistics_pb2 as pb
from xinlian.v1 import statistics_pb2_grpc

STATISTICS_TIMEOUT_S = 300.0
"""A month of a busy ledger takes a while to count; longer than ordinary calls."""
MONTH_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])", re.ASCII)
KIND_NAMES = {
    pb.COLUMN_KIND_TEXT: "text",
    pb.COLUMN_KIND_INTEGER: "integer",
    pb.COLUMN_KIND_SHARE: "share",
}


def valid_month(text: str) -> bool:
    """``YYYY-MM`` with a month 01-12 (the gateway checks the calendar year)."""
    return MONTH_RE.fullmatch(text) is not None


class StatisticsClient(ServiceClient):
    STUB = statistics_pb2_grpc.StatisticsServiceStub

    def monthly(self, month: str) -> Any:
        return self.stub.GetStatistics(
            pb.GetStatisticsRequest(month=month), timeout=STATISTICS_TIMEOUT_S
        )


def _time(stamp: Any) -> str:
    return str(stamp.ToJsonString())


def to_document(response: Any) -> dict[str, Any]:
    """The reply as plain JSON-ready values (module docstring)."""
    return {
        "month": response.month,
        "period_start": _time(response.period_start),
        "period_end": _time(response.period_end),
        "as_of": _time(response.as_of),
        "ledger_size": response.ledger_size,
        "ledger_index": response.ledger_index,
        "notes": list(response.notes),
        "tables": [
            {
                "name": table.name,
                "title": table.title,
                "columns": [
                    {"name": c.name, "label": c.label, "kind": KIND_NAMES.get(c.kind, "text")}
                    for c in table.columns
                ],
                "rows": [list(row.cells) for row in table.rows],
            }
            for table in response.tables
        ],
    }


def table(document: dict[str, Any], name: str) -> dict[str, Any]:
    """One table of the document by name (KeyError if the gateway sent none)."""
    for item in document["tables"]:
        if item["name"] == name:
            return dict(item)
    raise KeyError(f"the statistics have no table {name!r}")


def rows_as_dicts(item: dict[str, Any]) -> list[dict[str, str]]:
    names = [c["name"] for c in item["columns"]]
    return [dict(zip(names, row, strict=True)) for row in item["rows"]]


def write_csv(document: dict[str, Any], out: Path) -> list[Path]:
    """One ``<table name>.csv`` per table in ``out`` (UTF-8, header = column names)."""
    written = []
    for item in document["tables"]:
        path = out / f"{item['name']}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([c["name"] for c in item["columns"]])
            writer.writerows(item["rows"])
        written.append(path)
    return written


__all__ = [
    "StatisticsClient",
    "rows_as_dicts",
    "table",
    "to_document",
    "valid_month",
    "write_csv",
]
