"""A department withdraws records it pushed (deleted or flagged deleted at its source).

1. the caller is a department responsible for the category (else PERMISSION_DENIED
   ``CATEGORY_NOT_RESPONSIBLE``), the request names 1..``MAX_WITHDRAW_IDS`` well-formed
   record ids and a reason of at most ``MAX_REASON_CHARS`` characters;
2. one unit of work: for each record id, the versions this department pushed in this
   category — none: ``NOT_FOUND``; all withdrawn already: ``ALREADY_WITHDRAWN`` (nothing
   written, so a re-sent withdrawal changes nothing); else every version is marked
   withdrawn (no query discloses it), every node that received a version gets a
   ``withdrawn`` notice, and one ``record.withdrawn`` ledger entry names the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from audit.entry import Action
from gateway.core import validate
from gateway.core.caller import Caller
from gateway.flows.notices import enqueue_withdrawn_record
from gateway.store.committer import LedgerTx, Work
from gateway.store.objections_store import withdraw_record
from gateway.store.withdrawals_store import pushed_record
from xinlian import limits
from xinlian.errors import InvalidArgument, PermissionDenied

MAX_WITHDRAW_IDS = 1000  # record ids per request
MAX_REASON_CHARS = 500
WITHDRAWN, ALREADY_WITHDRAWN, NOT_FOUND = "WITHDRAWN", "ALREADY_WITHDRAWN", "NOT_FOUND"


@dataclass(frozen=True)
class Withdrawal:
    record_id: str
    outcome: str
    versions: int = 0
    ledger_index: int = 0


def withdraw_records(
    caller: Caller,
    categories: frozenset[str],
    category: str,
    record_ids: list[str],
    reason: str,
    now: datetime,
    trace_id: str,
) -> Work[list[Withdrawal]]:
    """The unit of work withdrawing ``record_ids`` (steps in the module docstring);
    ``categories``: those the caller's department is responsible for."""
    # (1) responsibility and limits
    if caller.kind != "department" or category not in categories:
        raise PermissionDenied(
            f"department {caller.node_id} is not responsible for category {category}",
            reason="CATEGORY_NOT_RESPONSIBLE",
        )
    if not 1 <= len(record_ids) <= MAX_WITHDRAW_IDS:
        raise InvalidArgument.field(
            "record_ids", f"{len(record_ids)} ids", f"1..{MAX_WITHDRAW_IDS}"
        )
    ids = [
        validate.identifier("record_ids", r, max_len=limits.MAX_RECORD_ID_LEN) for r in record_ids
    ]
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidArgument.field("reason", f"{len(reason)} characters", f"≤ {MAX_REASON_CHARS}")

    def work(conn: Connection, ledger: LedgerTx) -> list[Withdrawal]:
        # (2) each record, in the order asked
        out: list[Withdrawal] = []
        for record_id in ids:
            pushed = pushed_record(conn, caller.node_id, category, record_id)
            if pushed is None:
                out.append(Withdrawal(record_id, NOT_FOUND))
                continue
            if pushed.withdrawn == pushed.versions:
                out.append(Withdrawal(record_id, ALREADY_WITHDRAWN))
                continue
            versions = withdraw_record(conn, caller.node_id, record_id, now)
            notices = enqueue_withdrawn_record(conn, ledger, caller.node_id, record_id, now)
            index = ledger.append(
                caller.entry(
                    Action.RECORD_WITHDRAWN,
                    now,
                    trace_id,
                    {
                        "category": category,
                        "record_id": record_id,
                        "versions": versions,
                        "reason": reason,
                        "notices": notices,
                    },
                    credit_code=pushed.credit_code,
                    subject=record_id,
                )
            )
            out.append(Withdrawal(record_id, WITHDRAWN, versions, index))
        return out

    return work
