"""Acceptance of the agent's SQL sync against a real gateway (mTLS, loopback), with the
department's table in SQLite and in the suite's throwaway PostgreSQL: an initial sync,
an update picked up by the watermark, a SIGKILL between the push and the watermark save,
a fixed reject, a flagged-deleted row, a mapping error at start."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.harness import Gateway

from node_agent.sync.runner import KILL_HOOK_ENV
from tests.agentsync.helpers import status, stored, stored_fields, withdrawn, xinlian
from xinlian_samples.tax_source import (
    START,
    create_source,
    sql_source,
    tax_records,
    tax_rows,
    write_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = 60


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def source_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tax-dept.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def source(source_url: str) -> Iterator[sa.Engine]:
    engine = create_source(source_url, tax_rows(ROWS))
    yield engine
    engine.dispose()


def _config(tmp_path: Path, gateway: Gateway, url: str, **kw: str) -> tuple[Path, str]:
    identity = gateway.enroll_node("department", categories=("tax",))
    config = write_config(
        tmp_path / "agent.toml",
        identity=identity.files.root,
        state_dir=tmp_path / "agent-state",
        source=sql_source(url),
        **kw,
    )
    return config, identity.node_id


def test_initial_sync_then_update_by_watermark(
    tmp_path: Path, gateway: Gateway, source: sa.Engine, source_url: str
) -> None:
    config, node = _config(tmp_path, gateway, source_url)
    first = xinlian("agent", "sync", "--config", str(config), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)["categories"][0]
    assert (summary["read"], summary["accepted"], summary["pending"]) == (ROWS, ROWS, 0)
    keys = stored(gateway.config.database_url, node)
    assert len(keys) == ROWS
    # 万元 became 元, the code list its catalog values, the naive period a date
    fields = stored_fields(gateway.config.database_url, node, keys[0][0])[0]
    assert fields["tax_credit_rating"] in {"A", "B", "C", "D"}
    assert "." not in fields["total_tax_paid"] or len(fields["total_tax_paid"].split(".")[1]) <= 2

    # one row changes: only it is read, and it arrives as a new version
    with source.begin() as conn:
        conn.execute(
            tax_records.update()
            .where(tax_records.c.id == 7)
            .values(total_wan="1.5", updated_at=START + timedelta(days=30))
        )
    second = xinlian("agent", "sync", "--config", str(config), "--json")
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)["categories"][0]
    assert (summary["read"], summary["accepted"]) == (1, 1)
    after = stored(gateway.config.database_url, node)
    assert len(after) == ROWS + 1
    changed = [k for k in after if k not in keys]
    assert (
        stored_fields(gateway.config.database_url, node, changed[0][0])[-1]["total_tax_paid"]
        == "15000"
    )
    # a third run reads nothing
    third = xinlian("agent", "sync", "--config", str(config), "--json")
    assert json.loads(third.stdout)["categories"][0]["read"] == 0
    assert status(config)["accepted"] == ROWS + 1


def test_sigkill_between_push_and_watermark_save(
    tmp_path: Path, gateway: Gateway, source: sa.Engine, source_url: str
) -> None:
    config, node = _config(tmp_path, gateway, source_url)
    killed = xinlian(
        "agent", "sync", "--config", str(config), env={KILL_HOOK_ENV: "1", "XINLIAN_TESTING": "1"}
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    pushed = stored(gateway.config.database_url, node)
    assert len(pushed) == ROWS  # the gateway has the page ...
    assert status(config)["watermark"] is None  # ... the agent never saved its watermark
    again = xinlian("agent", "sync", "--config", str(config), "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)["categories"][0]
    # the page is read and sent again; the gateway stores nothing twice
    assert (summary["read"], summary["accepted"], summary["duplicates"]) == (ROWS, 0, ROWS)
    assert stored(gateway.config.database_url, node) == pushed
    assert status(config)["watermark"] is not None


def test_reject_kept_with_reason_then_fixed_at_source(
    tmp_path: Path, gateway: Gateway, source: sa.Engine, source_url: str
) -> None:
    with source.begin() as conn:
        conn.execute(tax_records.update().where(tax_records.c.id == 3).values(rating_code="9"))
        conn.execute(tax_records.update().where(tax_records.c.id == 4).values(filing="已申报\x01"))
    config, node = _config(tmp_path, gateway, source_url)
    first = xinlian("agent", "sync", "--config", str(config), "--json")
    assert first.returncode == 5, first.stderr
    assert "2 records rejected" in first.stderr
    assert len(stored(gateway.config.database_url, node)) == ROWS - 2
    reasons = status(config)["rejects_by_reason"]
    assert reasons["BAD_SOURCE_VALUE"] == 1 and sum(reasons.values()) == 2, reasons
    # the department fixes both rows; the updated-at watermark sees the fix
    good = tax_rows(ROWS)
    with source.begin() as conn:
        for number in (3, 4):
            conn.execute(
                tax_records.update()
                .where(tax_records.c.id == number)
                .values(
                    rating_code=good[number - 1]["rating_code"],
                    filing=good[number - 1]["filing"],
                    updated_at=START + timedelta(days=40, seconds=number),
                )
            )
    second = xinlian("agent", "sync", "--config", str(config), "--json")
    assert second.returncode == 0, second.stderr
    assert len(stored(gateway.config.database_url, node)) == ROWS
    assert status(config)["rejects_by_reason"] == {}


def test_resync_rereads_rejected_ids_with_an_id_watermark(
    tmp_path: Path, gateway: Gateway, source: sa.Engine, source_url: str
) -> None:
    with source.begin() as conn:
        conn.execute(tax_records.update().where(tax_records.c.id == 5).values(rating_code="9"))
    config, node = _config(tmp_path, gateway, source_url, watermark="id")
    assert xinlian("agent", "sync", "--config", str(config)).returncode == 5
    with source.begin() as conn:  # fixed, but the id watermark has moved past it
        conn.execute(tax_records.update().where(tax_records.c.id == 5).values(rating_code="2"))
    assert (
        json.loads(xinlian("agent", "sync", "--config", str(config), "--json").stdout)[
            "categories"
        ][0]["read"]
        == 0
    )
    resync = xinlian("agent", "resync", "--config", str(config), "--json")
    assert resync.returncode == 0, resync.stderr
    assert json.loads(resync.stdout)["categories"][0]["accepted"] == 1
    assert len(stored(gateway.config.database_url, node)) == ROWS
    assert status(config)["rejects_by_reason"] == {}


def test_flagged_deleted_row_is_a_withdrawal(
    tmp_path: Path, gateway: Gateway, source: sa.Engine, source_url: str
) -> None:
    config, node = _config(tmp_path, gateway, source_url)
    assert xinlian("agent", "sync", "--config", str(config)).returncode == 0
    gone = tax_rows(ROWS)[8]
    record_id = f"{gone['uscc']}:{gone['period']}"
    with source.begin() as conn:
        conn.execute(
            tax_records.update()
            .where(tax_records.c.id == 9)
            .values(is_deleted=1, updated_at=START + timedelta(days=50))
        )
    # killed after the withdrawal was acknowledged, before the watermark was saved
    killed = xinlian(
        "agent", "sync", "--config", str(config), env={KILL_HOOK_ENV: "1", "XINLIAN_TESTING": "1"}
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert withdrawn(gateway.config.database_url, node) == [record_id]
    # the page is read again; the gateway answers the re-sent withdrawal as done already
    done = xinlian("agent", "sync", "--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["categories"][0]
    assert (summary["read"], summary["accepted"], summary["withdrawn"]) == (1, 0, 0)
    assert status(config)["withdrawn"] == 1  # flagged at the source, recorded once
    assert withdrawn(gateway.config.database_url, node) == [record_id]
    assert len(stored(gateway.config.database_url, node)) == ROWS  # kept, not disclosed


@pytest.mark.parametrize(
    ("extra_fields", "named"),
    [
        ('no_such_field = "filing"', "mapping.fields.no_such_field"),
        ("", "tax_credit_rating"),
    ],
)
def test_mapping_error_at_start_names_the_field(
    tmp_path: Path,
    gateway: Gateway,
    source: sa.Engine,
    source_url: str,
    extra_fields: str,
    named: str,
) -> None:
    config, node = _config(tmp_path, gateway, source_url, extra_fields=extra_fields)
    if not extra_fields:  # drop a required field's source
        text = config.read_text(encoding="utf-8")
        config.write_text(
            "\n".join(ln for ln in text.splitlines() if not ln.startswith("tax_credit_rating")),
            encoding="utf-8",
        )
    done = xinlian("agent", "sync", "--config", str(config))
    assert done.returncode == 2
    assert named in done.stderr
    assert "Traceback" not in done.stderr
    assert stored(gateway.config.database_url, node) == []


def test_dry_run_sends_nothing(
    tmp_path: Path, gateway: Gateway, source: sa.Engine, source_url: str
) -> None:
    config, node = _config(tmp_path, gateway, source_url)
    done = xinlian("agent", "sync", "--config", str(config), "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == ROWS and all("record" in line for line in lines)
    assert stored(gateway.config.database_url, node) == []
    assert status(config)["watermark"] is None
