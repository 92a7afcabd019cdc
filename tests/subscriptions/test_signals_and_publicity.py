"""Risk signals and publicity ends over real mTLS: a bank's "marked only" monitoring
subscription receives a new administrative penalty as a risk signal and not an
unremarkable tax record; when the penalty's publicity period runs out, the scheduled
scan logs one ``publicity_ended`` event (once, however often it runs) and the batch
subscription receives it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from subscriptions.helpers import grant, pull, push
from support.authz_helpers import CODE, TAX_FIELDS, make_world
from support.harness import running_gateway

from authz.catalog import Catalog
from gateway.flows.change_log import log_publicity_ends
from node_agent.subscriptions import SubscriptionClient
from xinlian.clock import FakeClock
from xinlian_samples.generator import generate_enterprises, generate_records

pytestmark = pytest.mark.integration

CATALOG = Catalog.default()


def _penalty(code: str, until: datetime) -> dict[str, str]:
    [enterprise] = [e for e in generate_enterprises(3, seed=4) if e.credit_code == code]
    [record] = generate_records(enterprise, CATALOG.categories["admin_penalty"], 1, 7)
    return {
        **record.fields,
        "decision_date": (until - timedelta(days=120)).date().isoformat(),
        "publicity_until": until.date().isoformat(),
    }


def test_marked_penalty_then_its_publicity_end(tmp_path: Path, db_url: str) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with running_gateway(tmp_path, db_url, clock=clock) as gateway:
        world = make_world(gateway, tmp_path)
        tax = gateway.enroll_node("department", "tax-dept", categories=("tax",))
        amr = gateway.enroll_node("department", "amr-dept", categories=("admin_penalty",))
        grant(world, "bank-a", ("tax", "admin_penalty"))
        clock.advance(timedelta(minutes=1))  # the grant starts at the real time
        with SubscriptionClient(world.bank) as client:
            marked = client.create("monitoring", [], marked_only=True).subscription_id
            batch = client.create(
                "batch", ["admin_penalty"], region_prefix=CODE[2:4]
            ).subscription_id
        push(tax, tmp_path, "tax", [(CODE, "tax-quiet", 1, TAX_FIELDS)])  # no arrears
        until = clock.now() + timedelta(days=5)
        push(amr, tmp_path, "admin_penalty", [(CODE, "pen-1", 1, _penalty(CODE, until))])

        [signal] = pull(world.bank, marked, tmp_path / "marked")
        assert (signal["record_id"], signal["kind"]) == ("pen-1", "record")
        assert [(s["rule"], s["severity"]) for s in signal["signals"]] == [
            ("new_admin_penalty", "high")
        ]
        assert signal["fields"]["penalty_document_no"]["mask"] == "keep"  # public

        out = tmp_path / "batch"
        assert [e["kind"] for e in pull(world.bank, batch, out)] == ["record"]
        # the period runs out: one publicity_ended event, however often the scan runs
        clock.advance(timedelta(days=7))
        catalog = gateway.runtime.catalog

        def scan() -> int:
            return int(
                gateway.loop.run(
                    gateway.runtime.commit(
                        lambda conn, ledger: log_publicity_ends(conn, catalog, clock.now())
                    )
                )
            )

        assert scan() == 1
        assert scan() == 0
        events = pull(world.bank, batch, out)
        assert [(e["kind"], e["record_id"], e["fields"]) for e in events] == [
            ("record", "pen-1", events[0]["fields"]),
            ("publicity_ended", "pen-1", {}),
        ]
