"""gateway.store.erasure: the digests that stand in for erased batch bytes (pure)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.store.erasure import (
    KeptRecord,
    decode_kept,
    encode_kept,
    erasure_entry,
    erasure_mismatch,
    record_sha256,
    text_sha256,
)
from xinlian.batch import BatchRecord, canonical_batch

T0 = datetime(2019, 3, 1, 9, 30, tzinfo=UTC)


@given(
    st.lists(
        st.tuples(
            st.text(max_size=12),
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=4),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_a_record_digest_is_the_hash_of_its_text_in_the_signed_bytes(
    parts: list[tuple[str, int, dict[str, str]]],
) -> None:
    """Canonical JSON nests: each record's canonical text stands as is inside the batch's
    canonical bytes, so its digest is the SHA-256 of exactly that slice."""
    records = [BatchRecord("91350100MA2Y00011X", rid, v, T0, f) for rid, v, f in parts]
    data = canonical_batch("court", "j-1", "judicial", records)
    for record in records:
        text = json.dumps(
            record.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        assert text in data
        assert record_sha256(record.to_json()) == hashlib.sha256(text).hexdigest()


def test_record_digest_covers_every_member() -> None:
    item = BatchRecord("91350100MA2Y00011X", "r-1", 1, T0, {"case_no": "(2019)闽01执1号"}).to_json()
    digests = {record_sha256(item)}
    for key, value in [
        ("credit_code", "91350100MA2Y00022X"),
        ("record_id", "r-2"),
        ("version", 2),
        ("event_time", "2019-03-01T09:30:00.000001Z"),
        ("fields", {"case_no": "(2019)闽01执2号"}),
    ]:
        digests.add(record_sha256({**item, key: value}))
    assert len(digests) == 6
    assert record_sha256({**item, "extra": "x"}) == record_sha256(item)


def test_kept_round_trip_in_record_order() -> None:
    kept = [
        KeptRecord("r-2", 1, "2024-01-01T00:00:00.000000Z", "b" * 64),
        KeptRecord("r-1", 3, "2023-01-01T00:00:00.000000Z", "a" * 64),
    ]
    text = encode_kept(kept)
    assert text.startswith('[["r-1",3,')
    assert decode_kept(text) == {("r-1", 3): kept[1], ("r-2", 1): kept[0]}
    assert decode_kept(encode_kept([])) == {}


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '[["r-1",1,"2024-01-01T00:00:00.000000Z"]]',
        '[["r-1","1","2024-01-01T00:00:00.000000Z","aa"]]',
        '[["r-1",1,"2024-01-01T00:00:00.000000Z","aa"], ["r-0",1,"t","bb"]]',
        '[["r-2",1,"t","aa"],["r-1",1,"t","bb"]]',
        '[["r-1",true,"t","aa"]]',
        "not json",
    ],
)
def test_kept_must_be_exactly_what_encode_writes(text: str) -> None:
    with pytest.raises(ValueError):
        decode_kept(text)


def _erasure(kept_text: str) -> bytes:
    return erasure_entry(
        time=T0,
        trace_id="t" * 24,
        node_id="court",
        batch_id="j-1",
        category="judicial",
        batch_sha256="c" * 64,
        records_deleted=1,
        kept_text=kept_text,
        kept_count=len(decode_kept(kept_text)),
    ).encode()


def test_the_entry_carries_hashes_and_counts_only() -> None:
    kept_text = encode_kept([KeptRecord("r-1", 1, "2024-01-01T00:00:00.000000Z", "a" * 64)])
    entry = json.loads(_erasure(kept_text))
    assert (entry["action"], entry["actor"], entry["actor_kind"], entry["subject"]) == (
        "retention.erased",
        "gateway",
        "gateway",
        "j-1",
    )
    assert entry["details"] == {
        "node_id": "court",
        "category": "judicial",
        "batch_sha256": "c" * 64,
        "records_deleted": 1,
        "kept": 1,
        "kept_sha256": text_sha256(kept_text),
    }


def test_erasure_mismatch_names_what_differs() -> None:
    kept_text = encode_kept([KeptRecord("r-1", 1, "2024-01-01T00:00:00.000000Z", "a" * 64)])
    body = _erasure(kept_text)
    args = ("court", "j-1", "judicial", "c" * 64, kept_text)
    assert erasure_mismatch(body, *args) is None
    assert erasure_mismatch(body, "tax", *args[1:]) == "node_id"
    assert erasure_mismatch(body, "court", "j-2", *args[2:]) == "subject"
    assert erasure_mismatch(body, "court", "j-1", "tax", *args[3:]) == "category"
    assert erasure_mismatch(body, *args[:3], "d" * 64, kept_text) == "batch_sha256"
    assert erasure_mismatch(body, *args[:4], encode_kept([])) == "kept_sha256"
    assert erasure_mismatch(b"{}", *args) == "entry or kept list unreadable"
