"""Stored batch bytes: packed and unpacked to exactly the signed bytes; anything else a
row may hold (another encoding, corrupt or oversized data) is refused, not inflated."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.store import batch_storage
from gateway.store.batch_storage import IDENTITY, ZLIB, UnreadableBytes, pack, unpack


@given(st.binary(max_size=4096))
def test_pack_unpack_round_trip(data: bytes) -> None:
    stored, encoding = pack(data)
    assert encoding == ZLIB
    assert unpack(stored, encoding) == data
    assert unpack(data, IDENTITY) == data


def test_batch_json_is_kept_much_smaller() -> None:
    data = (
        b'{"records":['
        + b",".join(
            b'{"credit_code":"91350100MA2Y0%04dX","fields":{"kwh":"%d"}}' % (i, i * 7)
            for i in range(1000)
        )
        + b"]}"
    )
    stored, _ = pack(data)
    assert len(stored) * 4 < len(data)


@pytest.mark.parametrize(
    ("stored", "encoding", "why"),
    [
        (b"not zlib at all", ZLIB, "do not inflate"),
        (zlib.compress(b"{}")[:-3], ZLIB, "do not end"),
        (zlib.compress(b"{}") + b"extra", ZLIB, "after the zlib stream"),
        (b"{}", "gzip", "unknown canonical_encoding"),
    ],
)
def test_unreadable_rows_are_refused(stored: bytes, encoding: str, why: str) -> None:
    with pytest.raises(UnreadableBytes, match=why):
        unpack(stored, encoding)


def test_a_bomb_is_not_inflated_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_storage, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(UnreadableBytes, match="past the limit"):
        unpack(zlib.compress(b"\0" * 100_000), ZLIB)
    assert unpack(zlib.compress(b"\0" * 1000), ZLIB) == b"\0" * 1000
