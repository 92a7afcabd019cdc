"""Exit codes of the installed ``xinlian`` command against a running gateway: a refused
erasure, a refused caller, a refused request (``xinlian.exit_codes``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from support.harness import Gateway
from support.installed_cli import assert_exit, xinlian

from authz.catalog import Catalog
from gateway.flows.retention import NEGATIVE_RETENTION_DAYS
from gateway.store import schema
from node_agent.push import load_signing_key
from xinlian.batch import BatchRecord, canonical_batch
from xinlian.exit_codes import ExitCode
from xinlian.identity import Identity
from xinlian.signing import sign
from xinlian.v1 import exchange_pb2, exchange_pb2_grpc
from xinlian_samples.generator import generate_enterprises, generate_records

pytestmark = pytest.mark.integration

CATEGORY = "judicial"  # negative credit information: its records are erased when due


def _push_one_due_record(gw: Gateway) -> Identity:
    """A court pushes one batch: a record past the negative retention period (due for
    erasure with the batch's signed bytes) and a recent one (kept)."""
    court = gw.enroll_node("department", "court", categories=(CATEGORY,))
    enterprise = generate_enterprises(1, seed=7)[0]
    category = Catalog.default().categories[CATEGORY]
    old, recent = generate_records(enterprise, category, 2, seed=7)
    now = datetime.now(UTC)
    records = [
        BatchRecord(
            enterprise.credit_code,
            old.record_id,
            1,
            now - timedelta(days=NEGATIVE_RETENTION_DAYS + 100),
            dict(old.fields),
        ),
        BatchRecord(
            enterprise.credit_code,
            recent.record_id,
            1,
            now - timedelta(days=300),
            dict(recent.fields),
        ),
    ]
    data = canonical_batch(court.node_id, "j-1", CATEGORY, records)
    batch = exchange_pb2.Batch(
        batch_id="j-1",
        category=CATEGORY,
        signed_content=data,
        signature=sign(load_signing_key(court), data),
    )
    with court.channel() as channel:
        stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
        [response] = stub.Push(iter([exchange_pb2.PushRequest(batch=batch)]), timeout=60)
    assert response.accepted == 2, response
    return court


def test_prune_refusing_an_erasure_exits_1(gateway: Gateway) -> None:
    _push_one_due_record(gateway)
    store = gateway.runtime.store
    fields = json.loads(
        store.read(lambda c: c.execute(select(schema.records.c.fields).limit(1)).scalar_one())
    )
    fields = {key: f"{value}改" for key, value in fields.items()}
    store.write(
        lambda c: c.execute(
            update(schema.records).values(fields=json.dumps(fields, ensure_ascii=False))
        )
    )
    home = str(gateway.home)
    dry = xinlian("audit", "prune", "--home", home, "--dry-run")
    assert_exit(dry, ExitCode.INTEGRITY)
    result = xinlian("audit", "prune", "--home", home)
    assert_exit(result, ExitCode.INTEGRITY)
    assert "REFUSED to erase 1 batches" in result.stderr, result.stderr


def test_prune_that_erases_exits_0(gateway: Gateway) -> None:
    _push_one_due_record(gateway)
    result = xinlian("audit", "prune", "--home", str(gateway.home))
    assert_exit(result, ExitCode.OK)
    assert "erased the signed bytes of 1 negative batches" in result.stdout, result.stdout


def test_a_suspended_or_exited_node_is_denied_4(gateway: Gateway) -> None:
    bank = gateway.enroll_node("institution", "bank-1")
    admin = ("--identity", str(gateway.config.admin_identity), "--gateway", gateway.address)
    whoami = ("node", "whoami", "--identity", str(bank.files.root), "--gateway", gateway.address)
    assert_exit(xinlian(*whoami), ExitCode.OK)

    suspend = xinlian("admin", "suspend", *admin, "bank-1", "--reason", "安全事件调查")
    assert_exit(suspend, ExitCode.OK)
    denied = xinlian(*whoami)
    assert_exit(denied, ExitCode.DENIED)
    assert denied.stderr.startswith("error: PERMISSION_DENIED: "), denied.stderr
    assert "[NODE_SUSPENDED]" in denied.stderr

    assert_exit(xinlian("admin", "exit", *admin, "bank-1", "--reason", "退出"), ExitCode.OK)
    gone = xinlian(*whoami)
    assert_exit(gone, ExitCode.DENIED)
    assert gone.stderr.startswith("error: UNAUTHENTICATED: "), gone.stderr

    # the gateway refusing the request itself (not the caller) is any other failure
    again = xinlian("admin", "readmit", *admin, "bank-1", "--reason", "again")
    assert_exit(again, ExitCode.FAILED)
    assert again.stderr.startswith("error: FAILED_PRECONDITION: "), again.stderr
