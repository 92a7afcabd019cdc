"""Service mode: a real ``xinlian agent sync --service`` process syncs on its interval,
renews its certificate before expiry, serves its metrics, and stops on SIGTERM; the
deadline warnings count working days and say so when the calendar lacks a year."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from support.harness import Gateway

from authz.catalog import Catalog
from node_agent.push import REJECTED, RecordVerdict
from node_agent.push_input import ObjectReader
from node_agent.sync.deadlines import deadline_warnings
from node_agent.sync.watermark import SyncState
from tests.agentsync.helpers import stored
from xinlian.workdays import WorkdayCalendar
from xinlian_samples.tax_source import (
    create_source,
    sql_source,
    tax_records,
    tax_rows,
    write_config,
)

WAIT_S = 120.0  # generous: the machine is shared


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _metrics(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            return str(answer.read().decode())
    except OSError:
        return ""


@pytest.mark.integration
@pytest.mark.slow
def test_service_syncs_on_its_interval_renews_and_stops(tmp_path: Path, gateway: Gateway) -> None:
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    engine = create_source(url, tax_rows(20))
    identity = gateway.enroll_node("department", categories=("tax",))
    old_serial = x509.load_pem_x509_certificate(identity.files.cert.read_bytes()).serial_number
    port = _free_port()
    config = write_config(
        tmp_path / "agent.toml",
        identity=identity.files.root,
        state_dir=tmp_path / "state",
        source=sql_source(url),
        # the certificate has less than 10 years left: renewed at start
        extra=f"metrics_port = {port}\nrenew_before_days = 365",
    )
    text = config.read_text(encoding="utf-8").replace(
        'id = "tax"\n', 'id = "tax"\ninterval_s = 1\n'
    )
    config.write_text(text, encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xinlian_cli.main",
            "agent",
            "sync",
            "--config",
            str(config),
            "--service",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        db = gateway.config.database_url
        _until(lambda: len(stored(db, identity.node_id)) == 20, "the first sync")
        with engine.begin() as conn:
            conn.execute(tax_records.insert(), tax_rows(21)[20:])
        _until(lambda: len(stored(db, identity.node_id)) == 21, "the new row, on the interval")
        _until(
            lambda: (
                'xinlian_agent_records_total{category="tax",outcome="accepted"} 21.0'
                in _metrics(port)
            ),
            "the metrics",
        )
        assert "xinlian_agent_last_success_timestamp_seconds" in _metrics(port)
        renewed = x509.load_pem_x509_certificate(identity.files.cert.read_bytes())
        assert renewed.serial_number != old_serial
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=WAIT_S)
        engine.dispose()
    assert process.returncode == 0, err
    assert "renewed" in err
    assert "Traceback" not in err


def test_deadline_warnings_in_working_days(tmp_path: Path) -> None:
    catalog = Catalog.default()
    calendar = WorkdayCalendar.load()
    state = SyncState(tmp_path)
    reader = ObjectReader("tax", catalog)
    code = tax_rows(1)[0]["uscc"]

    def reject(record_id: str, event: str) -> tuple[RecordVerdict, None]:
        item = reader.read(
            0,
            {
                "credit_code": code,
                "record_id": record_id,
                "version": 1,
                "event_time": event,
                "fields": {},
            },
        )
        item.original = {"_record_id": record_id, "_event_time": event}
        return RecordVerdict(item, REJECTED, "MISSING_FIELD", "tax_period"), None

    rows = [
        reject("late", "2025-03-03T02:00:00Z"),  # 15 working days passed long ago
        reject("soon", "2026-06-01T02:00:00Z"),
        reject("future-year", "2027-03-01T02:00:00Z"),  # no 2027 calendar ships
    ]
    state.commit("tax", None, rows, [], datetime.now(UTC), read=3, move_watermark=False)
    # 2026-06-19 is a Friday: "soon" is due 15 working days after 2026-06-01
    now = datetime(2026, 6, 19, 2, 0, tzinfo=UTC)
    warnings = {w.record_id: w for w in deadline_warnings(state, catalog, calendar, 2, now)}
    assert "has passed" in warnings["late"].message
    assert "working days away" in warnings["soon"].message
    assert warnings["future-year"].due is None
    assert "2027" in warnings["future-year"].message
    assert "calendar_dirs" in warnings["future-year"].message
    # far from the deadline: no warning for "soon"
    early = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)
    assert "soon" not in {
        w.record_id for w in deadline_warnings(state, catalog, calendar, 2, early)
    }
    state.close()
