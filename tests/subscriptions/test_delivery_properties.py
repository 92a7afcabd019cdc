"""A property of delivery: whatever the interleaving of pushes, grants, revocations,
deliveries, acknowledgements and reconnections, a monitoring subscriber

* never receives a value of a non-public category without an active grant at delivery
  time (and never a raw one), and
* after deduplication by event id holds exactly the events that some delivery covering
  them was entitled to send, each once.

Pushes, grants and revocations go over real mTLS to an in-process gateway; deliveries
run the delivery flow itself (``SubscriptionDelivery``) on the gateway's loop, so the
test decides exactly when a delivery happens relative to the other steps."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from subscriptions.helpers import grant, push, revoke
from support.authz_helpers import CODE, OTHER_CODE, TAX_FIELDS, make_world
from support.harness import running_gateway

from gateway.core.caller import Caller
from gateway.flows.subscription_delivery import Session, SubscriptionDelivery
from node_agent.subscriptions import SubscriptionClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.sampled_from([CODE, OTHER_CODE])),
        st.just(("grant",)),
        st.just(("revoke",)),
        st.just(("deliver",)),
        st.just(("ack",)),
        st.just(("reconnect",)),
    ),
    min_size=3,
    max_size=14,
)
_examples = itertools.count()
RAW = {v for v in TAX_FIELDS.values() if len(v) > 2}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_delivery_never_leaks_and_delivers_each_entitled_event_once(
    tmp_path: Path, ops: list[tuple[Any, ...]]
) -> None:
    base = tmp_path / f"ex{next(_examples)}"
    with running_gateway(base) as gateway:
        world = make_world(gateway, base)
        dept = gateway.enroll_node("department", "tax-dept", categories=("tax",))
        grants = [grant(world, "bank-a")]  # monitoring needs one to start
        active = True
        with SubscriptionClient(world.bank) as client:
            sub_id = client.create("monitoring", ["tax"]).subscription_id
        delivery = SubscriptionDelivery(gateway.runtime)
        caller = Caller("bank-a", "institution", "350100", "f" * 64, "1")

        def open_session() -> Session:
            return gateway.loop.run(delivery.open(caller, sub_id, False))

        session = open_session()
        pushed: dict[int, str] = {}  # change log position -> credit code
        entitled: set[int] = set()  # positions some covering delivery was entitled to
        received: dict[str, int] = {}  # event id -> times received
        records = itertools.count()

        def deliver() -> None:
            while True:
                after = session.sent
                batch = gateway.loop.run(delivery.next_batch(session))
                if batch is None:
                    return
                covered = {p for p in pushed if after < p <= batch.next_position}
                entitled.update(p for p in covered if active and pushed[p] == CODE)
                for event in batch.events:
                    # safety: an active grant now, this enterprise, masked values
                    assert active and event.credit_code == CODE, event
                    assert event.grant_id in grants
                    assert not {f.value for f in event.fields} & RAW
                    received[event.event_id] = received.get(event.event_id, 0) + 1

        for op in [*ops, ("deliver",), ("ack",), ("reconnect",), ("deliver",)]:
            if op[0] == "push":
                n = next(records)
                push(dept, base, "tax", [(op[1], f"tax-p{n}", 1, TAX_FIELDS)])
                position = gateway.loop.run(delivery.head())
                pushed[position] = op[1]
            elif op[0] == "grant" and not active:
                grants.append(grant(world, "bank-a"))
                active = True
            elif op[0] == "revoke" and active:
                revoke(world, grants[-1])
                active = False
            elif op[0] == "deliver":
                deliver()
            elif op[0] == "ack":
                gateway.loop.run(delivery.ack(session, session.sent))
            elif op[0] == "reconnect":  # unacknowledged batches come again
                session = open_session()
        # liveness: exactly the entitled events, each once after deduplication
        assert {int(i.removeprefix("ev-")) for i in received} == entitled
