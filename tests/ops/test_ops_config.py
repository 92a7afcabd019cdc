"""The ops settings in config.json: defaults, validation, and the per-worker ops port."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.host.cli import _worker_ops
from gateway.host.config import CHECKPOINT_AGE_SLACK_S, DEFAULT_OPS_LISTEN, GatewayConfig


def _config(**values: object) -> GatewayConfig:
    return GatewayConfig(home=Path("/nonexistent"), db_url="sqlite://", **values)  # type: ignore[arg-type]


def test_defaults() -> None:
    config = _config(checkpoint_interval_s=10.0)
    assert config.ops_listen == DEFAULT_OPS_LISTEN == "127.0.0.1:9464"
    assert config.log_format == "text"
    assert config.max_checkpoint_age_s == 30.0 + CHECKPOINT_AGE_SLACK_S
    assert _config(readiness_max_checkpoint_age_s=5.0).max_checkpoint_age_s == 5.0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("log_format", "xml"),
        ("ops_listen", "9464"),
        ("ops_listen", "localhost:http"),
        ("readiness_max_checkpoint_age_s", 0.0),
    ],
)
def test_invalid_values_are_refused(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        _config(**{key: value})


def test_ops_port_may_be_off() -> None:
    assert _config(ops_listen="").ops_listen == ""


def test_worker_ops_ports() -> None:
    assert _worker_ops("127.0.0.1:9464", 0) == "127.0.0.1:9464"
    assert _worker_ops("127.0.0.1:9464", 2) == "127.0.0.1:9466"
    assert _worker_ops("127.0.0.1:0", 1) == ""
    assert _worker_ops("", 1) == ""
