"""The demo's agent step (scripts/demo.py runs it after the objections):

17. the tax department's agent syncs from the department's own database: a table of 24
    tax rows (amounts in 万元, rating codes 1-4, naive Asia/Shanghai times) is mapped to
    the catalog's ``tax`` records and pushed (``xinlian agent sync --config agent.toml``,
    docs/agent.md); one row then changes at the source and the next run reads only it,
    arriving at the gateway as a new version of its record.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

Xl = Callable[..., str]
ROWS = 24
CHANGED_ID = 7


def agentsync_section(
    xl: Xl, banner: Callable[[str], None], identity: Callable[[str], str], demo: Path, home: Path
) -> None:
    from xinlian_samples.tax_source import (
        START,
        create_source,
        sql_source,
        tax_records,
        tax_rows,
        write_config,
    )

    banner("17. The tax department's agent syncs its own database (docs/agent.md)")
    url = f"sqlite:///{demo / 'tax-department.db'}"
    engine = create_source(url, tax_rows(ROWS))
    config = write_config(
        demo / "agent.toml",
        identity=Path(identity("tax-fj")),
        state_dir=demo / "agent-state",
        source=sql_source(url),
    )
    print(f"the department's table tax_records ({ROWS} rows) in {url}; config {config}")
    xl("agent", "sync", "--config", str(config))
    changed = tax_rows(ROWS)[CHANGED_ID - 1]
    record_id = f"{changed['uscc']}:{changed['period']}"
    print(f"\nthe department corrects row {CHANGED_ID} (record {record_id}): 2.5 万元 paid")
    with engine.begin() as conn:
        conn.execute(
            tax_records.update()
            .where(tax_records.c.id == CHANGED_ID)
            .values(total_wan="2.5", updated_at=START + timedelta(days=30))
        )
    engine.dispose()
    xl("agent", "sync", "--config", str(config), "--json")
    xl("agent", "status", "--config", str(config))
    with sqlite3.connect(home / "gateway.db") as db:
        rows = db.execute(
            "SELECT version, fields FROM records WHERE source_node_id = ? AND record_id = ? "
            "ORDER BY version",
            ("tax-fj", record_id),
        ).fetchall()
    print(f"\nthe gateway holds {len(rows)} versions of {record_id}:")
    for version, fields in rows:
        print(f"  version {version}: total_tax_paid {json.loads(fields)['total_tax_paid']} 元")
