"""AuditService: checkpoints and proofs for every node; search, trace, export for officers.

Access (``gateway.edge.access``): checkpoints and proofs for every node kind (a ledger
anyone can verify); search, trace and export for security officers only. An officer's
search, trace or export is itself a ledger entry (``audit.search`` / ``audit.export``),
committed through the group committer *before* the reply leaves: if the ledger cannot be
written, the officer gets UNAVAILABLE and no results.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

from grpc import aio
from sqlalchemy import Connection

from audit.entry import Action
from gateway.core import validate
from gateway.core.caller import Caller, current_caller
from gateway.flows.checkpointer import sign_checkpoint
from gateway.flows.runtime import Runtime, new_trace_id
from gateway.flows.trace import RecordTrace, SearchFilter, search, trace_record
from gateway.services.notices_service import notice_trace_to_wire
from gateway.store.ledger import (
    LedgerRow,
    StoredCheckpoint,
    entries_page,
    latest_checkpoint,
)
from gateway.store.ledger_tiles import TileProofs
from gateway.store.timeutil import from_us
from xinlian import limits
from xinlian.errors import InvalidArgument, NotFound
from xinlian.v1 import audit_pb2 as pb
from xinlian.v1 import audit_pb2_grpc
from xinlian.wire import from_optional_ts, ts

EXPORT_MAX_ENTRIES_PER_MESSAGE = 1000
EXPORT_MAX_BYTES_PER_MESSAGE = 4 * 1024 * 1024
"""An export message is cut at whichever limit comes first (well under the 16 MiB cap)."""


def entry_to_wire(row: LedgerRow) -> pb.LedgerEntry:
    return pb.LedgerEntry(
        index=row.idx,
        entry=row.body or b"",
        leaf_hash=row.leaf_hash,
        action=row.action,
        actor=row.actor,
        credit_code=row.credit_code or "",
        outcome=row.outcome,
        trace_id=row.trace_id,
        time=ts(from_us(row.time_us)),
        subject=row.subject or "",
    )


def trace_to_wire(trace: RecordTrace) -> pb.TraceRecordResponse:
    return pb.TraceRecordResponse(
        sources=[
            pb.Provenance(
                record_id=s.record_id,
                version=s.version,
                source_node_id=s.source_node_id,
                batch_id=s.batch_id,
                batch_signature=s.batch_signature,
                received_at=ts(s.received_at),
                category=s.category,
                credit_code=s.credit_code,
                ledger_index=s.ledger_index if s.ledger_index is not None else -1,
                erasure_ledger_index=(
                    s.erasure_ledger_index if s.erasure_ledger_index is not None else -1
                ),
            )
            for s in trace.sources
        ],
        destinations=[
            pb.Destination(
                consumer_node_id=d.consumer_node_id,
                fields=list(d.fields),
                masks=list(d.masks),
                grant_id=d.grant_id or "",
                time=ts(d.time),
                ledger_index=d.ledger_index,
                trace_id=d.trace_id,
                purpose=d.purpose,
            )
            for d in trace.destinations
        ],
        notices=[notice_trace_to_wire(n) for n in trace.notices],
    )


def _export_page(conn: Connection, *, start: int, end: int) -> list[LedgerRow]:
    return entries_page(conn, start, EXPORT_MAX_ENTRIES_PER_MESSAGE, end)


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.leaves = TileProofs(rt.config.ledger_tile_cache_tiles)

    # -- helpers ---------------------------------------------------------------------
    async def _sign_now(self) -> StoredCheckpoint | None:
        rt = self.rt
        return await asyncio.get_running_loop().run_in_executor(
            None, sign_checkpoint, rt.store, rt.signer, rt.config.origin, rt.clock
        )

    async def _latest(self) -> StoredCheckpoint:
        checkpoint = await self.rt.read(latest_checkpoint)
        if checkpoint is None:
            checkpoint = await self._sign_now()
        if checkpoint is None:
            raise NotFound("the ledger is empty; no checkpoint yet", reason="NO_CHECKPOINT")
        return checkpoint

    async def _record(
        self,
        caller: Caller,
        action: Action,
        details: dict[str, Any],
        *,
        credit_code: str | None = None,
        subject: str | None = None,
    ) -> int:
        """Commit the officer's own entry; returns its index. Raises if not durable."""
        entry = caller.entry(
            action,
            self.rt.clock.now(),
            new_trace_id(),
            details,
            credit_code=credit_code or None,
            subject=subject or None,
        )
        return await self.rt.commit_entry(entry)

    # -- proofs (every node) -----------------------------------------------------------
    async def GetCheckpoint(
        self, request: pb.GetCheckpointRequest, context: aio.ServicerContext
    ) -> pb.GetCheckpointResponse:
        checkpoint = await self._latest()
        return pb.GetCheckpointResponse(
            checkpoint=checkpoint.note,
            tree_size=checkpoint.tree_size,
            root_hash=checkpoint.root_hash,
            verifier_key=self.rt.signer.verifier_key(),
        )

    async def GetInclusionProof(
        self, request: pb.GetInclusionProofRequest, context: aio.ServicerContext
    ) -> pb.GetInclusionProofResponse:
        await self._latest()
        index, size = request.index, request.tree_size
        if index < 0:
            raise InvalidArgument.field("index", index, "a non-negative ledger index")
        if size < 0:
            raise InvalidArgument.field("tree_size", size, "0 (latest) or a checkpoint size")
        proof = await self.rt.read(lambda conn: self.leaves.inclusion(conn, index, size))
        return pb.GetInclusionProofResponse(
            index=proof.index,
            tree_size=proof.tree_size,
            leaf_hash=proof.leaf_hash,
            proof=proof.proof,
        )

    async def GetConsistencyProof(
        self, request: pb.GetConsistencyProofRequest, context: aio.ServicerContext
    ) -> pb.GetConsistencyProofResponse:
        await self._latest()
        first, second = request.first_size, request.second_size
        if first < 0:
            raise InvalidArgument.field("first_size", first, "a non-negative tree size")
        if second < 0:
            raise InvalidArgument.field("second_size", second, "0 (latest) or a tree size")
        proof = await self.rt.read(lambda conn: self.leaves.consistency(conn, first, second))
        return pb.GetConsistencyProofResponse(proof=proof)

    # -- officers ------------------------------------------------------------------------
    async def SearchEntries(
        self, request: pb.SearchEntriesRequest, context: aio.ServicerContext
    ) -> pb.SearchEntriesResponse:
        caller = current_caller()
        flt = SearchFilter(
            node_id=request.node_id,
            credit_code=request.credit_code,
            action=request.action,
            outcome=request.outcome,
            since=from_optional_ts(request.since, field_name="since"),
            until=from_optional_ts(request.until, field_name="until"),
        )
        size = validate.page_size(
            request.page_size, default=limits.DEFAULT_PAGE_SIZE, maximum=limits.MAX_PAGE_SIZE
        )
        start = validate.page_token(request.page_token)
        page = await self.rt.read(lambda conn: search(conn, flt, start, size))
        await self._record(
            caller,
            Action.AUDIT_SEARCH,
            {
                "kind": "search",
                "filter": flt.to_json(),
                "page_start": start,
                "results": len(page.entries),
            },
            credit_code=flt.credit_code,
            subject=flt.node_id,
        )
        return pb.SearchEntriesResponse(
            entries=[entry_to_wire(e) for e in page.entries],
            next_page_token=str(page.next_start) if page.next_start is not None else "",
        )

    async def TraceRecord(
        self, request: pb.TraceRecordRequest, context: aio.ServicerContext
    ) -> pb.TraceRecordResponse:
        caller = current_caller()
        record_id, source = request.record_id, request.source_node_id
        validate.identifier("record_id", record_id, max_len=limits.MAX_RECORD_ID_LEN)
        validate.identifier("source_node_id", source, max_len=limits.MAX_NODE_ID_LEN)
        trace = await self.rt.read(lambda conn: trace_record(conn, record_id, source))
        codes = {s.credit_code for s in trace.sources}
        await self._record(
            caller,
            Action.AUDIT_SEARCH,
            {
                "kind": "trace_record",
                "record_id": record_id,
                "source_node_id": source or None,
                "sources": len(trace.sources),
                "destinations": len(trace.destinations),
            },
            credit_code=codes.pop() if len(codes) == 1 else None,
            subject=record_id,
        )
        return trace_to_wire(trace)

    async def TraceEnterprise(
        self, request: pb.TraceEnterpriseRequest, context: aio.ServicerContext
    ) -> pb.TraceEnterpriseResponse:
        caller = current_caller()
        code = request.credit_code
        if not code:
            raise InvalidArgument.field("credit_code", code, "a 统一社会信用代码")
        flt = SearchFilter(credit_code=code)
        size = validate.page_size(
            request.page_size, default=limits.DEFAULT_PAGE_SIZE, maximum=limits.MAX_PAGE_SIZE
        )
        start = validate.page_token(request.page_token)
        page = await self.rt.read(lambda conn: search(conn, flt, start, size))
        await self._record(
            caller,
            Action.AUDIT_SEARCH,
            {"kind": "trace_enterprise", "page_start": start, "results": len(page.entries)},
            credit_code=code,
        )
        return pb.TraceEnterpriseResponse(
            entries=[entry_to_wire(e) for e in page.entries],
            next_page_token=str(page.next_start) if page.next_start is not None else "",
        )

    async def ExportLedger(
        self, request: pb.ExportLedgerRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.ExportLedgerResponse]:
        # (1) the export is recorded before anything leaves
        caller = current_caller()
        start = request.start_index
        if start < 0:
            raise InvalidArgument.field("start_index", start, "a non-negative ledger index")
        await self._record(caller, Action.AUDIT_EXPORT, {"start_index": start})
        # (2) a checkpoint covering everything up to and including that entry
        checkpoint = await self._sign_now() or await self._latest()
        end = checkpoint.tree_size
        # (3) entries [start, checkpoint size) in bounded messages; the note comes last
        position = start
        batch: list[pb.LedgerEntry] = []
        batch_bytes = 0
        while position < end:
            rows = await self.rt.read(functools.partial(_export_page, start=position, end=end))
            if not rows:
                break
            for row in rows:
                size = len(row.body or b"") + 128
                if batch and (
                    len(batch) >= EXPORT_MAX_ENTRIES_PER_MESSAGE
                    or batch_bytes + size > EXPORT_MAX_BYTES_PER_MESSAGE
                ):
                    yield pb.ExportLedgerResponse(entries=batch)
                    batch, batch_bytes = [], 0
                batch.append(entry_to_wire(row))
                batch_bytes += size
            position = rows[-1].idx + 1
        yield pb.ExportLedgerResponse(
            entries=batch, checkpoint=checkpoint.note, verifier_key=self.rt.signer.verifier_key()
        )
