"""How a batch's signed canonical bytes are kept in ``batches.canonical`` (pure: no SQL).

The signed bytes are JSON, about 380 bytes per record. Kept zlib-compressed (level 1:
about 1.7 ms and 7× smaller for a 1 000-record batch, done on the event loop before the
batch reaches the committer) they take a seventh of the disk and of the database's
write-ahead log; that matters because the commits of every gateway process queue on
the one database writer (docs/push.md, Performance).

``batches.canonical_encoding`` says which form a row holds: ``identity`` (rows written
before revision 0003) or ``zlib``. What was signed, what the ``push.batch`` entry's
``batch_sha256`` hashes and what verification decodes are always the unpacked bytes.
"""

from __future__ import annotations

import zlib

from xinlian.limits import MAX_MESSAGE_BYTES

IDENTITY = "identity"
ZLIB = "zlib"
STORED_ZLIB_LEVEL = 1
"""zlib level of stored batch bytes: level 1 already gives ~7× on batch JSON."""
MAX_UNPACKED_BYTES = MAX_MESSAGE_BYTES
"""No stored batch unpacks to more than a push message may carry (a tampered row
cannot make verification inflate without bound)."""


class UnreadableBytes(ValueError):
    """Stored batch bytes that do not unpack (unknown encoding, corrupt, too large)."""


def pack(canonical: bytes) -> tuple[bytes, str]:
    """The stored form of ``canonical`` and its encoding."""
    return zlib.compress(canonical, STORED_ZLIB_LEVEL), ZLIB


def unpack(stored: bytes, encoding: str) -> bytes:
    """The signed bytes of a stored row, in three steps:

    1. ``identity``: the row holds them as they are;
    2. ``zlib``: inflate at most ``MAX_UNPACKED_BYTES`` + 1 bytes; more, trailing data or
       a stream that does not end is refused;
    3. any other encoding is refused.
    """
    if encoding == IDENTITY:
        return stored
    if encoding == ZLIB:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(stored, MAX_UNPACKED_BYTES + 1)
        except zlib.error as exc:
            raise UnreadableBytes(f"stored batch bytes do not inflate: {exc}") from None
        if len(data) > MAX_UNPACKED_BYTES or inflater.unconsumed_tail or not inflater.eof:
            raise UnreadableBytes("stored batch bytes inflate past the limit or do not end")
        if inflater.unused_data:
            raise UnreadableBytes("stored batch bytes have data after the zlib stream")
        return data
    raise UnreadableBytes(f"unknown canonical_encoding {encoding!r}")
