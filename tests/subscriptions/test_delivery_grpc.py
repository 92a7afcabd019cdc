"""Delivery over real mTLS: acknowledged cursors, redelivery after a disconnect (same
event ids, no loss), a stalled subscriber that neither slows pushes nor other
subscribers, a cursor older than retention (CURSOR_EXPIRED, then --resync), a suspended
node that gets nothing, cancelling, and the overseer's list with lag."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner
from subscriptions.helpers import pull, push
from support.authz_helpers import reason_of
from support.harness import Gateway

from authz.catalog import Catalog
from gateway.flows import change_log
from gateway.services.subscriptions_service import MAX_UNACKED_BATCHES
from node_agent.subscriptions import SubscriptionClient
from xinlian.identity import Identity
from xinlian.v1 import registry_pb2
from xinlian_cli.main import cli, run
from xinlian_samples.generator import Enterprise, generate_enterprises, generate_records

pytestmark = pytest.mark.integration

WAIT_S = 60.0


def _registrations(
    enterprises: list[Enterprise], seed: int
) -> list[tuple[str, str, int, dict[str, str]]]:
    spec = Catalog.default().categories["registration"]
    return [
        (r.credit_code, r.record_id, r.version, dict(r.fields))
        for e in enterprises
        for r in generate_records(e, spec, 1, seed)
    ]


def _setup(gateway: Gateway) -> tuple[Identity, Identity, list[Enterprise]]:
    dept = gateway.enroll_node("department", "amr-dept", categories=("registration",))
    bank = gateway.enroll_node("institution", "bank-x")
    fujian = [e for e in generate_enterprises(60, seed=21) if e.credit_code[2:4] == "35"]
    return dept, bank, fujian


def _batch_sub(node: Identity) -> str:
    with SubscriptionClient(node) as client:
        return str(client.create("batch", ["registration"], region_prefix="35").subscription_id)


def test_unacknowledged_batch_comes_again_with_the_same_ids(
    gateway: Gateway, tmp_path: Path
) -> None:
    dept, bank, fujian = _setup(gateway)
    sub = _batch_sub(bank)
    push(dept, tmp_path, "registration", _registrations(fujian[:5], 1))
    with SubscriptionClient(bank) as client:
        responses, _acks = client.stream(sub)
        first = next(responses)  # received, never acknowledged: the connection drops
        responses.cancel()  # type: ignore[attr-defined]
    ids = [e.event_id for e in first.events]
    assert len(ids) == 5
    out = tmp_path / "out"
    events = pull(bank, sub, out)
    assert [e["event_id"] for e in events] == ids  # the same events, once in the file
    # acknowledged: nothing comes again; a second pull writes nothing
    assert pull(bank, sub, out) == events
    with SubscriptionClient(bank) as client:
        [listed] = client.list().subscriptions
    assert listed.acked_position == first.next_position and listed.lag_events == 0


def test_pull_resumes_after_a_partial_pull(gateway: Gateway, tmp_path: Path) -> None:
    dept, bank, fujian = _setup(gateway)
    sub = _batch_sub(bank)
    for i in range(3):  # three change log pages' worth, pushed in three batches
        push(dept, tmp_path, "registration", _registrations(fujian[i * 3 : i * 3 + 3], 2))
    out = tmp_path / "out"
    with SubscriptionClient(bank) as client:
        partial = client.pull(sub, out, max_batches=1)
    assert partial.batches == 1
    events = pull(bank, sub, out)
    assert len(events) == 9 and len({e["event_id"] for e in events}) == 9


def test_stalled_subscriber_does_not_slow_pushes_or_others(
    gateway: Gateway, tmp_path: Path
) -> None:
    dept, bank, fujian = _setup(gateway)
    other = gateway.enroll_node("institution", "bank-y")
    stalled_sub, other_sub = _batch_sub(bank), _batch_sub(other)
    with SubscriptionClient(bank) as stalled:
        responses, _acks = stalled.stream(stalled_sub)
        received: list[int] = []

        def read_some() -> None:  # reads what the window lets through, never acks
            try:
                for response in responses:
                    received.append(len(response.events))
            except grpc.RpcError as err:  # cancelled at the end of the test
                assert err.code() is grpc.StatusCode.CANCELLED

        reader = threading.Thread(target=read_some, daemon=True)
        reader.start()
        pushes = 12
        for i in range(pushes):  # one change log batch per push
            push(dept, tmp_path, "registration", _registrations(fujian[i : i + 1], 3 + i))
        # every push was answered while the stalled stream sat on a full window; the
        # other subscriber received every event
        events = pull(other, other_sub, tmp_path / "other")
        assert len(events) == pushes
        assert len(received) <= MAX_UNACKED_BATCHES
        responses.cancel()  # type: ignore[attr-defined]
        reader.join(WAIT_S)


def test_cursor_older_than_retention_needs_a_resync(gateway: Gateway, tmp_path: Path) -> None:
    dept, bank, fujian = _setup(gateway)
    sub = _batch_sub(bank)
    push(dept, tmp_path, "registration", _registrations(fujian[:2], 4))
    push(dept, tmp_path, "registration", _registrations(fujian[2:4], 4))
    later = datetime.now(UTC) + timedelta(days=change_log.CHANGE_LOG_RETENTION_DAYS + 1)
    pruned = gateway.loop.run(
        gateway.runtime.commit(lambda conn, ledger: change_log.prune(conn, later))
    )
    assert pruned == 3  # the newest event is always kept
    with SubscriptionClient(bank) as client:
        responses, _ = client.stream(sub)
        with pytest.raises(grpc.RpcError) as expired:
            next(responses)
    assert expired.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(expired.value) == "CURSOR_EXPIRED"
    assert "re-sync" in (expired.value.details() or "")
    result = CliRunner().invoke(
        cli,
        [
            "subscribe",
            "pull",
            "--identity",
            str(bank.files.root),
            "--gateway",
            gateway.address,
            "--subscription",
            sub,
            "--out",
            str(tmp_path / "out"),
            "--resync",
            "--idle",
            "1.5",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["events_written"] == 1  # what the log still keeps


def test_suspended_node_gets_nothing_and_cancel_stops(
    gateway: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dept, bank, fujian = _setup(gateway)
    sub = _batch_sub(bank)
    push(dept, tmp_path, "registration", _registrations(fujian[:2], 5))
    responses = None
    with SubscriptionClient(bank) as client:
        responses, acks = client.stream(sub)
        first = next(responses)
        assert len(first.events) == 2
        acks.ack(first.next_position)
        gateway.admin_stub().SuspendNode(
            registry_pb2.SuspendNodeRequest(node_id="bank-x", reason="安全事件调查"), timeout=10
        )
        push(dept, tmp_path, "registration", _registrations(fujian[2:3], 5))
        with pytest.raises(grpc.RpcError) as stopped:
            next(responses)  # the open stream ends: nothing more is delivered
        assert stopped.value.code() is grpc.StatusCode.PERMISSION_DENIED
    # readmitted, it resumes from its acknowledged cursor; cancelled, nothing more
    gateway.admin_stub().ReadmitNode(
        registry_pb2.ReadmitNodeRequest(node_id="bank-x", reason="调查结束"), timeout=10
    )
    assert [e["credit_code"] for e in pull(bank, sub, tmp_path / "out")] == [fujian[2].credit_code]
    runner = CliRunner()
    base = ["--identity", str(bank.files.root), "--gateway", gateway.address]
    result = runner.invoke(cli, ["subscribe", "cancel", *base, "--subscription", sub, "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["state"] == "cancelled"
    capsys.readouterr()
    code = run(["subscribe", "pull", *base, "--subscription", sub, "--out", str(tmp_path / "o2")])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error:") and err.count("\n") == 1, err
    assert "cancelled" in err
    officer = gateway.enroll_node("officer", "officer-1")
    listed = runner.invoke(
        cli,
        [
            "subscribe",
            "list",
            "--identity",
            str(officer.files.root),
            "--gateway",
            gateway.address,
            "--all",
            "--json",
        ],
    )
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)["subscriptions"]
    assert (row["node_id"], row["state"]) == ("bank-x", "cancelled")
    assert "lag_events" in row and "lag_seconds" in row
