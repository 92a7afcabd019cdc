"""Monthly statistics figure: how fast a month's ledger is counted.

statistics_entries_per_s
    ledger entries of one month counted per second by ``gateway.flows.statistics.compute``
    (what ``GetStatistics`` runs, gRPC excluded: one read snapshot, the period's entries
    read in chunks and decoded, the first versions of records assessed, grants and
    objections at the month's end, the tables laid out) over N ``query`` and
    ``push.batch`` entries on SQLite, half of them in the month. Baseline: reading the
    same month's bodies with one plain SELECT on the time index and ``json.loads`` of
    each (the least any count of entry details costs), same run, best of ``ROUNDS``.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timedelta

from common import BenchContext, Figure

from audit.entry import Action, Entry, Outcome
from authz.catalog import Catalog
from gateway.flows.statistics import compute, parse_month
from gateway.host.home import init_home
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from gateway.store.timeutil import to_us
from xinlian.clock import FakeClock
from xinlian.workdays import SHANGHAI, load_calendar

ROUNDS = 3
SEED_UNIT = 2000
MONTH = "2025-03"
START = datetime(2025, 2, 16, tzinfo=SHANGHAI)  # half the entries before March


def _entry(i: int, when: datetime) -> Entry:
    if i % 10 == 0:
        return Entry(
            action=Action.PUSH_BATCH,
            time=when,
            actor=f"dept-{i % 7}",
            actor_kind="department",
            outcome=Outcome.OK,
            trace_id=secrets.token_hex(12),
            subject=f"b-{i}",
            details={"category": "tax", "accepted": 100, "duplicates": 0, "rejected": 1,
                     "reasons": {"BAD_CREDIT_CODE": 1}, "outcomes": "A" * 100 + "R"},
        )  # fmt: skip
    allowed = i % 4 != 0
    return Entry(
        action=Action.QUERY if allowed else Action.QUERY_DENIED,
        time=when,
        actor=f"bank-{i % 50}",
        actor_kind="institution",
        outcome=Outcome.OK if allowed else Outcome.DENIED,
        trace_id=secrets.token_hex(12),
        credit_code="91350100MA2Y00013X",
        details={
            "consumer": {"node_id": f"bank-{i % 50}", "kind": "institution"},
            "purpose": "financing",
            "self_query": False,
            "categories": {
                "tax": {"allowed": allowed, "reason_code": "" if allowed else "NO_GRANT",
                        "grant_id": None, "masks": {"vat_paid": "mask"},
                        "records": [["tax-fj", f"tax-{i}", 1]]},
            },
        },
    )  # fmt: skip


def run(ctx: BenchContext) -> dict[str, Figure]:
    n = 20_000 if ctx.quick else 100_000
    config = init_home(ctx.scratch("report") / "gw")
    store = Store(config.database_url)
    step = timedelta(days=29) / n  # 2025-02-16 .. 2025-03-17: half in March
    try:
        for done in range(0, n, SEED_UNIT):

            def work(conn: object, ledger: LedgerTx, start: int = done) -> None:
                for i in range(start, min(n, start + SEED_UNIT)):
                    ledger.append(_entry(i, START + step * i))

            commit_now(store, FakeClock(START), work)  # type: ignore[arg-type]
        now = datetime(2025, 4, 2, tzinfo=SHANGHAI)
        calendar, catalog = load_calendar(), Catalog.default()
        period = parse_month(MONTH, calendar, now)
        low, high = to_us(period.start), to_us(period.end)
        best = base = float("inf")
        counted = 0
        for _ in range(ROUNDS):
            started = time.perf_counter()
            with store.snapshot() as conn:
                stats = compute(conn, period, period.end, catalog, calendar)
            best = min(best, time.perf_counter() - started)
            started = time.perf_counter()
            bodies = store.read(
                lambda c: [
                    json.loads(bytes(b))
                    for (b,) in c.exec_driver_sql(
                        "SELECT body FROM ledger_entries WHERE time_us >= ? AND time_us < ?",
                        (low, high),
                    )
                ]
            )
            base = min(base, time.perf_counter() - started)
            counted = len(bodies)
        summary = next(t for t in stats.tables if t.name == "summary")
        queries = next(row[2] for row in summary.rows if row[0] == "queries")
        if int(queries) != sum(1 for b in bodies if b["action"].startswith("query")):
            raise RuntimeError("the statistics miscounted the bench's queries")
        return {
            "statistics_entries_per_s": Figure(
                counted / best,
                counted / base,
                "entries/s",
                {"entries_in_month": counted, "ledger_entries": n, "seconds": round(best, 3)},
            )
        }
    finally:
        store.close()
