"""AuditService: checkpoints, proofs, search, trace, export. (Being built.)"""

from __future__ import annotations

from gateway.runtime import Runtime
from xinlian.v1 import audit_pb2_grpc


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
