"""The one place where XinLian errors become gRPC statuses."""

from __future__ import annotations

import grpc

from xinlian.errors import XinLianError

REASON_METADATA_KEY = "xinlian-reason"
REQUEST_ID_METADATA_KEY = "xinlian-request-id"

_CODES: dict[str, grpc.StatusCode] = {code.name: code for code in grpc.StatusCode}


def status_of(error: XinLianError) -> grpc.StatusCode:
    return _CODES.get(error.status_name, grpc.StatusCode.UNKNOWN)


def trailing_metadata(error: XinLianError, request_id: str) -> tuple[tuple[str, str], ...]:
    pairs = [(REASON_METADATA_KEY, error.reason), (REQUEST_ID_METADATA_KEY, request_id)]
    for key, value in error.metadata.items():
        pairs.append((f"xinlian-{key.lower().replace('_', '-')}", value))
    return tuple(pairs)
