"""Per-record validation of pushed records against the sharing catalog. Pure, no I/O.

A department pushes records of one category per batch. Each record is checked on its own,
so one bad record never costs its neighbours their place. Steps, in order (the first
failure is the record's verdict):

1. ``record_id``: 1..MAX_RECORD_ID_LEN printable characters, no surrounding whitespace
   (BAD_RECORD_ID);
2. ``version``: an integer in 1..2^63-1 (BAD_VERSION);
3. ``credit_code``: GB 32100 length, character set and check character (BAD_CREDIT_CODE);
4. ``event_time``: not before 1900 and not more than MAX_FUTURE_SKEW after *now*
   (BAD_EVENT_TIME);
5. category: known to the catalog (UNKNOWN_CATEGORY), and equal to the batch's category
   when the record names one itself (CATEGORY_MISMATCH);
6. fields: at most MAX_FIELDS_PER_RECORD; every name known to the category
   (UNKNOWN_FIELD); every value at most MAX_FIELD_VALUE_LEN characters (VALUE_TOO_LONG)
   and in the wire form of its type (WRONG_TYPE); every required field present and
   non-empty (MISSING_FIELD).

Wire forms (the text every value travels as)::

    integer   -?[0-9]{1,19} within the signed 64-bit range          "42"
    decimal   -?[0-9]{1,MAX_DECIMAL_DIGITS}(.[0-9]{1,MAX_SCALE})?     "12345.67"
    date      YYYY-MM-DD, a real calendar date                       "2025-09-01"
    datetime  RFC 3339 with Z or an offset, optional fraction        "2025-09-15T08:30:00Z"
    boolean   "true" or "false"
    string    any text without control characters (tab, CR, LF allowed)

Messages read ``field: got X, want Y``. A value is shown only for public fields of public
categories; otherwise the message gives only its length (errors never carry non-public
values).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from authz import credit_code as uscc
from authz.catalog import Catalog, Category, FieldSpec, FieldType, Sensitivity
from authz.industry import load_industries
from xinlian.errors import InvalidArgument

MAX_RECORD_ID_LEN = 128
MAX_VERSION = 2**63 - 1
MAX_FIELDS_PER_RECORD = 64
MAX_FIELD_VALUE_LEN = 4096
MAX_DECIMAL_DIGITS = 20
MAX_SCALE = 6
MAX_SHOWN_CHARS = 40
MAX_FUTURE_SKEW = timedelta(days=1)
EARLIEST_EVENT = datetime(1900, 1, 1, tzinfo=UTC)
MAX_CODE_CACHE = 100_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_EVENT_US = (EARLIEST_EVENT - _EPOCH) // timedelta(microseconds=1)
MAX_FUTURE_SKEW_US = MAX_FUTURE_SKEW // timedelta(microseconds=1)

# Reason codes (stable, machine-readable).
BAD_CREDIT_CODE = "BAD_CREDIT_CODE"
UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY"
UNKNOWN_FIELD = "UNKNOWN_FIELD"
WRONG_TYPE = "WRONG_TYPE"
MISSING_FIELD = "MISSING_FIELD"
VALUE_TOO_LONG = "VALUE_TOO_LONG"
TOO_MANY_FIELDS = "TOO_MANY_FIELDS"
BAD_RECORD_ID = "BAD_RECORD_ID"
BAD_VERSION = "BAD_VERSION"
BAD_EVENT_TIME = "BAD_EVENT_TIME"
CATEGORY_MISMATCH = "CATEGORY_MISMATCH"
DUPLICATE_IN_BATCH = "DUPLICATE_IN_BATCH"

REASON_CODES = (
    BAD_CREDIT_CODE,
    UNKNOWN_CATEGORY,
    UNKNOWN_FIELD,
    WRONG_TYPE,
    MISSING_FIELD,
    VALUE_TOO_LONG,
    TOO_MANY_FIELDS,
    BAD_RECORD_ID,
    BAD_VERSION,
    BAD_EVENT_TIME,
    CATEGORY_MISMATCH,
    DUPLICATE_IN_BATCH,
)


@dataclass(frozen=True, slots=True)
class RecordVerdict:
    """``ok``, or a rejection with its reason code and a ``field: got X, want Y`` message."""

    ok: bool
    reason_code: str = ""
    message: str = ""

    @classmethod
    def reject(cls, reason_code: str, message: str) -> RecordVerdict:
        return cls(False, reason_code, message)


OK = RecordVerdict(True)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ID_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_DECIMAL = re.compile(rf"-?[0-9]{{1,{MAX_DECIMAL_DIGITS}}}(?:\.[0-9]{{1,{MAX_SCALE}}})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)

_WANT = {
    FieldType.INTEGER: "an integer in wire form, e.g. '42'",
    FieldType.DECIMAL: f"a decimal in wire form, e.g. '12.50' (≤ {MAX_SCALE} decimals)",
    FieldType.DATE: "a calendar date YYYY-MM-DD",
    FieldType.DATETIME: "an RFC 3339 date-time, e.g. '2025-09-15T08:30:00Z'",
    FieldType.BOOLEAN: "'true' or 'false'",
    FieldType.STRING: "text without control characters",
}


def _want(spec: FieldSpec) -> str:
    if spec.code_list:
        return "a GB/T 4754-2017 industry code: a section letter A-T and 2-4 digits, e.g. 'C1311'"
    return _WANT[spec.type]


def _in_code_list(value: str) -> bool:
    """An industry code of GB/T 4754-2017 (the one code list today); empty for an
    optional field is left to the required check."""
    return value == "" or load_industries().valid(value)


def _is_integer(value: str) -> bool:
    return _INTEGER.fullmatch(value) is not None and -(2**63) <= int(value) <= MAX_VERSION


def _is_decimal(value: str) -> bool:
    return _DECIMAL.fullmatch(value) is not None


def _is_date(value: str) -> bool:
    if _DATE.fullmatch(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    if _DATETIME.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_boolean(value: str) -> bool:
    return value == "true" or value == "false"


def _is_string(value: str) -> bool:
    return _CONTROL.search(value) is None


_CHECKS: dict[FieldType, Callable[[str], bool]] = {
    FieldType.INTEGER: _is_integer,
    FieldType.DECIMAL: _is_decimal,
    FieldType.DATE: _is_date,
    FieldType.DATETIME: _is_datetime,
    FieldType.BOOLEAN: _is_boolean,
    FieldType.STRING: _is_string,
}


MAX_DATE_CACHE = 100_000
_good_dates: set[str] = set()  # values _is_date accepted (pushes repeat dates)

# Fast field checks for compiled validators: one call per field, no regex on the usual
# path. Each accepts only values that pass the length check, the non-empty check of a
# required field and the ``_CHECKS`` type check; a value one of them refuses goes to
# ``RecordValidator.check``, which finds the reason.


def _fast_integer(value: str) -> bool:
    """≤ 18 digits (always within 64 bits, never empty), no regex."""
    digits = value[1:] if value[:1] == "-" else value
    return len(digits) <= 18 and digits.isdigit() and digits.isascii()


def _fast_decimal(value: str) -> bool:
    """Exactly ``_is_decimal`` (never empty, never long), with str methods."""
    digits = value[1:] if value[:1] == "-" else value
    whole, dot, fraction = digits.partition(".")
    if not (len(whole) <= MAX_DECIMAL_DIGITS and whole.isdigit() and whole.isascii()):
        return False
    return not dot or (len(fraction) <= MAX_SCALE and fraction.isdigit() and fraction.isascii())


def _fast_date(value: str) -> bool:
    """Exactly ``_is_date``, remembering the dates it accepted."""
    if value in _good_dates:
        return True
    if not _is_date(value):
        return False
    if len(_good_dates) >= MAX_DATE_CACHE:
        _good_dates.clear()
    _good_dates.add(value)
    return True


def _fast_string(value: str) -> bool:
    """``_is_string`` and the length limit; printable text skips the regex."""
    return len(value) <= MAX_FIELD_VALUE_LEN and (
        value.isprintable() or _CONTROL.search(value) is None
    )


def _fast_required_string(value: str) -> bool:
    return 0 < len(value) <= MAX_FIELD_VALUE_LEN and (
        value.isprintable() or _CONTROL.search(value) is None
    )


# Every non-string check refuses "" and anything longer than a few dozen characters.
_FAST_CHECKS: dict[FieldType, Callable[[str], bool]] = {
    FieldType.INTEGER: _fast_integer,
    FieldType.DECIMAL: _fast_decimal,
    FieldType.DATE: _fast_date,
    FieldType.DATETIME: _is_datetime,
    FieldType.BOOLEAN: _is_boolean,
    FieldType.STRING: _fast_string,
}

RecordCheck = Callable[[str, str, int, dict[str, str]], RecordVerdict]
"""A compiled per-category check: (credit_code, record_id, version, fields) → verdict."""


def _field_check(spec: FieldSpec) -> Callable[[str], bool]:
    """Length, non-empty when required, and wire type of one field, in one call."""
    if spec.code_list:
        return _in_code_list
    if spec.type is FieldType.STRING and spec.required:
        return _fast_required_string
    return _FAST_CHECKS[spec.type]


def _shown(value: str) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 3] + "..."


@dataclass(frozen=True, slots=True)
class _FieldRule:
    spec: FieldSpec
    check: Callable[[str], bool]
    showable: bool  # may the value appear in a message?


@dataclass(frozen=True, slots=True)
class _CategoryRules:
    category: Category
    fields: Mapping[str, _FieldRule]
    required: tuple[str, ...]


class RecordValidator:
    """Validates records against one catalog; per-category rules are built once and cached."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._rules: dict[str, _CategoryRules] = {}
        self._compiled: dict[str, RecordCheck] = {}
        self._codes: dict[str, str] = {}  # credit code → "" if valid, else the message

    def _code_error(self, code: str) -> str:
        """ "" for a valid GB 32100 code, else the message (cached: pushes repeat codes)."""
        known = self._codes.get(code)
        if known is not None:
            return known
        message = ""
        if not uscc.is_valid(code):
            try:
                uscc.validate(code)
                message = f"credit_code: got {_shown(code)}, want a GB 32100 code"
            except InvalidArgument as exc:
                message = exc.message
        if len(self._codes) >= MAX_CODE_CACHE:
            self._codes.clear()
        self._codes[code] = message
        return message

    def rules(self, category_id: str) -> _CategoryRules | None:
        rules = self._rules.get(category_id)
        if rules is None:
            category = self.catalog.get(category_id)
            if category is None:
                return None
            fields = {
                spec.name: _FieldRule(
                    spec,
                    _in_code_list if spec.code_list else _CHECKS[spec.type],
                    category.public and spec.sensitivity is Sensitivity.PUBLIC,
                )
                for spec in category.fields
            }
            required = tuple(spec.name for spec in category.fields if spec.required)
            rules = _CategoryRules(category, fields, required)
            self._rules[category_id] = rules
        return rules

    def compiled(self, category_id: str) -> RecordCheck | None:
        """The check of steps (1)–(3), (5) and (6) for records of one known category,
        built once per category: ``compiled(c)(code, id, version, fields)`` is
        ``check(c, code, id, version, fields)`` (without the event time of step (4)).

        The happy path is a dict lookup and one small function call per field, with no
        regex and no message built; the first failing test hands the record to
        :meth:`check`, which finds the reason and writes the message, so verdicts and
        messages are those of :meth:`check` exactly. None for an unknown category.
        """
        compiled = self._compiled.get(category_id)
        if compiled is not None:
            return compiled
        rules = self.rules(category_id)
        if rules is None:
            return None
        checks = {spec.name: _field_check(spec) for spec in rules.category.fields}
        required = frozenset(rules.required)
        get_check = checks.get
        codes = self._codes
        code_error = self._code_error
        slow = self.check

        def check(
            credit_code: str, record_id: str, version: int, fields: dict[str, str]
        ) -> RecordVerdict:
            code = codes.get(credit_code)
            if code is None:
                code = code_error(credit_code)
            if (
                not code
                and 0 < len(record_id) <= MAX_RECORD_ID_LEN
                and record_id.isprintable()
                and not record_id[0].isspace()
                and not record_id[-1].isspace()
                and 1 <= version <= MAX_VERSION
                and len(fields) <= MAX_FIELDS_PER_RECORD
                and fields.keys() >= required
            ):
                for name, value in fields.items():
                    field_ok = get_check(name)
                    if field_ok is None or not field_ok(value):
                        break
                else:
                    return OK
            return slow(category_id, credit_code, record_id, version, fields)

        self._compiled[category_id] = check
        return check

    def check(
        self,
        category_id: str,
        credit_code: str,
        record_id: str,
        version: int,
        fields: Mapping[str, str],
        *,
        event_time: datetime | None = None,
        now: datetime | None = None,
        record_category: str | None = None,
    ) -> RecordVerdict:
        """The verdict on one record (steps (1)–(6) of the module docstring)."""
        # (1) record id
        if (
            not record_id
            or len(record_id) > MAX_RECORD_ID_LEN
            or record_id != record_id.strip()
            or _ID_CONTROL.search(record_id) is not None
        ):
            return RecordVerdict.reject(
                BAD_RECORD_ID,
                f"record_id: got {_shown(record_id)}, want 1..{MAX_RECORD_ID_LEN} printable "
                "characters without surrounding spaces",
            )
        # (2) version
        if not 1 <= version <= MAX_VERSION:
            return RecordVerdict.reject(
                BAD_VERSION, f"version: got {version}, want an integer in 1..2^63-1"
            )
        # (3) credit code (GB 32100)
        code_error = self._code_error(credit_code)
        if code_error:
            return RecordVerdict.reject(BAD_CREDIT_CODE, code_error)
        # (4) event time
        if event_time is not None:
            latest = now + MAX_FUTURE_SKEW if now is not None else None
            if event_time < EARLIEST_EVENT or (latest is not None and event_time > latest):
                return RecordVerdict.reject(
                    BAD_EVENT_TIME,
                    f"event_time: got {event_time.isoformat()}, want an instant after "
                    "1900-01-01 and not in the future",
                )
        # (5) category
        rules = self.rules(category_id)
        if rules is None:
            return RecordVerdict.reject(
                UNKNOWN_CATEGORY, f"category: got {_shown(category_id)}, want a catalog category"
            )
        if record_category is not None and record_category != category_id:
            return RecordVerdict.reject(
                CATEGORY_MISMATCH,
                f"category: got {_shown(record_category)}, want {category_id!r} (the batch's)",
            )
        # (6) fields
        return self._check_fields(rules, fields)

    def _check_fields(self, rules: _CategoryRules, fields: Mapping[str, str]) -> RecordVerdict:
        if len(fields) > MAX_FIELDS_PER_RECORD:
            return RecordVerdict.reject(
                TOO_MANY_FIELDS, f"fields: got {len(fields)} fields, want ≤ {MAX_FIELDS_PER_RECORD}"
            )
        known = rules.fields
        category_id = rules.category.id
        for name, value in fields.items():
            rule = known.get(name)
            if rule is None:
                return RecordVerdict.reject(
                    UNKNOWN_FIELD,
                    f"fields.{_field_label(name)}: got an unknown field, want a field of "
                    f"{category_id} ({', '.join(rules.category.field_names)})",
                )
            if len(value) > MAX_FIELD_VALUE_LEN:
                return RecordVerdict.reject(
                    VALUE_TOO_LONG,
                    f"fields.{name}: got {len(value)} characters, want ≤ {MAX_FIELD_VALUE_LEN}",
                )
            if value == "" and rule.spec.required:
                return RecordVerdict.reject(
                    MISSING_FIELD, f"fields.{name}: got an empty value, want a required value"
                )
            if not rule.check(value):
                got = _shown(value) if rule.showable else f"a {len(value)}-character value"
                return RecordVerdict.reject(
                    WRONG_TYPE, f"fields.{name}: got {got}, want {_want(rule.spec)}"
                )
        for name in rules.required:
            if name not in fields:
                return RecordVerdict.reject(
                    MISSING_FIELD,
                    f"fields.{name}: got nothing, want a value (required by {category_id})",
                )
        return OK


def check_event_time_us(event_time_us: int, now_us: int) -> RecordVerdict:
    """Step (4) on integer microseconds since the epoch (the push path's fast form)."""
    if EARLIEST_EVENT_US <= event_time_us <= now_us + MAX_FUTURE_SKEW_US:
        return OK
    try:
        shown = (_EPOCH + timedelta(microseconds=event_time_us)).isoformat()
    except OverflowError:
        shown = f"{event_time_us} µs after 1970"
    return RecordVerdict.reject(
        BAD_EVENT_TIME,
        f"event_time: got {shown}, want an instant after 1900-01-01 and not in the future",
    )


def _field_label(name: str) -> str:
    shown = name if len(name) <= MAX_SHOWN_CHARS else name[: MAX_SHOWN_CHARS - 3] + "..."
    return shown if _ID_CONTROL.search(shown) is None else repr(shown)


__all__ = [
    "OK",
    "REASON_CODES",
    "RecordCheck",
    "RecordValidator",
    "RecordVerdict",
    "check_event_time_us",
]
