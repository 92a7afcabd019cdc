"""The consumer's side of a forwarded query on the wire: a ``QuerySpec`` for an enterprise
whose home is another gateway goes through ``gateway.flows.forward_query`` and comes back
as the home's ``QueryResponse``, with this gateway's ledger index (its
``query.forwarded`` entry) and the request's trace id."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.core.caller import Caller
from gateway.flows.federation_directory import Member
from gateway.flows.forward_query import ForwardQueries
from gateway.flows.query import QuerySpec
from gateway.flows.runtime import Runtime
from gateway.services.federation_client import peer_client, query_response
from xinlian.errors import FailedPrecondition
from xinlian.v1 import exchange_pb2 as pb

SELF_QUERY_AT_HOME = "SELF_QUERY_AT_HOME"


class Forwarding:
    def __init__(self, rt: Runtime) -> None:
        self.forwards = ForwardQueries(rt, peer_client(rt))

    def homes(self, specs: Sequence[QuerySpec]) -> list[Member | None]:
        """Per spec the remote home gateway, or None when it is answered here."""
        if self.forwards.federation is None:
            return [None] * len(specs)
        return [self.forwards.remote_home(spec.credit_code) for spec in specs]

    async def answer(self, caller: Caller, spec: QuerySpec, home: Member) -> pb.QueryResponse:
        if spec.self_query is not None:
            raise FailedPrecondition(
                "an enterprise's own query goes to the city platform of its home gateway",
                reason=SELF_QUERY_AT_HOME,
            )
        answer, index = await self.forwards.forward(
            caller,
            home,
            spec.credit_code,
            spec.purpose.value,
            tuple(c.id for c in spec.categories),
            spec.trace_id,
        )
        response = query_response(answer.answer)
        response.ledger_index = index
        response.trace_id = spec.trace_id
        return response
