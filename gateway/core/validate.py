"""Request validation helpers. Messages read ``field: got X, want Y``. (Request timestamps:
``xinlian.wire.from_ts``.)"""

from __future__ import annotations

from xinlian.errors import InvalidArgument


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
