"""``serve --log-format json``: every line the gateway writes is one JSON object (gRPC
core and Alembic lines too: one logger tree), and none carries a secret of the home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ops.conftest import http_get
from support.processes import GatewayProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_json_lines_parse_and_hold_no_secret(tmp_path: Path) -> None:
    gw = GatewayProcess.create(tmp_path)
    gw.extra_args = ("--log-format", "json", "--log-level", "DEBUG")
    gw.start()
    try:
        gw.enroll("institution", "bank-j")
        assert http_get(gw.ops_port, "/readyz")[0] == 200
    finally:
        gw.stop()
    lines = [line for line in gw.log.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if not line.startswith("serving ")]
    assert records, "the gateway logged nothing"
    for record in records:
        assert {"asctime", "level", "logger", "message"} <= set(record), record
    loggers = {record["logger"] for record in records}
    assert "xinlian.rpc" in loggers
    text = gw.log.read_text(encoding="utf-8")
    home = gw.home
    secrets = [
        (home / "ledger" / "signer.key").read_text().strip(),
        (home / "secrets" / "pseudonym.key").read_bytes().hex(),
        (home / "ca" / "ca.key").read_text().splitlines()[1],
        (home / "server" / "server.key").read_text().splitlines()[1],
    ]
    for secret in secrets:
        assert secret not in text
    assert "PRIVATE KEY" not in text
