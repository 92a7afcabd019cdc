"""Source values to catalog wire text: the conversions a mapping names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from authz.catalog import FieldType
from node_agent.sync.config import FieldMap
from node_agent.sync.convert import ConversionError, field_text, time_version, to_time

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_amounts_in_wan_yuan_are_exact() -> None:
    spec = FieldMap(column="amt", unit="wan_yuan")
    assert field_text(spec, FieldType.DECIMAL, "12.3456", SHANGHAI) == "123456"
    assert field_text(spec, FieldType.DECIMAL, Decimal("0.00015"), SHANGHAI) == "1.5"
    assert field_text(FieldMap(column="amt"), FieldType.DECIMAL, 1e2, SHANGHAI) == "100"
    with pytest.raises(ConversionError, match="amt"):
        field_text(spec, FieldType.DECIMAL, "一万", SHANGHAI)


def test_naive_times_are_read_in_the_configured_zone() -> None:
    naive = datetime(2025, 3, 1, 0, 30)
    assert to_time("t", naive, SHANGHAI) == datetime(2025, 2, 28, 16, 30, tzinfo=UTC)
    assert to_time("t", naive, ZoneInfo("UTC")) == naive.replace(tzinfo=UTC)
    # the date of a time is its local day
    spec = FieldMap(column="d")
    assert field_text(spec, FieldType.DATE, naive, SHANGHAI) == "2025-03-01"
    assert field_text(spec, FieldType.DATE, date(2025, 3, 1), SHANGHAI) == "2025-03-01"
    assert field_text(FieldMap("d", format="%Y%m%d"), FieldType.DATE, "20250301", SHANGHAI) == (
        "2025-03-01"
    )
    assert time_version("u", "2025-03-01 08:00:00", SHANGHAI) == int(
        datetime(2025, 3, 1, tzinfo=UTC).timestamp() * 1_000_000
    )


def test_code_lists_booleans_and_absent_values() -> None:
    spec = FieldMap(column="c", codes={"1": "A", "2": "B"})
    assert field_text(spec, FieldType.STRING, 1, SHANGHAI) == "A"
    with pytest.raises(ConversionError, match="want one of 1, 2"):
        field_text(spec, FieldType.STRING, "9", SHANGHAI)
    flag = FieldMap(column="f")
    assert field_text(flag, FieldType.BOOLEAN, "是", SHANGHAI) == "true"
    assert field_text(flag, FieldType.BOOLEAN, 0, SHANGHAI) == "false"
    assert field_text(flag, FieldType.STRING, None, SHANGHAI) is None
    assert field_text(flag, FieldType.STRING, "  ", SHANGHAI) is None
