"""AuthorizationService: enterprise identities and grants. (Being built.)"""

from __future__ import annotations

from gateway.runtime import Runtime
from xinlian.v1 import authorization_pb2_grpc


class AuthorizationServicer(authorization_pb2_grpc.AuthorizationServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
