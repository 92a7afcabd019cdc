"""The one place where XinLian errors become gRPC statuses."""

from __future__ import annotations

import grpc

from xinlian.errors import XinLianError, clip

REASON_METADATA_KEY = "xinlian-reason"
REQUEST_ID_METADATA_KEY = "xinlian-request-id"
# Bounds on what a status carries, whatever the caller sent: gRPC refuses a response
# whose metadata (status details included) passes its limit (8 KiB by default) with
# RESOURCE_EXHAUSTED "received metadata size exceeds hard limit" instead of the status.
# The details travel percent-encoded: up to 9 bytes per character (CJK), so 512
# characters stay under 4.6 KiB.
MAX_DETAILS_CHARS = 512
MAX_METADATA_VALUE_CHARS = 256

_CODES: dict[str, grpc.StatusCode] = {code.name: code for code in grpc.StatusCode}


def status_of(error: XinLianError) -> grpc.StatusCode:
    return _CODES.get(error.status_name, grpc.StatusCode.UNKNOWN)


def details(error: XinLianError) -> str:
    """The status details (message) of ``error``, at most ``MAX_DETAILS_CHARS``."""
    return clip(error.message, MAX_DETAILS_CHARS)


def _bounded(value: str) -> str:
    if len(value) <= MAX_METADATA_VALUE_CHARS:
        return value
    return f"{value[: MAX_METADATA_VALUE_CHARS - 3]}..."


def trailing_metadata(error: XinLianError, request_id: str) -> tuple[tuple[str, str], ...]:
    pairs = [(REASON_METADATA_KEY, _bounded(error.reason)), (REQUEST_ID_METADATA_KEY, request_id)]
    for key, value in error.metadata.items():
        pairs.append((f"xinlian-{key.lower().replace('_', '-')}", _bounded(value)))
    return tuple(pairs)
