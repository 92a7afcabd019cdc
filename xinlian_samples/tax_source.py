"""A department's tax table and the agent config that syncs it: the demo, the benchmark
and the tests share it (a made-up but plausible 税务 source, amounts in 万元).

The table ``tax_records``: ``id`` (increasing), ``uscc`` (统一社会信用代码), ``period``
(the tax month), ``taxpayer_type``, ``rating_code`` (1..4 → A..D), ``filing``,
``total_wan`` (万元), ``updated_at`` (naive, Asia/Shanghai), ``is_deleted``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from xinlian_samples.enterprises import generate_enterprises

RATING_CODES = {"1": "A", "2": "B", "3": "C", "4": "D"}
START = datetime(2025, 3, 1, 9, 0, 0)

metadata = sa.MetaData()
tax_records = sa.Table(
    "tax_records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("period", sa.Date, nullable=False),
    sa.Column("taxpayer_type", sa.String(32), nullable=False),
    sa.Column("rating_code", sa.String(4), nullable=False),
    sa.Column("filing", sa.String(32), nullable=False),
    sa.Column("total_wan", sa.Numeric(18, 4), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("is_deleted", sa.Integer, nullable=False, server_default="0"),
)


def tax_rows(n: int, seed: int = 2025, start_id: int = 1) -> list[dict[str, Any]]:
    codes = [e.credit_code for e in generate_enterprises(max(1, n // 12 + 1), seed)]
    rows = []
    for i in range(n):
        number = start_id + i
        rows.append(
            {
                "id": number,
                "uscc": codes[i // 12],
                "period": date(2025, 1 + i % 12, 1),
                "taxpayer_type": "一般纳税人" if i % 3 else "小规模纳税人",
                "rating_code": str(1 + i % 4),
                "filing": "已申报",
                "total_wan": f"{(i % 97) + 1}.{i % 100:02d}",
                "updated_at": START + timedelta(seconds=number),
                "is_deleted": 0,
            }
        )
    return rows


def create_source(url: str, rows: list[dict[str, Any]]) -> sa.Engine:
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    if rows:
        with engine.begin() as conn:
            conn.execute(tax_records.insert(), rows)
    return engine


def write_config(
    path: Path,
    *,
    identity: Path,
    state_dir: Path,
    source: str,
    watermark: str = "updated_at",
    extra_fields: str = "",
    extra: str = "",
) -> Path:
    """The agent config for the tax table; ``source`` is the [category.source] body."""
    path.write_text(
        f'''identity = "{identity}"
state_dir = "{state_dir}"
batch_size = 500
page_size = 2000
{extra}
[[category]]
id = "tax"

[category.source]
{source}
watermark = "{watermark}"

[category.mapping]
credit_code = "uscc"
record_id = ["uscc", "period"]
version = "updated_at"
version_kind = "time"
event_time = "period"
deleted = "is_deleted"

[category.mapping.fields]
tax_period = "period"
taxpayer_type = "taxpayer_type"
tax_credit_rating = {{ column = "rating_code", codes = {{ 1 = "A", 2 = "B", 3 = "C", 4 = "D" }} }}
filing_status = "filing"
total_tax_paid = {{ column = "total_wan", unit = "wan_yuan" }}
{extra_fields}
''',
        encoding="utf-8",
    )
    return path


def sql_source(url: str) -> str:
    return f'kind = "sql"\nurl = "{url}"\nquery = "SELECT * FROM tax_records"'
