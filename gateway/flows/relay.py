"""Relay up (上报) and down (总对总下发): the departments' original signed batches of public
categories marked ``relay_upstream``, with the signer's certificate, so the receiver checks
the department's own signature through the source gateway's CA (provenance survives).

Sending, one round per peer and direction (``send_round``):

    (1) the batches of relayable categories past the peer's cursor, oldest first, at most
        ``relay_batch_limit`` (the durable outbox is the batches table and the cursor);
    (2) down only: the batches holding a record of an enterprise whose home (by its
        division code) is that member; the others are passed over;
    (3) each with its signer certificate (the certificates table of this gateway's CA);
    (4) one ``Relay`` call; the peer answers per batch and per record;
    (5) one unit of work: the cursor moves past the batches answered, and one
        ``relay.sent`` entry records them with the hop (peer, the peer's index, out).

Receiving (``receive``), per batch, in one unit of work with one ``relay.received`` entry:

    (1) the category is in this gateway's catalog, public and relayed (else the batch is
        refused with CATEGORY_UNKNOWN or CATEGORY_NOT_RELAYED: members on other catalog
        versions see a reason, nothing is dropped silently);
    (2) the signer certificate was issued by the source gateway's CA (up: the member's CA
        in the directory, and the member relays only its own; down: the upstream's CA)
        and names the source department;
    (3) the department's signature over the signed bytes verifies with it;
    (4) the bytes are this batch's canonical bytes; each record is checked (A or R);
    (5) a batch held already answers its stored outcomes (D for A); other bytes under
        its id are refused BATCH_ID_REUSED; else the copy is stored.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from sqlalchemy import Connection

from audit.entry import Action, Entry, Outcome
from authz.records import RecordValidator
from gateway.core.caller import Caller
from gateway.flows.federation_link import HOP_IN, HOP_OUT, Federation, hop
from gateway.flows.runtime import Runtime
from gateway.store import federation_store
from gateway.store.batch_bytes import DecodedRecord, decode_signed_content
from gateway.store.committer import LedgerTx
from gateway.store.timeutil import to_us
from xinlian.errors import PermissionDenied, XinLianError
from xinlian.identity import Identity
from xinlian.pki import identity_from_cert
from xinlian.signing import verify

log = logging.getLogger("xinlian.federation")

UP = "up"
DOWN = "down"
CATEGORY_UNKNOWN = "CATEGORY_UNKNOWN"
CATEGORY_NOT_RELAYED = "CATEGORY_NOT_RELAYED"
BAD_SIGNER = "BAD_SIGNER"
BAD_SIGNATURE = "BAD_SIGNATURE"
BATCH_ID_REUSED = "BATCH_ID_REUSED"
MAX_RELAY_BYTES = 4 * 1024 * 1024  # signed content per Relay call (the message limit is 16 MiB)

# per (peer, direction): batches past the cursor, as of the last round (the lag gauge)
RELAY_LAG: dict[tuple[str, str], int] = {}


@dataclass(frozen=True)
class RelayBatch:
    source_node_id: str
    batch_id: str
    category: str
    signed_content: bytes
    signature: bytes
    signer_cert_pem: str
    source_gateway_id: str
    source_ledger_index: int


@dataclass(frozen=True)
class RelayResult:
    batch_id: str
    outcomes: str  # one letter per record: A, D, R
    reason_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class RelayAck:
    results: tuple[RelayResult, ...]
    ledger_index: int
    gateway_id: str


class RelayCalls(Protocol):
    async def relay(
        self,
        identity: Identity,
        direction: str,
        batches: Sequence[RelayBatch],
        trace_id: str,
        deadline_s: float,
    ) -> RelayAck: ...


def check_provenance(
    ca: x509.Certificate,
    cert_pem: str,
    source_node_id: str,
    batch_id: str,
    category: str,
    content: bytes,
    signature: bytes,
) -> tuple[list[DecodedRecord] | None, str, str]:
    """Steps (2)-(4) of receiving, also what ``xinlian federation verify`` re-checks:
    the signer certificate was issued by ``ca`` and names the source department, its
    signature covers ``content``, which is this batch's canonical bytes. Returns the
    decoded records, or None with a reason and a message."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        return None, BAD_SIGNER, f"signer certificate not from the source CA ({exc})"
    identity = identity_from_cert(cert)
    if identity is None or identity.node_id != source_node_id:
        return None, BAD_SIGNER, "signer certificate names another node"
    if identity.kind != "department":
        return None, BAD_SIGNER, "signer certificate is not a department's"
    try:
        verify(cert.public_key(), content, signature, what="batch")  # type: ignore[arg-type]
        decoded = decode_signed_content(content, source_node_id, batch_id, category)
    except PermissionDenied:
        return None, BAD_SIGNATURE, "the department's signature does not verify"
    except XinLianError as exc:
        return None, exc.reason, exc.message
    return decoded, "", ""


def relayable(rt: Runtime) -> list[str]:
    return [c.id for c in rt.catalog.categories.values() if c.public and c.relay_upstream]


# -- sending ------------------------------------------------------------------------------


class Relayer:
    def __init__(self, rt: Runtime, fed: Federation, calls: RelayCalls) -> None:
        self.rt = rt
        self.fed = fed
        self.calls = calls
        self.categories = relayable(rt)

    def peers(self) -> list[tuple[str, str, Identity]]:
        """(peer, direction, identity): the upstream (up), each admitted member (down)."""
        out: list[tuple[str, str, Identity]] = []
        upstream = self.fed.upstream()
        if upstream is not None:
            out.append((self.fed.upstream_id(), UP, upstream))
        if self.fed.is_top and self.fed.directory is not None:
            for member in self.fed.directory.active():
                identity = self.fed.downlink(member.gateway_id)
                if member.gateway_id != self.fed.gateway_id and identity is not None:
                    out.append((member.gateway_id, DOWN, identity))
        return out

    async def run_once(self) -> int:
        sent = 0
        for peer, direction, identity in self.peers():
            sent += await self.send_round(peer, direction, identity)
        return sent

    async def send_round(self, peer: str, direction: str, identity: Identity) -> int:
        limit = self.fed.relay_batch_limit
        categories = self.categories

        def read(conn: Connection) -> tuple[list[Any], dict[int, str], dict[int, set[str]], int]:
            after = federation_store.cursor(conn, peer, direction)
            # (1) the outbox past the cursor
            batches = federation_store.pending_batches(conn, after, categories, limit)
            # (3) the signer certificates
            certs = {
                b.pk: federation_store.certificate_pem(conn, b.signer_fingerprint) or ""
                for b in batches
            }
            codes = federation_store.batch_credit_codes(conn, [b.pk for b in batches])
            lag = federation_store.pending_count(conn, after, categories)
            return batches, certs, codes, lag

        batches, certs, codes, lag = await self.rt.read(read)
        RELAY_LAG[(peer, direction)] = lag
        if not batches:
            return 0
        # at most MAX_RELAY_BYTES of signed content per call (at least one batch)
        size, cut = 0, 0
        while cut < len(batches) and (
            cut == 0 or size + len(batches[cut].canonical) <= MAX_RELAY_BYTES
        ):
            size += len(batches[cut].canonical)
            cut += 1
        batches = batches[:cut]
        # (2) down: only the batches concerning the member's enterprises
        chosen = [b for b in batches if direction == UP or self._concerns(peer, codes.get(b.pk))]
        last_pk = batches[-1].pk
        if not chosen:
            await self.rt.commit(self._advance(peer, direction, last_pk, None))
            return 0
        wire = [
            RelayBatch(
                b.node_id,
                b.batch_id,
                b.category,
                b.canonical,
                b.signature,
                certs[b.pk],
                self.fed.gateway_id,
                b.ledger_index,
            )
            for b in chosen
        ]
        trace_id = "relay-" + secrets.token_hex(8)
        # (4) the call; on failure the cursor stays and the next round resends
        ack = await self.calls.relay(
            identity, direction, wire, trace_id, self.fed.forward_deadline_s * 4
        )
        entry = Entry(
            action=Action.RELAY_SENT,
            time=self.rt.clock.now(),
            actor=self.fed.gateway_id,
            actor_kind="gateway",
            outcome=Outcome.OK,
            trace_id=trace_id,
            credit_code=None,
            subject=peer,
            details={
                "direction": direction,
                "batches": [
                    [b.source_node_id, b.batch_id, b.category, r.outcomes, r.reason_code]
                    for b, r in zip(wire, ack.results, strict=False)
                ],
                "hop": hop(ack.gateway_id or peer, ack.ledger_index, HOP_OUT),
            },
        )
        # (5) cursor and entry in one unit
        await self.rt.commit(self._advance(peer, direction, last_pk, entry))
        RELAY_LAG[(peer, direction)] = max(0, lag - len(batches))
        return len(chosen)

    def _concerns(self, peer: str, codes: set[str] | None) -> bool:
        directory = self.fed.directory
        if directory is None or not codes:
            return False
        return any(
            (home := directory.home_of(code)) is not None and home.gateway_id == peer
            for code in codes
        )

    def _advance(self, peer: str, direction: str, last_pk: int, entry: Entry | None) -> Any:
        def work(conn: Connection, ledger: LedgerTx) -> None:
            federation_store.move_cursor(conn, peer, direction, last_pk, to_us(self.rt.clock.now()))
            if entry is not None:
                ledger.append(entry)

        return work


# -- receiving ----------------------------------------------------------------------------


class RelayReceiver:
    def __init__(self, rt: Runtime, fed: Federation) -> None:
        self.rt = rt
        self.fed = fed
        self.validator = RecordValidator(rt.catalog)

    async def receive(
        self, caller: Caller, direction: str, batches: Sequence[RelayBatch], trace_id: str
    ) -> RelayAck:
        ca = await self._source_ca(caller, direction)
        checked = [self._check(caller, direction, ca, b) for b in batches]
        now = self.rt.clock.now()

        def work(conn: Connection, ledger: LedgerTx) -> tuple[list[RelayResult], int]:
            results: list[RelayResult] = []
            rows: list[dict[str, Any]] = []
            for batch, (result, earliest) in zip(batches, checked, strict=True):
                if result.reason_code:
                    results.append(result)
                    continue
                digest = hashlib.sha256(batch.signed_content).hexdigest()
                held = federation_store.relayed_outcomes(
                    conn, batch.source_gateway_id, batch.source_node_id, batch.batch_id
                )
                if held is not None:  # (5) idempotent
                    if held[0] != digest:
                        results.append(
                            RelayResult(batch.batch_id, "", BATCH_ID_REUSED, "other bytes")
                        )
                    else:
                        results.append(RelayResult(batch.batch_id, held[1].replace("A", "D")))
                    continue
                results.append(result)
                rows.append(self._row(caller, direction, batch, result, digest, earliest, now))
            details = {
                "direction": direction,
                "batches": [
                    [b.source_node_id, b.batch_id, b.category, r.outcomes, r.reason_code]
                    for b, r in zip(batches, results, strict=True)
                ],
                "hop": hop(caller.node_id, None, HOP_IN),
            }
            entry = caller.entry(
                Action.RELAY_RECEIVED, now, trace_id, details, subject=caller.node_id
            )
            index = ledger.append(entry)
            for row in rows:
                federation_store.insert_relayed(conn, row | {"ledger_index": index})
            return results, index

        results, index = await self.rt.commit(work)
        return RelayAck(tuple(results), index, self.fed.gateway_id)

    async def _source_ca(self, caller: Caller, direction: str) -> x509.Certificate:
        """(2) the CA the signer certificates must come from."""
        if direction == DOWN:
            upstream = self.fed.upstream()
            if upstream is None or caller.node_id != self.fed.upstream_id():
                raise PermissionDenied("only the upstream relays down", reason="NOT_UPSTREAM")
            return x509.load_pem_x509_certificate(upstream.files.ca.read_bytes())
        member = self.fed.directory.member(caller.node_id) if self.fed.directory else None
        if member is None:
            raise PermissionDenied(
                f"gateway {caller.node_id} is not in the directory", reason="NOT_A_MEMBER"
            )
        return x509.load_pem_x509_certificate(member.ca_pem.encode())

    def _check(
        self, caller: Caller, direction: str, ca: x509.Certificate, batch: RelayBatch
    ) -> tuple[RelayResult, int | None]:
        def refused(reason: str, message: str) -> tuple[RelayResult, int | None]:
            return RelayResult(batch.batch_id, "", reason, message), None

        # (1) the category, in this gateway's catalog
        category = self.rt.catalog.get(batch.category)
        if category is None:
            return refused(CATEGORY_UNKNOWN, f"category {batch.category} not in this catalog")
        if not (category.public and category.relay_upstream):
            return refused(CATEGORY_NOT_RELAYED, f"category {batch.category} is not relayed")
        if direction == UP and batch.source_gateway_id != caller.node_id:
            return refused(BAD_SIGNER, "a member relays only its own departments' batches")
        # (2)-(4) signer certificate, signature, canonical bytes
        decoded, reason, message = check_provenance(
            ca,
            batch.signer_cert_pem,
            batch.source_node_id,
            batch.batch_id,
            batch.category,
            batch.signed_content,
            batch.signature,
        )
        if decoded is None:
            return refused(reason, message)
        letters = "".join(
            "A" if self.validator.check(batch.category, code, rid, ver, fields).ok else "R"
            for code, rid, ver, _event, fields, _json in decoded
        )
        earliest = min((d[3] for d in decoded), default=None)
        return RelayResult(batch.batch_id, letters), earliest

    def _row(
        self,
        caller: Caller,
        direction: str,
        batch: RelayBatch,
        result: RelayResult,
        digest: str,
        earliest: int | None,
        now: Any,
    ) -> dict[str, Any]:
        return {
            "direction": direction,
            "sender_gateway_id": caller.node_id,
            "source_gateway_id": batch.source_gateway_id,
            "source_node_id": batch.source_node_id,
            "batch_id": batch.batch_id,
            "category": batch.category,
            "canonical": batch.signed_content,
            "canonical_sha256": digest,
            "signature": batch.signature,
            "signer_cert_pem": batch.signer_cert_pem,
            "source_ledger_index": batch.source_ledger_index,
            "received_at_us": to_us(now),
            "earliest_event_us": earliest,
            "outcomes": result.outcomes,
        }
