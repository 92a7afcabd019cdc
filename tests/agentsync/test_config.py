"""The agent's TOML config: every problem is one error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from node_agent.sync.config import SyncConfigError, load_config
from xinlian_samples.tax_source import sql_source, write_config


def _config(tmp_path: Path, **kw: str) -> Path:
    return write_config(
        tmp_path / "agent.toml",
        identity=tmp_path / "id",
        state_dir=tmp_path / "state",
        source=sql_source("sqlite:///x.db"),
        **kw,
    )


def test_a_good_config_loads(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path))
    tax = config.category("tax")
    assert tax.mapping.record_id == ("uscc", "period")
    assert tax.mapping.fields["total_tax_paid"].unit == "wan_yuan"
    assert tax.mapping.fields["tax_credit_rating"].codes["1"] == "A"
    assert config.state_dir == tmp_path / "state"


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        ({"extra": "page_sise = 10"}, "'page_sise'"),
        ({"extra": "warn_workdays = 100"}, "warn_workdays"),
        ({"extra_fields": 'filing_status = { colum = "x" }'}, "'colum'"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, kw: dict[str, str], named: str) -> None:
    path = _config(tmp_path, **kw)
    if "extra_fields" in kw:  # the field twice: replace the first mapping of it
        text = path.read_text(encoding="utf-8").replace('filing_status = "filing"\n', "")
        path.write_text(text, encoding="utf-8")
    with pytest.raises(SyncConfigError, match=named):
        load_config(path)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("identity = \n", encoding="utf-8")
    with pytest.raises(SyncConfigError, match="not TOML"):
        load_config(bad)
    with pytest.raises(SyncConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
