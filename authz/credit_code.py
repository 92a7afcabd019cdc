"""统一社会信用代码 (unified social credit code), GB 32100-2015.

Layout of the 18 characters (positions counted from 1):

    1      registration department (登记管理部门码), e.g. ``9`` market regulation (工商)
    2      organization type (机构类别码), e.g. ``1`` enterprise under department ``9``
    3-8    administrative division of the registering authority (GB/T 2260)
    9-17   organization code (主体标识码, GB 11714: 8 body characters + 1 check character)
    18     check character over positions 1-17

Check character (GB 32100 §4.2): every character has the value of its index in
:data:`CHARSET`; W_i = 3^(i-1) mod 31; C18 = 31 - (Σ C_i·W_i mod 31), where 31 is written 0.

GB 11714 organization code check (position 9 of the organization code): body values are
0-9 for digits and 10-35 for A-Z; weights 3, 7, 9, 10, 5, 8, 4, 2; C9 = 11 - (Σ mod 11),
10 is written ``X`` and 11 is written ``0``.

:func:`validate` checks only GB 32100 (length, character set, check character): the
organization code inside a valid credit code is not re-checked, because codes issued to
some kinds of subjects carry identifiers that were never GB 11714 organization codes.
Nothing here changes its input: a lowercase letter is an error, not something to fix.
"""

from __future__ import annotations

from xinlian.errors import InvalidArgument

__all__ = [
    "CHARSET",
    "LENGTH",
    "check_character",
    "is_valid",
    "make_code",
    "org_check_character",
    "validate",
]

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 code characters of GB 32100; a character's value is its index (no I, O, S, V, Z)."""

LENGTH = 18

_FIELD = "credit_code"
_VALUES = {ch: i for i, ch in enumerate(CHARSET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # W_i = 3^(i-1) mod 31, i = 1..17
_EXCLUDED = "IOSVZ"

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_VALUES = {ch: i for i, ch in enumerate(_ORG_BODY_CHARS)}


def _shown(value: str) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _error(message: str, reason: str, **metadata: str) -> InvalidArgument:
    return InvalidArgument(
        f"{_FIELD}: {message}", reason=reason, metadata={"field": _FIELD, **metadata}
    )


def _bad_character(code: str, position: int, ch: str) -> InvalidArgument:
    """The error for a character outside :data:`CHARSET` at 1-based ``position``."""
    if ch.isascii() and ch.islower():
        want = f"uppercase letters only, not lowercase {ch!r} (GB 32100 has no lowercase)"
        reason = "CREDIT_CODE_LOWERCASE"
    elif ch.upper() in _EXCLUDED:
        want = f"a character of {CHARSET} (GB 32100 excludes I, O, S, V and Z)"
        reason = "CREDIT_CODE_CHARSET"
    else:
        want = f"a character of {CHARSET}"
        reason = "CREDIT_CODE_CHARSET"
    return _error(
        f"got {_shown(code)} with {ch!r} at position {position}, want {want}",
        reason,
        position=str(position),
    )


def check_character(first17: str) -> str:
    """The GB 32100 check character (position 18) for the first 17 characters."""
    if len(first17) != LENGTH - 1:
        raise _error(
            f"got {_shown(first17)} ({len(first17)} characters), want the first 17 characters",
            "CREDIT_CODE_LENGTH",
        )
    total = 0
    for position, (ch, weight) in enumerate(zip(first17, _WEIGHTS, strict=True), start=1):
        value = _VALUES.get(ch)
        if value is None:
            raise _bad_character(first17, position, ch)
        total += value * weight
    return CHARSET[(31 - total % 31) % 31]


def validate(code: str) -> str:
    """Return ``code`` if it is a well-formed GB 32100 code; raise :class:`InvalidArgument`.

    The error message says what is wrong: the length, the first character outside the
    character set (with its 1-based position; lowercase is named as such), or the check
    character (``got X, want Y``).
    """
    if not isinstance(code, str):
        raise _error(f"got {type(code).__name__}, want a string", "CREDIT_CODE_TYPE")
    if len(code) != LENGTH:
        raise _error(
            f"got {_shown(code)} ({len(code)} characters), want 18 characters (GB 32100)",
            "CREDIT_CODE_LENGTH",
        )
    for position, ch in enumerate(code, start=1):
        if ch not in _VALUES:
            raise _bad_character(code, position, ch)
    want = check_character(code[:17])
    got = code[17]
    if got != want:
        raise _error(
            f"check character of {code!r} at position 18: got {got!r}, want {want!r}",
            "CREDIT_CODE_CHECK",
            position="18",
        )
    return code


def is_valid(code: str) -> bool:
    """Whether ``code`` passes :func:`validate`."""
    if not isinstance(code, str) or len(code) != LENGTH:
        return False
    total = 0
    for ch, weight in zip(code[:17], _WEIGHTS, strict=True):
        value = _VALUES.get(ch)
        if value is None:
            return False
        total += value * weight
    return code[17] == CHARSET[(31 - total % 31) % 31]


def org_check_character(org_code8: str) -> str:
    """The GB 11714 check character (9th character) of an 8-character organization code body."""
    if len(org_code8) != 8:
        raise InvalidArgument.field("org_code8", org_code8, "8 characters (GB 11714 body)")
    total = 0
    for position, (ch, weight) in enumerate(zip(org_code8, _ORG_WEIGHTS, strict=True), start=1):
        value = _ORG_VALUES.get(ch)
        if value is None:
            raise InvalidArgument.field(
                "org_code8",
                org_code8,
                f"digits or uppercase letters; {ch!r} at position {position}",
            )
        total += value * weight
    c9 = 11 - total % 11
    if c9 == 10:
        return "X"
    if c9 == 11:
        return "0"
    return str(c9)


def make_code(registration_dept: str, org_type: str, division: str, org_code8: str) -> str:
    """Build a valid 18-character code.

    ``registration_dept`` and ``org_type`` are one character each, ``division`` is the six
    digits of a GB/T 2260 division, ``org_code8`` the eight body characters of the GB 11714
    organization code; its check character and the GB 32100 check character are computed.
    Every character must already be in :data:`CHARSET` (the code has no I, O, S, V, Z).
    """
    for name, value in (("registration_dept", registration_dept), ("org_type", org_type)):
        if len(value) != 1 or value not in _VALUES:
            raise InvalidArgument.field(name, value, f"one character of {CHARSET}")
    if len(division) != 6 or not (division.isascii() and division.isdigit()):
        raise InvalidArgument.field("division", division, "6 digits (GB/T 2260)")
    if len(org_code8) != 8 or any(ch not in _VALUES for ch in org_code8):
        raise InvalidArgument.field(
            "org_code8", org_code8, f"8 characters of {CHARSET} (no I, O, S, V, Z)"
        )
    first17 = registration_dept + org_type + division + org_code8 + org_check_character(org_code8)
    return first17 + check_character(first17)
