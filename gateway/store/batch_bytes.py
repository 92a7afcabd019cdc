"""The canonical bytes of a pushed batch, both ways (pure: no gRPC runtime, no SQL).

* ``decode_signed_content``: the records of signed bytes as received, with the proof that
  the bytes are exactly the canonical encoding of ``xinlian.batch`` of what they parse to
  (so the signature, the stored bytes and the stored records say the same thing);
* ``canonical_batch_bytes``: the canonical bytes assembled from structured records.

Both are equal byte for byte to ``xinlian.batch.canonical_batch`` (tested).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from xinlian import limits
from xinlian.batch import BATCH_VERSION, format_time
from xinlian.errors import InvalidArgument, PermissionDenied

MAX_BATCH_RECORDS = limits.MAX_BATCH_RECORDS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)
_TIME_SHAPE = re.compile(
    r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"
).fullmatch
_ANY_TIME = re.compile(
    r"([0-9]{1,4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z"
)
SIGNED_FIELD = "batch.signed_content"

# One record between decoding and validation:
# (credit_code, record_id, version, event_time_us, fields, fields_json)
DecodedRecord = tuple[str, str, int, int, dict[str, str], str]


def canonical_bytes(obj: Any) -> bytes:
    """``xinlian.signing.canonical_json`` for values known to hold only str/int/dict/list.

    The request's records hold nothing else (protobuf strings and int64), so the float
    walk of ``canonical_json`` is skipped; tests check both give the same bytes.
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


# -- signed content ----------------------------------------------------------------------


def _not_canonical(what: str) -> InvalidArgument:
    return InvalidArgument(
        f"{SIGNED_FIELD}: got {what}, want the canonical batch encoding of xinlian.batch",
        reason="NOT_CANONICAL",
        metadata={"field": SIGNED_FIELD},
    )


def decode_signed_content(
    data: bytes, node_id: str, batch_id: str, category: str
) -> list[DecodedRecord]:
    """The records of signed canonical batch bytes, checked to be exactly canonical.

    (a) UTF-8 JSON object (parsed by the C ``json`` decoder);
    (b) its header names ``node_id``, ``batch_id`` and ``category`` — else
        PermissionDenied ``BAD_SIGNATURE``: the signature is not one over this batch;
    (c) 1..MAX_BATCH_RECORDS records, each with a text credit code and record id, an
        integer version, an event time in the canonical form, and text field values;
    (d) the canonical encoding of what was parsed, assembled record by record from the
        parts the store keeps (each record's fields JSON), equals the bytes — which
        rules out duplicate keys, other key orders, spacing and escapes, and any value
        a JSON reader could take two ways. Bytes without a backslash take a shorter
        road to the same answer (``_decode_without_escapes``).
    Anything else is InvalidArgument ``NOT_CANONICAL``.
    """
    # (a)
    try:
        text = data.decode("utf-8")
        obj = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _not_canonical("bytes that are not UTF-8 JSON") from None
    if type(obj) is not dict:
        raise _not_canonical("JSON that is not an object")
    # (b)
    if (
        obj.get("node_id") != node_id
        or obj.get("batch_id") != batch_id
        or obj.get("category") != category
    ):
        raise PermissionDenied(
            f"batch {batch_id}: the signed content names another node, batch id or category",
            reason="BAD_SIGNATURE",
        )
    # (c)
    records = obj.get("records")
    if type(records) is not list:
        raise _not_canonical("no list of records")
    if not 0 < len(records) <= MAX_BATCH_RECORDS:
        raise InvalidArgument.field(
            "batch.records", f"{len(records)} records", f"1..{MAX_BATCH_RECORDS} records"
        )
    if "\\" not in text:
        return _decode_without_escapes(text, obj, records)
    dump_fields = encode_fields  # sorted: unsorted signed fields will not compare equal
    decoded: list[DecodedRecord] = []
    parts: list[str] = []
    try:
        for record in records:
            code = record["credit_code"]
            record_id = record["record_id"]
            version = record["version"]
            event_time = record["event_time"]
            fields = record["fields"]
            if type(version) is not int or type(event_time) is not str or type(fields) is not dict:
                raise _not_canonical("a record with a value of the wrong JSON type")
            for value in fields.values():
                if type(value) is not str:
                    raise _not_canonical("a field value that is not text")
            fields_json = dump_fields(fields)
            parts.append(_record_text(code, event_time, fields_json, record_id, version))
            decoded.append((code, record_id, version, _time_us(event_time), fields, fields_json))
    except (KeyError, TypeError):
        raise _not_canonical("a record without its five members of their JSON types") from None
    # (d)
    if _batch_text(node_id, batch_id, category, parts) != text:
        raise _not_canonical("bytes that are not in canonical form")
    return decoded


_TOP_KEYS = ("batch_id", "category", "node_id", "records", "type", "v")
_RECORD_KEYS = ("credit_code", "event_time", "fields", "record_id", "version")
MAX_SORTED_KEY_CACHE = 4096
_sorted_keys: set[tuple[str, ...]] = set()  # field-name tuples known to be sorted


def _decode_without_escapes(
    text: str, obj: dict[str, Any], records: list[Any]
) -> list[DecodedRecord]:
    """Step (d) of ``decode_signed_content`` for a text without any backslash.

    Without a backslash no JSON string in the text has an escape, so each string's text
    is its value between quotes, exactly as the canonical encoding writes it (which
    escapes only quote, backslash and control characters; JSON forbids raw control
    characters, and a raw quote ends a string). Integers have one spelling of minimal
    length. So once (1) every object's members come in sorted order and are those the
    encoding has, and (2) every value has its JSON type, the canonical text of the
    parsed batch is the only JSON text of that length that parses to it: spacing adds
    characters, and so does a repeated key (the parsed object keeps one of them).
    (3) Comparing the lengths proves the bytes canonical; each record's fields JSON is
    then the slice of the text at its computed offset.
    """
    # (1, 2) header
    if tuple(obj) != _TOP_KEYS or obj["type"] != "batch":
        raise _not_canonical("a batch header that is not the canonical one")
    if type(obj["v"]) is not int or obj["v"] != BATCH_VERSION:
        raise _not_canonical("another encoding version")
    # offset of the first record: {"batch_id":"…","category":"…","node_id":"…","records":[
    pos = 53 + len(obj["batch_id"]) + len(obj["category"]) + len(obj["node_id"])
    spans: list[tuple[int, int]] = []
    decoded: list[DecodedRecord] = []
    sorted_keys = _sorted_keys
    for record in records:
        # (1, 2) each record: its five members in order, of their JSON types
        if type(record) is not dict or tuple(record) != _RECORD_KEYS:
            raise _not_canonical("a record without exactly its five members, in order")
        code, event_time, fields, record_id, version = record.values()
        if (
            type(code) is not str
            or type(event_time) is not str
            or type(fields) is not dict
            or type(record_id) is not str
            or type(version) is not int
        ):
            raise _not_canonical("a record with a value of the wrong JSON type")
        names = tuple(fields)
        if names not in sorted_keys:
            if list(names) != sorted(names):
                raise _not_canonical("field names out of order")
            if len(sorted_keys) >= MAX_SORTED_KEY_CACHE:
                sorted_keys.clear()
            sorted_keys.add(names)
        values = fields.values()
        for value in values:
            if type(value) is not str:
                raise _not_canonical("a field value that is not text")
        count = len(names)
        # {"name":"value",…}: 2 braces, 4 quotes and a colon per member, commas between
        width = sum(map(len, names)) + sum(map(len, values)) + 6 * count + (1 if count else 2)
        # {"credit_code":"…","event_time":"…","fields":
        start = pos + 43 + len(code) + len(event_time)
        spans.append((start, start + width))
        # ,"record_id":"…","version":…}  and the comma before the next record
        pos = start + width + 28 + len(record_id) + len(str(version))
        decoded.append((code, record_id, version, _time_us(event_time), fields, ""))
    # (3) ],"type":"batch","v":1}  with no comma after the last record
    if pos - 1 + 22 + len(str(BATCH_VERSION)) != len(text):
        raise _not_canonical("bytes that are not in canonical form")
    return [
        (code, record_id, version, event_us, fields, text[start:end])
        for (code, record_id, version, event_us, fields, _), (start, end) in zip(
            decoded, spans, strict=True
        )
    ]


def _time_us(text: str) -> int:
    """Microseconds since the epoch of a canonical event time (``xinlian.batch``)."""
    # years 1000..9999: every part zero-padded to its width, so a text of exactly this
    # shape that is a valid instant is the canonical form of that instant
    if _TIME_SHAPE(text) is not None:
        try:
            return (datetime.fromisoformat(text) - _EPOCH) // _ONE_US
        except ValueError:
            pass
    # years before 1000 have fewer digits in the canonical form (strftime's %Y)
    match = _ANY_TIME.fullmatch(text)
    if match is not None:
        try:
            y, mo, d, h, mi, sec, us = (int(part) for part in match.groups())
            when = datetime(y, mo, d, h, mi, sec, us, tzinfo=UTC)
        except ValueError:
            when = None
        if when is not None and format_time(when) == text:
            return (when - _EPOCH) // _ONE_US
    raise _not_canonical("an event time not in the form YYYY-MM-DDTHH:MM:SS.ffffffZ")


# -- structured records ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """One structured record with the parts of its canonical encoding (built from the
    wire by ``gateway.services.push_service.parse_record``)."""

    credit_code: str
    record_id: str
    version: int
    event_time_us: int
    event_time: str  # as in the canonical encoding
    fields: dict[str, str]
    fields_json: str  # canonical JSON of ``fields``


def time_text(us: int) -> str:
    """``xinlian.batch.format_time`` of the instant ``us`` microseconds after the epoch."""
    try:
        when = _EPOCH_NAIVE + timedelta(microseconds=us)
    except OverflowError:
        raise InvalidArgument.field(
            "batch.records.event_time", "out of range", "an instant in years 1..9999"
        ) from None
    if when.year < 1000:  # strftime does not pad such years; keep exactly its output
        return format_time(when.replace(tzinfo=UTC))
    return when.isoformat(timespec="microseconds") + "Z"


_encode_str = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) writes
encode_fields = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_batch_bytes(
    node_id: str, batch_id: str, category: str, records: list[ParsedRecord]
) -> bytes:
    """``xinlian.batch.canonical_batch`` assembled from each record's canonical parts.

    Keys in sorted order at both levels; strings as ``json.dumps(ensure_ascii=False)``
    writes them; integers as ``int.__repr__``. tests/push/test_record_validation.py
    checks the result equals ``canonical_batch`` byte for byte.
    """
    parts = [
        _record_text(p.credit_code, p.event_time, p.fields_json, p.record_id, p.version)
        for p in records
    ]
    return _batch_text(node_id, batch_id, category, parts).encode("utf-8")


def _record_text(
    credit_code: str, event_time: str, fields_json: str, record_id: str, version: int
) -> str:
    """One record of the canonical batch text: keys sorted, strings as
    ``json.dumps(ensure_ascii=False)`` writes them, integers as ``int.__repr__``."""
    return (
        '{"credit_code":'
        + _encode_str(credit_code)
        + ',"event_time":"'
        + event_time
        + '","fields":'
        + fields_json
        + ',"record_id":'
        + _encode_str(record_id)
        + ',"version":'
        + str(version)
        + "}"
    )


def _batch_text(node_id: str, batch_id: str, category: str, records: list[str]) -> str:
    """The canonical batch text around its records' texts."""
    return (
        '{"batch_id":'
        + _encode_str(batch_id)
        + ',"category":'
        + _encode_str(category)
        + ',"node_id":'
        + _encode_str(node_id)
        + ',"records":['
        + ",".join(records)
        + '],"type":"batch","v":'
        + str(BATCH_VERSION)
        + "}"
    )
