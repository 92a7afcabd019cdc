"""Refusals as ledger entries (gateway.flows.denials): the flood rule on a fake clock, the
marks put where refusals are decided, the node named though authentication refused it,
and a ledger that cannot be written leaving the refusal standing."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from datetime import timedelta
from typing import Any

import pytest

from audit.entry import Action, Entry, Outcome
from gateway.edge.gate import CURRENT_PEER, NodeGate, RegistryView
from gateway.flows.denials import (
    DENIAL_ENTRIES_PER_NODE,
    DENIAL_WINDOW_S,
    MAX_SUMMARY_CREDIT_CODES,
    Denial,
    DenialRecorder,
    DenialSummarizer,
    Refusal,
    denial_entry,
    refusal_of,
    refuses_statement,
    refusing_statement,
    summary_entry,
)
from xinlian.clock import FakeClock
from xinlian.errors import InvalidArgument, PermissionDenied, Unauthenticated, Unavailable
from xinlian.pki import (
    NodeIdentity,
    cert_to_pem,
    create_ca,
    issue_node_cert,
    make_csr,
    new_private_key,
    parse_csr,
)

CODE = "91350100M000100Y43"
WINDOW = timedelta(seconds=DENIAL_WINDOW_S)


def _denial(
    clock: FakeClock,
    node: str = "bank-1",
    reason: str = "KIND_NOT_ALLOWED",
    method: str = "/xinlian.v1.AuditService/SearchEntries",
    refusal: Refusal | None = None,
) -> Denial:
    return Denial(
        node_id=node,
        node_kind="institution",
        method=method,
        reason=reason,
        code="PERMISSION_DENIED",
        time=clock.now(),
        refusal=refusal or Refusal(Action.ACCESS_DENIED),
        request_id="0123456789abcdef",
    )


def test_a_flood_is_counted_into_one_summary_per_window_and_nothing_is_lost() -> None:
    clock = FakeClock()
    rule = DenialSummarizer()
    singles, summaries = 0, []
    for i in range(200):
        single, due = rule.admit(_denial(clock, method=f"/m/{i % 3}"))
        singles += single
        summaries += due
        clock.advance(timedelta(milliseconds=100))  # 20 s in all: one window
    assert singles == DENIAL_ENTRIES_PER_NODE
    assert summaries == [] and rule.pending == 200 - DENIAL_ENTRIES_PER_NODE
    # the window closes: the summary is due, once
    clock.advance(WINDOW)
    (summary,) = rule.due(clock.now())
    assert rule.due(clock.now()) == [] and rule.pending == 0
    assert summary.count == 200 - DENIAL_ENTRIES_PER_NODE
    assert summary.methods == {"/m/0", "/m/1", "/m/2"}
    assert summary.first < summary.last and summary.last <= summary.window_end
    # the next refusal opens a new window with a fresh allowance
    assert rule.admit(_denial(clock)) == (True, [])


def test_the_next_refusal_after_the_window_writes_the_due_summary() -> None:
    clock = FakeClock()
    rule = DenialSummarizer(per_node=2)
    for _ in range(5):
        rule.admit(_denial(clock))
    clock.advance(WINDOW)
    single, due = rule.admit(_denial(clock))
    assert single and [s.count for s in due] == [3]


def test_nodes_and_reasons_are_counted_apart() -> None:
    clock = FakeClock()
    rule = DenialSummarizer(per_node=1)
    assert rule.admit(_denial(clock))[0]
    assert rule.admit(_denial(clock, node="bank-2"))[0]  # its own allowance
    for reason in ("KIND_NOT_ALLOWED", "NODE_SUSPENDED", "NODE_SUSPENDED"):
        assert not rule.admit(_denial(clock, reason=reason))[0]
    assert rule.next_due() == clock.now() + WINDOW
    drained = rule.drain()  # shutdown: everything pending, closed or not
    assert [(s.node_id, s.reason, s.count) for s in drained] == [
        ("bank-1", "KIND_NOT_ALLOWED", 1),
        ("bank-1", "NODE_SUSPENDED", 2),
    ]
    assert rule.drain() == [] and rule.next_due() is None


def test_entries_name_node_reason_method_and_enterprise() -> None:
    clock = FakeClock()
    refusal = Refusal(Action.STATEMENT_REFUSED, "grant", CODE, "g-1", {"nonce": "n1"})
    entry = denial_entry(_denial(clock, reason="BAD_SIGNATURE", refusal=refusal))
    assert (entry.action, entry.actor, entry.actor_kind, entry.outcome) == (
        Action.STATEMENT_REFUSED,
        "bank-1",
        "institution",
        Outcome.DENIED,
    )
    assert (entry.credit_code, entry.subject) == (CODE, "g-1")
    assert entry.details["reason"] == "BAD_SIGNATURE" and entry.details["statement"] == "grant"
    assert entry.details["nonce"] == "n1"
    assert Entry.decode(entry.encode()) == entry

    rule = DenialSummarizer(per_node=0)
    for _ in range(3):
        rule.admit(_denial(clock, reason="BAD_SIGNATURE", refusal=refusal))
    (summary,) = rule.drain()
    one = summary_entry(summary, clock.now())
    assert one.credit_code == CODE and one.details["count"] == 3 and one.details["summary"]
    # many enterprises: listed up to the limit, none in the indexed column
    for i in range(MAX_SUMMARY_CREDIT_CODES + 2):
        other = Refusal(Action.STATEMENT_REFUSED, "grant", f"9135010000000{i:04d}X")
        rule.admit(_denial(clock, reason="BAD_SIGNATURE", refusal=other))
    (summary,) = rule.drain()
    many = summary_entry(summary, clock.now())
    assert many.credit_code is None and many.details["credit_codes_truncated"] is True
    assert len(many.details["credit_codes"]) == MAX_SUMMARY_CREDIT_CODES
    assert Entry.decode(many.encode()) == many


def test_statement_refusals_are_marked_where_they_are_decided() -> None:
    with pytest.raises(PermissionDenied) as info, refusing_statement("grant", CODE, "g-1"):
        raise PermissionDenied("forged", reason="BAD_SIGNATURE")
    refusal = refusal_of(info.value)
    assert refusal is not None and (refusal.credit_code, refusal.subject) == (CODE, "g-1")
    # a ledger that cannot be written is no refusal of the statement
    with pytest.raises(Unavailable) as down, refusing_statement("grant", CODE):
        raise Unavailable("down", reason="LEDGER_UNAVAILABLE")
    assert refusal_of(down.value) is None
    # whatever the wire carried never reaches an entry unless it is a plain token
    with pytest.raises(InvalidArgument) as bad, refusing_statement("grant", "x\n" * 200, "a b"):
        raise InvalidArgument("bad")
    refusal = refusal_of(bad.value)
    assert refusal is not None and refusal.credit_code is None and refusal.subject is None

    @refuses_statement("revocation", lambda a: (a["code"], a["grant_id"]))
    def revoke(code: str, grant_id: str, *, early: bool) -> Any:
        if early:
            raise InvalidArgument("checked before the unit")

        def unit(conn: Any, ledger: Any) -> int:
            raise PermissionDenied("forged", reason="BAD_SIGNATURE")

        return unit

    with pytest.raises(InvalidArgument) as early:
        revoke(CODE, "g-2", early=True)
    unit: Any = revoke(CODE, grant_id="g-2", early=False)
    with pytest.raises(PermissionDenied) as late:
        unit(None, None)
    for exc in (early.value, late.value):
        refusal = refusal_of(exc)
        assert refusal is not None and refusal.action is Action.STATEMENT_REFUSED
        assert (refusal.statement, refusal.credit_code, refusal.subject) == (
            "revocation",
            CODE,
            "g-2",
        )


def _cert(clock: FakeClock) -> bytes:
    ca_key, ca_cert = create_ca("CA", clock.now())
    csr = parse_csr(make_csr(new_private_key(), "bank-1").decode())
    identity = NodeIdentity("bank-1", "institution", "350100")
    return cert_to_pem(issue_node_cert(ca_key, ca_cert, csr, identity, clock.now(), WINDOW * 1000))


@pytest.mark.parametrize(
    ("view", "error", "known", "state"),
    [
        (RegistryView(node_found=False), Unauthenticated, False, ""),
        (
            RegistryView(True, "institution", "350100", "suspended", "", True),
            PermissionDenied,
            True,
            "suspended",
        ),
        (
            RegistryView(True, "institution", "350100", "exited", "", True, True),
            Unauthenticated,
            True,
            "exited",
        ),
    ],
)
def test_the_gate_names_the_refused_node(
    view: RegistryView, error: type[Exception], known: bool, state: str
) -> None:
    clock = FakeClock()
    gate = NodeGate(lambda node_id, fp: view, clock.now)

    async def attempt() -> Any:
        with pytest.raises(error):
            await gate.authenticate(_cert(clock))
        return CURRENT_PEER.get()

    peer = contextvars.copy_context().run(asyncio.run, attempt())
    assert peer is not None and peer.node_id == "bank-1"
    assert (peer.known, peer.state) == (known, state)


class _BrokenLedger:
    async def submit(self, work: Any) -> Any:
        raise Unavailable("disk full", reason="LEDGER_UNAVAILABLE")


class _Ledger:
    def __init__(self) -> None:
        self.entries: list[Entry] = []

    async def submit(self, work: Any) -> Any:
        class Tx:
            def append(tx, entry: Entry) -> int:
                self.entries.append(entry)
                return len(self.entries) - 1

        return work(None, Tx())


def test_recorder_writes_singles_and_summaries_and_survives_a_broken_ledger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    ledger = _Ledger()
    recorder = DenialRecorder(ledger, clock, DenialSummarizer(per_node=2))  # type: ignore[arg-type]

    async def scenario() -> list[int | None]:
        got = [await recorder.record(_denial(clock)) for _ in range(5)]
        clock.advance(WINDOW)
        assert await recorder.flush() == 1
        got.append(await recorder.record(_denial(clock)))
        await recorder.record(_denial(clock))
        await recorder.record(_denial(clock))  # counted; written at close
        await recorder.close()
        return got

    assert asyncio.run(scenario()) == [0, 1, None, None, None, 3]
    counts = [e.details.get("count", 1) for e in ledger.entries]
    assert counts == [1, 1, 3, 1, 1, 1] and sum(counts) == 8

    broken = DenialRecorder(_BrokenLedger(), clock)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="xinlian.denials"):
        assert asyncio.run(broken.record(_denial(clock))) is None  # no raise: still refused
    assert "actor=bank-1 reason=KIND_NOT_ALLOWED" in caplog.text
