"""The edge's bounds: identifiers clipped in messages, statuses bounded whatever the caller
sent, request timestamps checked against the Timestamp range, requests decoded once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from gateway.core import validate
from gateway.edge.decode import MALFORMED_REQUEST, decode_stream, decoder
from gateway.edge.status import (
    MAX_DETAILS_CHARS,
    MAX_METADATA_VALUE_CHARS,
    details,
    trailing_metadata,
)
from xinlian import wire
from xinlian.errors import InvalidArgument, NotFound, clip
from xinlian.v1 import catalog_pb2

# gRPC refuses response metadata past 8 KiB by default; details travel percent-encoded
METADATA_LIMIT = 8 * 1024


def test_clip_keeps_short_values_and_cuts_long_ones() -> None:
    assert clip("grant-1") == "grant-1"
    long = "g" * 100_000
    shown = clip(long)
    assert shown.startswith("g" * 80) and shown.endswith("… (100000 bytes)")
    assert len(shown) < 100
    assert clip("数" * 100).endswith("(300 bytes)")


@given(st.text(min_size=0, max_size=5000), st.text(max_size=5000))
def test_status_of_any_error_fits_in_the_metadata_limit(message: str, value: str) -> None:
    error = NotFound(message, reason="R" * 300, metadata={"field": value, "other": value})
    shown = details(error)
    assert len(shown) <= MAX_DETAILS_CHARS + 30
    pairs = trailing_metadata(error, "0123456789abcdef")
    assert all(len(v) <= MAX_METADATA_VALUE_CHARS for _, v in pairs)
    encoded = len(shown.encode()) * 3 + sum(len(k) + len(v.encode()) for k, v in pairs)
    assert encoded < METADATA_LIMIT


def test_identifier_length_is_checked() -> None:
    assert validate.identifier("grant_id", "g-1", max_len=64) == "g-1"
    with pytest.raises(InvalidArgument) as err:
        validate.identifier("grant_id", "g" * 100_000, max_len=64)
    assert err.value.metadata == {"field": "grant_id"}
    assert len(err.value.message) < 100


@pytest.mark.parametrize(
    ("stamp", "field"),
    [
        (Timestamp(seconds=2**62), "t.seconds"),
        (Timestamp(seconds=-(2**62)), "t.seconds"),
        (Timestamp(seconds=253_402_300_800), "t.seconds"),
        (Timestamp(seconds=-62_135_596_801), "t.seconds"),
        (Timestamp(seconds=1, nanos=-1), "t.nanos"),
        (Timestamp(seconds=1, nanos=1_000_000_000), "t.nanos"),
    ],
)
def test_out_of_range_timestamp_names_the_field(stamp: Timestamp, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        wire.from_ts(stamp, field_name="t")
    assert err.value.metadata == {"field": field}
    with pytest.raises(InvalidArgument):
        wire.timestamp_us(stamp, "t")


def test_timestamp_range_ends_and_unset() -> None:
    last = Timestamp(seconds=253_402_300_799, nanos=999_999_999)
    assert wire.from_ts(last, field_name="t") == datetime(9999, 12, 31, 23, 59, 59, 999999, UTC)
    first = Timestamp(seconds=-62_135_596_800)
    assert wire.from_ts(first, field_name="t") == datetime(1, 1, 1, tzinfo=UTC)
    assert wire.from_optional_ts(Timestamp(), field_name="t") is None
    with pytest.raises(InvalidArgument):
        wire.from_ts(Timestamp(), field_name="t")
    assert wire.timestamp_us(Timestamp(seconds=2, nanos=5_000), "t") == 2_000_005


def test_decoder_turns_bad_bytes_into_malformed_request() -> None:
    decode = decoder(catalog_pb2.GetCatalogRequest.FromString)
    assert decode(b"") == catalog_pb2.GetCatalogRequest()
    with pytest.raises(InvalidArgument) as err:
        decode(b"\x0f")
    assert err.value.reason == MALFORMED_REQUEST
    assert err.value.metadata == {"field": "request"}
    assert "xinlian.v1.GetCatalogRequest" in err.value.message
    assert decoder(None)(b"\x0f") == b"\x0f"  # a bytes method gets its bytes


def test_stream_messages_are_decoded_as_they_are_read() -> None:
    decode = decoder(catalog_pb2.GetCatalogRequest.FromString)

    async def raw():  # type: ignore[no-untyped-def]
        yield b""
        yield b"\x0f"
        raise AssertionError("read past the bad message")

    async def read() -> list[object]:
        seen: list[object] = []
        with pytest.raises(InvalidArgument):
            async for message in decode_stream(raw(), decode):
                seen.append(message)
        return seen

    assert asyncio.run(read()) == [catalog_pb2.GetCatalogRequest()]
