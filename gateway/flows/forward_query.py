"""Forwarded queries: a consumer asks its own gateway about an enterprise of another region;
the enterprise's home gateway decides, under the grant registered there, and masks for
the original consumer's role.

At the consumer's gateway (``forward``):

    (1) route: the home of the credit code by the directory (``Directory.home_of``); the
        home is this gateway, or unknown: the query is local (``gateway.flows.query``);
    (2) the consumer is named qualified by this gateway: ``bank-cib@gw-350000``;
    (3) the next hop: the upstream (a member), or the home's downlink (the top); a
        suspended home is refused HOME_GATEWAY_SUSPENDED;
    (4) the call, bounded by ``federation_forward_deadline_s``; an unreachable peer is
        UNAVAILABLE ``UPSTREAM_UNAVAILABLE`` (a ``query.forwarded`` entry with outcome
        error records it), local queries are untouched;
    (5) one ``query.forwarded`` entry: the consumer, purpose, per category the home's
        decision (allowed or its reason), the home gateway and the hop (peer, the peer's
        ledger index, out).

At a gateway that receives one (``receive``):

    (1) at most MAX_FORWARD_HOPS hops; the consumer id is qualified by the origin
        gateway; the caller speaks for its own nodes, or is this gateway's upstream
        (which vouches for the members it lists);
    (2) route again: the home is here: the ordinary query path with the qualified
        consumer (the grant names it), the entry carrying the hop (in); else, at the
        top, forward to the home's downlink and write a ``query.forward_received`` (in)
        and a ``query.forwarded`` (out) entry, answering with the first one's index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from audit.entry import Action, Entry, Outcome
from gateway.core.caller import Caller
from gateway.flows.federation_directory import Member
from gateway.flows.federation_link import (
    GATEWAY_KIND,
    HOP_IN,
    HOP_OUT,
    Federation,
    hop,
)
from gateway.flows.runtime import Runtime
from xinlian.errors import FailedPrecondition, InvalidArgument, PermissionDenied, Unavailable
from xinlian.identity import Identity

MAX_FORWARD_HOPS = 3
UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
HOME_GATEWAY_SUSPENDED = "HOME_GATEWAY_SUSPENDED"
NOT_FEDERATED = "NOT_FEDERATED"
ORIGIN_NOT_CALLER = "ORIGIN_NOT_CALLER"


@dataclass(frozen=True)
class ForwardRequest:
    credit_code: str
    purpose: str
    categories: tuple[str, ...]
    trace_id: str
    consumer_node_id: str  # qualified: node@gateway
    consumer_kind: str
    origin_gateway_id: str
    hops: int


@dataclass(frozen=True)
class ForwardAnswer:
    answer: bytes  # the home's QueryResponse, serialized (the service reads it)
    ledger_index: int  # the peer's entry for this hop
    gateway_id: str  # the peer
    answered_by: str  # the home gateway
    decisions: dict[str, str] = field(default_factory=dict)  # category → ALLOWED | reason


class ForwardCalls(Protocol):
    async def forward(
        self, identity: Identity, request: ForwardRequest, deadline_s: float
    ) -> ForwardAnswer: ...


def qualify(node_id: str, gateway_id: str) -> str:
    return node_id if "@" in node_id else f"{node_id}@{gateway_id}"


class ForwardQueries:
    def __init__(self, rt: Runtime, calls: ForwardCalls) -> None:
        self.rt = rt
        self.calls = calls

    @property
    def federation(self) -> Federation | None:
        fed: Federation | None = self.rt.federation
        return fed

    # -- (1) route ------------------------------------------------------------------------
    def remote_home(self, credit_code: str) -> Member | None:
        fed = self.federation
        if fed is None:
            return None
        home = fed.home_of(credit_code)
        if home is None or home.gateway_id == fed.gateway_id:
            return None
        return home

    # -- at the consumer's gateway --------------------------------------------------------
    async def forward(
        self,
        caller: Caller,
        home: Member,
        credit_code: str,
        purpose: str,
        categories: tuple[str, ...],
        trace_id: str,
    ) -> tuple[ForwardAnswer, int]:
        fed = self._require()
        request = ForwardRequest(
            credit_code,
            purpose,
            categories,
            trace_id,
            qualify(caller.node_id, fed.gateway_id),  # (2)
            caller.kind,
            fed.gateway_id,
            1,
        )
        answer = await self._send(caller.node_id, caller.kind, home, request)
        return answer, await self._record_out(caller.node_id, caller.kind, request, answer)

    # -- at a receiving gateway -----------------------------------------------------------
    def check_received(self, caller: Caller, request: ForwardRequest) -> Member | None:
        """Step (1) of ``receive``; returns the home to forward to, None if it is here."""
        fed = self._require()
        if request.hops > MAX_FORWARD_HOPS:
            raise FailedPrecondition(
                f"a forwarded query takes at most {MAX_FORWARD_HOPS} hops", reason="TOO_MANY_HOPS"
            )
        node, at, gateway = request.consumer_node_id.rpartition("@")
        if not at or not node or gateway != request.origin_gateway_id:
            raise InvalidArgument.field(
                "consumer_node_id", request.consumer_node_id, "node@<origin gateway id>"
            )
        from_upstream = fed.upstream() is not None and caller.node_id == fed.upstream_id()
        if caller.kind != GATEWAY_KIND or not (
            request.origin_gateway_id == caller.node_id or from_upstream
        ):
            raise PermissionDenied(
                f"gateway {caller.node_id} speaks only for its own nodes",
                reason=ORIGIN_NOT_CALLER,
            )
        home = fed.home_of(request.credit_code)
        if home is None or home.gateway_id == fed.gateway_id:
            return None
        return home

    async def relay_received(
        self, caller: Caller, home: Member, request: ForwardRequest
    ) -> ForwardAnswer:
        """Step (2) at the top, when the home is a member: forward, then both entries."""
        onward = ForwardRequest(**{**request.__dict__, "hops": request.hops + 1})
        answer = await self._send(request.consumer_node_id, request.consumer_kind, home, onward)
        fed = self._require()
        now = self.rt.clock.now()
        received = _entry(
            Action.QUERY_FORWARD_RECEIVED,
            request,
            now,
            hop(caller.node_id, None, HOP_IN),
            answer,
            Outcome.OK,
        )
        sent = _entry(
            Action.QUERY_FORWARDED,
            request,
            now,
            hop(answer.gateway_id, answer.ledger_index, HOP_OUT),
            answer,
            Outcome.OK,
        )

        def work(conn: Any, ledger: Any) -> int:
            index = int(ledger.append(received))
            ledger.append(sent)
            return index

        index = await self.rt.commit(work)
        return ForwardAnswer(
            answer.answer, index, fed.gateway_id, answer.answered_by, answer.decisions
        )

    # -- helpers ------------------------------------------------------------------------
    def _require(self) -> Federation:
        fed = self.federation
        if fed is None:
            raise FailedPrecondition("this gateway is not federated", reason=NOT_FEDERATED)
        return fed

    def _next_hop(self, home: Member) -> Identity:
        """(3) the upstream, or at the top the home's downlink."""
        fed = self._require()
        if home.state != "admitted":
            raise FailedPrecondition(
                f"the home gateway {home.gateway_id} is {home.state}",
                reason=HOME_GATEWAY_SUSPENDED,
            )
        identity = fed.upstream()
        if identity is None:
            identity = fed.downlink(home.gateway_id)
        if identity is None:
            raise Unavailable(
                f"no link towards gateway {home.gateway_id}", reason=UPSTREAM_UNAVAILABLE
            )
        return identity

    async def _send(
        self, actor: str, actor_kind: str, home: Member, request: ForwardRequest
    ) -> ForwardAnswer:
        fed = self._require()
        identity = self._next_hop(home)
        try:
            return await self.calls.forward(identity, request, fed.forward_deadline_s)  # (4)
        except Unavailable as exc:
            failed = ForwardAnswer(b"", 0, _peer_of(fed, home), home.gateway_id)
            entry = _entry(
                Action.QUERY_FORWARDED,
                request,
                self.rt.clock.now(),
                hop(failed.gateway_id, None, HOP_OUT),
                failed,
                Outcome.ERROR,
                actor=(actor, actor_kind),
                reason=exc.reason,
            )
            await self.rt.commit_entry(entry)
            raise Unavailable(
                f"gateway {home.gateway_id} did not answer: {exc.message}",
                reason=UPSTREAM_UNAVAILABLE,
            ) from None

    async def _record_out(
        self, actor: str, actor_kind: str, request: ForwardRequest, answer: ForwardAnswer
    ) -> int:
        """(5) the consumer gateway's entry."""
        entry = _entry(
            Action.QUERY_FORWARDED,
            request,
            self.rt.clock.now(),
            hop(answer.gateway_id, answer.ledger_index, HOP_OUT),
            answer,
            Outcome.OK,
            actor=(actor, actor_kind),
        )
        return await self.rt.commit_entry(entry)


def _peer_of(fed: Federation, home: Member) -> str:
    return fed.upstream_id() if fed.upstream() is not None else home.gateway_id


def _entry(
    action: Action,
    request: ForwardRequest,
    now: Any,
    the_hop: dict[str, Any],
    answer: ForwardAnswer,
    outcome: Outcome,
    *,
    actor: tuple[str, str] | None = None,
    reason: str | None = None,
) -> Entry:
    actor_id, actor_kind = actor or (request.consumer_node_id, request.consumer_kind)
    details: dict[str, Any] = {
        "consumer": {"node_id": request.consumer_node_id, "kind": request.consumer_kind},
        "purpose": request.purpose,
        "categories": dict(answer.decisions),
        "home": answer.answered_by,
        "hop": the_hop,
    }
    if reason:
        details["reason"] = reason
    if outcome is Outcome.OK and "ALLOWED" not in answer.decisions.values():
        outcome = Outcome.DENIED
    return Entry(
        action=action,
        time=now,
        actor=actor_id,
        actor_kind=actor_kind,
        outcome=outcome,
        trace_id=request.trace_id,
        credit_code=request.credit_code,
        subject=None,
        details=details,
    )
