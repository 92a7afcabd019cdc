"""StatisticsService: the monthly statistics (gateway.flows.statistics) on the wire.

Access (``gateway.edge.access``): security officers and administrators only. Each call
is an ``audit.search`` ledger entry, committed before the reply leaves.
"""

from __future__ import annotations

from grpc import aio

from gateway.core.caller import current_caller
from gateway.flows.runtime import Runtime
from gateway.flows.statistics import INTEGER, SHARE, TEXT, MonthlyStatistics, monthly_statistics
from xinlian.v1 import statistics_pb2 as pb
from xinlian.v1 import statistics_pb2_grpc
from xinlian.wire import ts

KIND_TO_WIRE = {
    TEXT: pb.COLUMN_KIND_TEXT,
    INTEGER: pb.COLUMN_KIND_INTEGER,
    SHARE: pb.COLUMN_KIND_SHARE,
}


def statistics_to_wire(stats: MonthlyStatistics) -> pb.GetStatisticsResponse:
    return pb.GetStatisticsResponse(
        month=stats.period.month,
        period_start=ts(stats.period.start),
        period_end=ts(stats.period.end),
        as_of=ts(stats.as_of),
        ledger_size=stats.ledger_size,
        tables=[
            pb.StatisticsTable(
                name=table.name,
                title=table.title,
                columns=[
                    pb.StatisticsColumn(name=c.name, label=c.label, kind=KIND_TO_WIRE[c.kind])
                    for c in table.columns
                ],
                rows=[pb.StatisticsRow(cells=list(row)) for row in table.rows],
            )
            for table in stats.tables
        ],
        notes=list(stats.notes),
        ledger_index=stats.ledger_index,
    )


class StatisticsServicer(statistics_pb2_grpc.StatisticsServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def GetStatistics(
        self, request: pb.GetStatisticsRequest, context: aio.ServicerContext
    ) -> pb.GetStatisticsResponse:
        stats = await monthly_statistics(self.rt, current_caller(), request.month)
        return statistics_to_wire(stats)
