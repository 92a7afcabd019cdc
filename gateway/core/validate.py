"""Request validation helpers. Messages read ``field: got X, want Y``."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from xinlian.errors import InvalidArgument

# The range of google.protobuf.Timestamp: 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z
MIN_TIMESTAMP_SECONDS = -62_135_596_800
MAX_TIMESTAMP_SECONDS = 253_402_300_799
MAX_TIMESTAMP_NANOS = 999_999_999
_TIMESTAMP_WANT = "a timestamp in 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z"


def text(name: str, value: str, *, max_len: int, required: bool = True) -> str:
    if required and not value.strip():
        raise InvalidArgument.field(name, value, "a non-empty string")
    if len(value) > max_len:
        raise InvalidArgument.field(name, f"{len(value)} characters", f"at most {max_len}")
    if any(ord(ch) < 0x20 and ch not in "\t" for ch in value):
        raise InvalidArgument.field(name, value, "no control characters")
    return value


def identifier(name: str, value: str, *, max_len: int) -> str:
    """An identifier the request names (looked up, echoed in errors): at most
    ``max_len`` characters, else INVALID_ARGUMENT; its form is the domain's check."""
    if len(value) > max_len:
        raise InvalidArgument.field(name, f"{len(value)} characters", f"at most {max_len}")
    return value


def page_size(value: int, *, default: int, maximum: int) -> int:
    if value < 0:
        raise InvalidArgument.field("page_size", value, f"0..{maximum}")
    if value == 0:
        return default
    return min(value, maximum)


def page_token(value: str) -> int:
    if not value:
        return 0
    if not value.isdigit() or len(value) > 19:
        raise InvalidArgument.field("page_token", value, "a token from a previous response")
    return int(value)


def timestamp_us(stamp: Timestamp, name: str) -> int:
    """``stamp`` in microseconds since the epoch; out of the Timestamp range (seconds or
    nanos) is INVALID_ARGUMENT naming the field ``name``."""
    seconds, nanos = stamp.seconds, stamp.nanos
    if not MIN_TIMESTAMP_SECONDS <= seconds <= MAX_TIMESTAMP_SECONDS:
        raise InvalidArgument.field(f"{name}.seconds", seconds, _TIMESTAMP_WANT)
    if not 0 <= nanos <= MAX_TIMESTAMP_NANOS:
        raise InvalidArgument.field(f"{name}.nanos", nanos, f"0..{MAX_TIMESTAMP_NANOS}")
    return seconds * 1_000_000 + nanos // 1000


def timestamp(stamp: Timestamp, name: str, *, required: bool = True) -> datetime | None:
    """The one conversion of a request's ``google.protobuf.Timestamp``: an aware UTC
    datetime; an unset (all zero) one is refused (``required``) or ``None``; out of
    range is INVALID_ARGUMENT naming the field ``name``."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        if required:
            raise InvalidArgument.field(name, "unset", "a timestamp")
        return None
    timestamp_us(stamp, name)
    return stamp.ToDatetime(tzinfo=UTC)
