"""The one error tree of XinLian.

Domain code raises these; the gRPC edge (``gateway.edge.status``) translates them into a
gRPC status exactly once. Nothing here imports gRPC or SQL.

    XinLianError                      status code (by name)
    ├── InvalidArgument               INVALID_ARGUMENT     field: got X, want Y
    ├── NotFound                      NOT_FOUND
    ├── AlreadyExists                 ALREADY_EXISTS
    ├── Unauthenticated               UNAUTHENTICATED      no or unknown identity
    ├── PermissionDenied              PERMISSION_DENIED    carries a reason code
    │   └── AccessDenied              PERMISSION_DENIED    a data-access decision said no
    ├── FailedPrecondition            FAILED_PRECONDITION
    │   └── SchemaMismatch            FAILED_PRECONDITION  database not at the code's revision
    ├── ResourceExhausted             RESOURCE_EXHAUSTED   a named limit was hit
    ├── Unavailable                   UNAVAILABLE          store or ledger cannot write
    └── IntegrityViolation            DATA_LOSS            verification found a bad entry

Messages must never contain secrets (private keys, token secrets, HMAC keys) nor values of
non-public fields.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_SHOWN_CHARS = 80


def clip(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """``value`` as text for a message, at most ``limit`` characters of it: a longer one
    is cut and says how long it was, ``abc… (100000 bytes)``, so an identifier the
    caller sent at any length is never echoed whole."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text.encode('utf-8', 'replace'))} bytes)"


class XinLianError(Exception):
    """Base of every error XinLian raises on purpose."""

    status_name = "UNKNOWN"
    default_reason = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})

    def __str__(self) -> str:
        return self.message


class InvalidArgument(XinLianError):
    """A request field is malformed. Message form: ``field: got X, want Y``."""

    status_name = "INVALID_ARGUMENT"
    default_reason = "INVALID_ARGUMENT"

    @classmethod
    def field(cls, name: str, got: object, want: str) -> InvalidArgument:
        shown = repr(got)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return cls(f"{name}: got {shown}, want {want}", metadata={"field": name})


class NotFound(XinLianError):
    status_name = "NOT_FOUND"
    default_reason = "NOT_FOUND"


class AlreadyExists(XinLianError):
    status_name = "ALREADY_EXISTS"
    default_reason = "ALREADY_EXISTS"


class Unauthenticated(XinLianError):
    status_name = "UNAUTHENTICATED"
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(XinLianError):
    status_name = "PERMISSION_DENIED"
    default_reason = "PERMISSION_DENIED"


class AccessDenied(PermissionDenied):
    """A data-access decision refused; ``reason`` is a stable machine-readable code."""

    default_reason = "ACCESS_DENIED"


class FailedPrecondition(XinLianError):
    status_name = "FAILED_PRECONDITION"
    default_reason = "FAILED_PRECONDITION"


class SchemaMismatch(FailedPrecondition):
    default_reason = "SCHEMA_MISMATCH"


class ResourceExhausted(XinLianError):
    status_name = "RESOURCE_EXHAUSTED"
    default_reason = "LIMIT_EXCEEDED"


class Unavailable(XinLianError):
    status_name = "UNAVAILABLE"
    default_reason = "UNAVAILABLE"


class IntegrityViolation(XinLianError):
    """Verification found data that does not match what was committed."""

    status_name = "DATA_LOSS"
    default_reason = "INTEGRITY_VIOLATION"

    def __init__(self, message: str, *, index: int | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.index = index
