"""The query path: decision, read, desensitization, ledger entry committed before reply.

Per enterprise queried, in order:

    (1) validate the request: the credit code (GB 32100 check character), the purpose
        (closed list), the categories (known to the catalog; none = all), the batch size
        (MAX_QUERY_BATCH) and the trace id
    (2) a self query (an enterprise's own query through a city platform): only a city
        platform may carry one; the statement names this enterprise and this platform,
        is fresh, and is signed by the enterprise's registered key; its nonce is stored
        in step (6)'s transaction, so a replay is refused (SELF_QUERY_REPLAY)
    (3) the enterprise's state and the grants to this consumer (per-process cache, TTL
        0.5 s, see gateway.flows.grants), and one decision per category
        (authz.decision.decide: deny beats allow, a reason code for every denial)
    (4) read the latest records of the allowed categories (gateway.store.query_reads)
    (5) desensitize each record once, in authz.desensitize.desensitize_record
    (6) ONE unit of work committed with the group committer, which also runs (4) and
        (5) in the same transaction (no round trip of its own, and the entry names
        exactly the record versions that were read):
          - a max_uses grant's use is counted conditionally; if none is left the
            category becomes denied GRANT_USED_UP, in the entry and the response alike
          - the ledger entry: ``query`` if any category was allowed, else
            ``query.denied``; who asked, the purpose, per category allowed / reason /
            grant and per record [source, record id, version] with per field its mask —
            never a value
          - one ``disclosures`` row per disclosed record
    (7) reply only after the commit, with the entry's ledger index and the trace id.

Fail closed: if the commit fails, the call fails (UNAVAILABLE, LEDGER_UNAVAILABLE) and
nothing is disclosed. A request that is invalid as a whole is INVALID_ARGUMENT; when
every category is denied the call still answers OK, with a denial per category.

QueryBatch: up to MAX_QUERY_BATCH enterprises, one ledger entry per enterprise, all in
one transaction. QueryStream: one response per request, in order.

The RPCs themselves (reading ``QueryRequest`` messages, writing ``QueryResponse``
messages, the stream) are ``gateway.services.query_service``; this module takes plain
values (``QuerySpec``) and answers with ``Committed`` results.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from audit.entry import Action, Entry, Outcome
from authz import credit_code as uscc
from authz.catalog import Category, Purpose
from authz.decision import Consumer, Decision, ReasonCode, decide
from authz.desensitize import DisclosedField, desensitize_record, load_default_policy, role_for
from authz.enterprise_statements import (
    SelfQuery,
    verify_self_query,
)
from authz.grants import GrantState
from authz.objections import Note, ObjectionRule, notes_for
from gateway.core.caller import Caller
from gateway.flows.enterprises import (
    ENTERPRISE_NOT_REGISTERED,
    EnterpriseView,
    read_enterprise_view,
    remember_nonce,
)
from gateway.flows.grants import consume_use, read_grant_states
from gateway.flows.publicity import PublicityFilter
from gateway.flows.runtime import Runtime, checked_trace_id
from gateway.store.committer import LedgerTx
from gateway.store.objections_store import attached_notes
from gateway.store.query_reads import ParsedFields, StoredRecord, latest_records, placeholder
from gateway.store.timeutil import to_us
from xinlian.errors import (
    AccessDenied,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)

SELF_QUERY_KINDS = frozenset({"city_platform"})
SELF_QUERY_NOT_PLATFORM = "SELF_QUERY_NOT_PLATFORM"

_DISCLOSURE_COLUMNS = (
    "ledger_index",
    "record_pk",
    "consumer_node_id",
    "grant_id",
    "purpose",
    "masks",
    "trace_id",
    "time_us",
)
MAX_VALID_CODES_CACHE = 100_000
MAX_CONSUMERS_CACHE = 10_000


# -- values between the steps ----------------------------------------------------------


@dataclass(frozen=True)
class QuerySpec:
    """A validated request for one enterprise (step 1)."""

    credit_code: str
    purpose: Purpose
    categories: tuple[Category, ...]
    trace_id: str
    self_query: SelfQuery | None = None
    self_signature: bytes = b""
    hop: dict[str, Any] | None = None  # a forwarded query's hop (gateway.flows.forward_query)


@dataclass
class CategoryOutcome:
    category: Category
    decision: Decision
    records: list[tuple[StoredRecord, list[DisclosedField]]] = field(default_factory=list)
    # objections shown with a record (by its pk), and records withheld while an objection
    # to them is open (authz.objections)
    notes: dict[int, tuple[Note, ...]] = field(default_factory=dict)
    withheld: int = 0

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


@dataclass(frozen=True)
class Prepared:
    """One enterprise's query decided, read and masked; waiting for its commit."""

    spec: QuerySpec
    consumer: Consumer
    now: datetime
    outcomes: tuple[CategoryOutcome, ...]
    max_uses_grants: frozenset[str]


@dataclass(frozen=True)
class Committed:
    """One enterprise's query answered: committed, with the entry's ledger index."""

    spec: QuerySpec
    ledger_index: int
    outcomes: tuple[CategoryOutcome, ...]
    used_up: frozenset[str]


# -- the handler -----------------------------------------------------------------------


class QueryHandler:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.catalog = rt.catalog
        self.policy = load_default_policy(rt.catalog)
        self.caches = rt.authz_caches
        self.parsed = ParsedFields()
        self.publicity = PublicityFilter(rt.catalog)
        self.all_categories = tuple(rt.catalog.categories.values())
        self.valid_codes: set[str] = set()  # credit codes whose check character passed
        self.consumers: dict[tuple[str, str], Consumer] = {}  # checked Consumer values
        self._insert_disclosures: dict[str, str] = {}

    # -- (1) validation -----------------------------------------------------------------
    # (the service builds each QuerySpec from these checks and the purpose read from the
    # wire, in the order credit code, categories, purpose, trace id)

    def trace_id(self, trace_id: str) -> str:
        """The request's trace id, or a new one if it names none."""
        return checked_trace_id(trace_id)

    def credit_code(self, credit_code: str) -> str:
        """The credit code, its check character verified (remembered once it passed)."""
        if credit_code not in self.valid_codes:
            uscc.validate(credit_code)
            if len(self.valid_codes) >= MAX_VALID_CODES_CACHE:
                self.valid_codes.clear()
            self.valid_codes.add(credit_code)
        return credit_code

    def categories(self, names: Sequence[str]) -> tuple[Category, ...]:
        """The categories named (each once, in order), known to the catalog; none: all."""
        if not names:
            return self.all_categories
        if len(names) > len(self.all_categories):
            raise InvalidArgument.field(
                "categories", len(names), f"at most {len(self.all_categories)} categories"
            )
        out: list[Category] = []
        for name in names:
            category = self.catalog.require(name, field_name="categories")
            if category not in out:
                out.append(category)
        return tuple(out)

    # -- (2) self query -----------------------------------------------------------------

    @staticmethod
    def check_self_query_caller(caller: Caller) -> None:
        """Only a city platform carries an enterprise's own query (checked before the
        statement is read)."""
        if caller.kind not in SELF_QUERY_KINDS:
            raise PermissionDenied(
                "an enterprise's own query comes through a city platform",
                reason=SELF_QUERY_NOT_PLATFORM,
            )

    @staticmethod
    def with_self_query(
        spec: QuerySpec, caller: Caller, nonce: str, issued_at: datetime, signature: bytes
    ) -> QuerySpec:
        """``spec`` carrying the enterprise's statement, checked in ``run``."""
        statement = SelfQuery(
            credit_code=spec.credit_code,
            platform_node_id=caller.node_id,
            nonce=nonce,
            issued_at=issued_at,
        )
        return dataclasses.replace(spec, self_query=statement, self_signature=signature)

    # -- (3)-(7) ------------------------------------------------------------------------

    def _consumer(self, caller: Caller) -> Consumer:
        key = (caller.node_id, caller.kind)
        consumer = self.consumers.get(key)
        if consumer is None:
            consumer = Consumer(caller.node_id, caller.kind)
            if len(self.consumers) >= MAX_CONSUMERS_CACHE:
                self.consumers.clear()
            self.consumers[key] = consumer
        return consumer

    async def run(self, caller: Caller, specs: Sequence[QuerySpec]) -> list[Committed]:
        consumer = self._consumer(caller)
        now = self.rt.clock.now()
        # (3) state and grants from the cache; what is missing in one read
        views, grants = await self._load_state(caller.node_id, specs)
        prepared: list[Prepared] = []
        for spec in specs:
            view = views[spec.credit_code]
            self_query = False
            if spec.self_query is not None:
                # (2) the statement, checked with the enterprise's registered key
                if view.public_key is None:
                    raise NotFound(
                        f"enterprise {spec.credit_code} is not registered",
                        reason=ENTERPRISE_NOT_REGISTERED,
                    )
                verify_self_query(
                    spec.self_query,
                    spec.self_signature,
                    view.public_key,
                    now=now,
                    caller_node_id=caller.node_id,
                    credit_code=spec.credit_code,
                )
                self_query = True
            states = grants[spec.credit_code]
            outcomes = tuple(
                CategoryOutcome(
                    category,
                    decide(
                        consumer,
                        category,
                        spec.purpose,
                        view.state,
                        states,
                        now,
                        self_query,
                    ),
                )
                for category in spec.categories
            )
            max_uses = frozenset(
                o.decision.grant_id
                for o in outcomes
                if o.decision.allowed
                and o.decision.grant_id is not None
                and _max_uses(states, o.decision.grant_id)
            )
            prepared.append(Prepared(spec, consumer, now, outcomes, max_uses))
        # (4)-(6) one unit of work, group-committed: read, mask, uses, nonces, ledger
        # entries, disclosures (the read shares the ledger's transaction: no extra round
        # trip, and the entry names exactly the versions that were disclosed)
        committed = await self.rt.commit(lambda conn, ledger: self._commit(conn, ledger, prepared))
        if any(c.used_up or p.max_uses_grants for c, p in zip(committed, prepared, strict=True)):
            for item in prepared:
                self.caches.grants.invalidate((item.spec.credit_code, caller.node_id))
        # (7) the reply, once committed
        return committed

    async def _load_state(
        self, grantee: str, specs: Sequence[QuerySpec]
    ) -> tuple[dict[str, EnterpriseView], dict[str, tuple[GrantState, ...]]]:
        views: dict[str, EnterpriseView] = {}
        grants: dict[str, tuple[GrantState, ...]] = {}
        missing_views: list[str] = []
        missing_grants: list[str] = []
        for spec in specs:
            code = spec.credit_code
            if code in views or code in missing_views:
                continue
            view = self.caches.enterprises.get(code)
            if view is None:
                missing_views.append(code)
            else:
                views[code] = view
            states = self.caches.grants.get((code, grantee))
            if states is None:
                missing_grants.append(code)
            else:
                grants[code] = states
        if missing_views or missing_grants:
            loaded_at = time.monotonic()

            def read(
                conn: Connection,
            ) -> tuple[dict[str, EnterpriseView], dict[str, tuple[GrantState, ...]]]:
                return (
                    {code: read_enterprise_view(conn, code) for code in missing_views},
                    {code: read_grant_states(conn, code, grantee) for code in missing_grants},
                )

            new_views, new_grants = await self.rt.read(read)
            for code, view in new_views.items():
                self.caches.enterprises.put(code, view, loaded_at)
                views[code] = view
            for code, states in new_grants.items():
                self.caches.grants.put((code, grantee), states, loaded_at)
                grants[code] = states
        return views, grants

    def _read_and_mask(self, conn: Connection, item: Prepared) -> tuple[CategoryOutcome, ...]:
        """Steps (4) and (5): the latest records of the allowed categories, each masked
        once for this consumer. Returns fresh outcomes (``item`` is not changed)."""
        outcomes = tuple(CategoryOutcome(o.category, o.decision) for o in item.outcomes)
        allowed = {o.category.id: o for o in outcomes if o.decision.allowed}
        if not allowed:
            return outcomes
        spec = item.spec
        role = role_for(item.consumer.kind, self_query=spec.self_query is not None)
        secret = self.rt.pseudonym_secret
        attached = attached_notes(conn, spec.credit_code)
        records = latest_records(conn, spec.credit_code, list(allowed), parsed=self.parsed)
        for record in self.publicity.public(conn, records, item.now, own=spec.self_query):
            outcome = allowed.get(record.category)
            if outcome is None:
                continue
            notes = attached.get((record.source_node_id, record.record_id)) if attached else None
            if notes:
                rule = ObjectionRule(outcome.category.objection_rule)
                shown = notes_for(rule, notes, own_query=spec.self_query is not None)
                if shown is None:
                    outcome.withheld += 1
                    continue
                outcome.notes[record.pk] = shown
            masked = desensitize_record(
                record.fields,
                outcome.category,
                role,
                outcome.decision.fields,
                item.consumer.node_id,
                secret,
                self.policy,
            )
            outcome.records.append((record, masked))
        return outcomes

    def _commit(
        self, conn: Connection, ledger: LedgerTx, prepared: Sequence[Prepared]
    ) -> list[Committed]:
        """Steps (4)-(6). Runs on the committer thread; may be retried, so it changes
        nothing outside the transaction and returns fresh values."""
        out: list[Committed] = []
        disclosure_rows: list[tuple[Any, ...]] = []
        for item in prepared:
            spec = item.spec
            outcomes = self._read_and_mask(conn, item)
            # the uses of max_uses grants, counted only if some are left
            used_up = frozenset(
                grant_id
                for grant_id in sorted(item.max_uses_grants)
                if not consume_use(conn, grant_id)
            )
            if used_up:
                outcomes = tuple(
                    _used_up(o) if o.decision.grant_id in used_up else o for o in outcomes
                )
            if spec.self_query is not None:
                remember_nonce(conn, spec.credit_code, spec.self_query.nonce, item.now)
            index = ledger.append(_entry(item, outcomes))
            disclosure_rows.extend((index, *row) for row in _disclosures(item, outcomes))
            out.append(Committed(spec, index, outcomes, used_up))
        if disclosure_rows:
            # inserted once for the whole group, after its last unit (same transaction)
            mark = placeholder(conn)
            statement = self._insert_disclosures.get(mark)
            if statement is None:
                statement = (
                    f"INSERT INTO disclosures ({', '.join(_DISCLOSURE_COLUMNS)}) "
                    f"VALUES ({', '.join([mark] * len(_DISCLOSURE_COLUMNS))})"
                )
                self._insert_disclosures[mark] = statement
            ledger.insert_later(statement, disclosure_rows)
        return out


# -- helpers ---------------------------------------------------------------------------


def _max_uses(states: Sequence[GrantState], grant_id: str) -> bool:
    return any(s.grant.grant_id == grant_id and s.grant.max_uses is not None for s in states)


def _used_up(outcome: CategoryOutcome) -> CategoryOutcome:
    grant_id = outcome.decision.grant_id
    denial = AccessDenied(
        f"grant {grant_id} has no uses left ({ReasonCode.GRANT_USED_UP.label_zh})",
        reason=ReasonCode.GRANT_USED_UP.value,
    )
    decision = Decision(False, denial.reason, denial.message, grant_id, frozenset(), False)
    return CategoryOutcome(outcome.category, decision, [])


def _disclosures(item: Prepared, outcomes: Sequence[CategoryOutcome]) -> list[tuple[Any, ...]]:
    """The disclosures rows of one query, every column but the ledger index (first)."""
    spec = item.spec
    time_us = to_us(item.now)
    return [
        (
            record.pk,
            item.consumer.node_id,
            outcome.decision.grant_id,
            spec.purpose.value,
            json.dumps({f.name: f.mask for f in masked}, separators=(",", ":")),
            spec.trace_id,
            time_us,
        )
        for outcome in outcomes
        for record, masked in outcome.records
    ]


def _entry(item: Prepared, outcomes: Sequence[CategoryOutcome]) -> Entry:
    """The query's ledger entry: who, why, what was decided and which masks, no values."""
    categories: dict[str, Any] = {}
    for outcome in outcomes:
        decision = outcome.decision
        cat: dict[str, Any] = {
            "allowed": decision.allowed,
            "reason_code": decision.reason_code,
            "grant_id": decision.grant_id,
        }
        if decision.allowed:
            masks: dict[str, str] = {}
            for _, masked in outcome.records:
                for f in masked:
                    masks[f.name] = f.mask
            records: list[list[Any]] = []
            for record, masked in outcome.records:
                ref: list[Any] = [record.source_node_id, record.record_id, record.version]
                names = [f.name for f in masked]
                if len(names) != len(masks):  # only when it differs from the category's
                    ref.append(names)
                records.append(ref)
            cat["masks"] = masks
            cat["records"] = records
            if outcome.withheld:
                cat["withheld"] = outcome.withheld  # open objections, rule "withhold"
        categories[outcome.category.id] = cat
    allowed = any(o.decision.allowed for o in outcomes)
    details: dict[str, Any] = {
        "consumer": {"node_id": item.consumer.node_id, "kind": item.consumer.kind},
        "purpose": item.spec.purpose.value,
        "self_query": item.spec.self_query is not None,
        "categories": categories,
    }
    if item.spec.self_query is not None:
        details["nonce"] = item.spec.self_query.nonce
    if item.spec.hop is not None:
        details["hop"] = item.spec.hop
    return Entry(
        action=Action.QUERY if allowed else Action.QUERY_DENIED,
        time=item.now,
        actor=item.consumer.node_id,
        actor_kind=item.consumer.kind,
        outcome=Outcome.OK if allowed else Outcome.DENIED,
        trace_id=item.spec.trace_id,
        credit_code=item.spec.credit_code,
        subject=None,
        details=details,
    )
