"""The leaf scan of a ledger range: the pure part of steps (1) and (4) of verification.

Given the stored rows ``(idx, leaf_hash, body)`` of the range ``[start, end)`` in index
order, ``scan_rows``:

1. checks the indices run gapless from ``start`` (``idx`` is the primary key and the
   rows come in index order, so a chunk of n rows from ``expected`` to
   ``expected + n - 1`` is exactly those indices); at the first index that is missing,
   or out of order, the scan stops, as the tree positions after it are unknown;
2. recomputes each leaf hash from its body (RFC 9162: SHA-256 of 0x00 ‖ body) and
   compares it with the stored one; a pruned body (None) keeps its stored hash;
3. builds the tree levels of the range from the stored hashes (a stored hash of the
   wrong length counts as 32 zero bytes, so later positions stay right).

The result travels between processes as bytes (``encode`` / ``decode``): verification
scans the two halves of a large ledger in two processes (``gateway.verify.scan``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from audit.levels import HashLevels
from audit.merkle import HASH_SIZE
from xinlian.errors import InvalidArgument

_LEAF_PREFIX = b"\x00"
_ZERO = bytes(HASH_SIZE)
ROW_CHUNK = 16_384
"""Rows the callers read per fetch and hand to ``scan_rows`` as one chunk (this process
and the worker alike)."""
MAX_ENCODED_HEADER = 1 << 24
"""Largest header ``decode`` accepts (the list of bad leaves of a whole half)."""

Row = tuple[int, bytes, bytes | None]


class LeafScan:
    """What a scan of ``[start, ...)`` found: ``levels`` over the ``entries`` contiguous
    rows from ``start``; ``gap`` is ``(expected index, stored index found instead)``.
    (A plain class: the worker process starts without importing ``dataclasses``.)"""

    __slots__ = ("bad_leaves", "entries", "gap", "levels", "pruned", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.levels = HashLevels()
        self.entries = 0
        self.pruned = 0
        self.gap: tuple[int, int] | None = None
        self.bad_leaves: list[int] = []


def scan_rows(chunks: Iterable[Sequence[Row]], start: int) -> LeafScan:
    """Steps 1 to 3 of the module docstring over ``chunks`` of rows whose indices are
    strictly increasing (``ORDER BY idx`` on the primary key, as every caller reads)."""
    sha256 = hashlib.sha256
    prefix = _LEAF_PREFIX
    scan = LeafScan(start)
    expected = start
    for rows in chunks:
        if not rows:
            continue
        n = len(rows)
        idxs, leaves, bodies = zip(*rows, strict=True)
        # (1) gapless
        if idxs[0] != expected or idxs[-1] != expected + n - 1:
            cut = next(p for p, idx in enumerate(idxs) if idx != expected + p)
            scan.gap = (expected + cut, int(idxs[cut]))
            idxs, leaves, bodies = idxs[:cut], leaves[:cut], bodies[:cut]
            n = cut
        # (2) leaf hashes from the bodies; a pruned body keeps its stored hash
        stored = list(leaves)
        pruned = bodies.count(None)
        try:
            if pruned:
                computed = [
                    leaf if body is None else sha256(prefix + body).digest()
                    for leaf, body in zip(stored, bodies, strict=True)
                ]
            else:
                computed = [sha256(prefix + body).digest() for body in bodies]
        except TypeError:  # a value stored with another type (text): the slow way
            computed = [_leaf(leaf, body) for leaf, body in zip(stored, bodies, strict=True)]
        if computed != stored:
            for p, (got, want) in enumerate(zip(computed, stored, strict=True)):
                if got != want:
                    scan.bad_leaves.append(int(idxs[p]))
                    if not isinstance(want, bytes) or len(want) != HASH_SIZE:
                        stored[p] = _ZERO
        # (3) the tree of the stored hashes
        scan.levels.extend_bulk(b"".join(stored))
        scan.entries += n
        scan.pruned += pruned
        expected += n
        if scan.gap is not None:
            break
    return scan


def _leaf(stored: object, body: object) -> object:
    """The leaf hash of a body of any stored type (text is hashed as its UTF-8 bytes)."""
    if body is None:
        return stored
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    if not isinstance(body, bytes | bytearray | memoryview):
        body = str(body).encode("utf-8")
    return hashlib.sha256(_LEAF_PREFIX + bytes(body)).digest()


def encode(scan: LeafScan) -> bytes:
    """A header line of decimal integers, then the levels' bytes one after another.

    The header: start, entries, pruned, the gap's two indices (-1 -1: none), the
    number of levels and each level's length, the number of bad leaves and each index.
    """
    levels = scan.levels.level_bytes()
    gap = scan.gap if scan.gap is not None else (-1, -1)
    numbers = [scan.start, scan.entries, scan.pruned, *gap, len(levels)]
    numbers += [len(level) for level in levels]
    numbers += [len(scan.bad_leaves), *scan.bad_leaves]
    return " ".join(map(str, numbers)).encode("ascii") + b"\n" + b"".join(levels)


def decode(data: bytes) -> LeafScan:
    """The scan ``encode`` wrote; ``InvalidArgument`` for anything else."""
    end = data.find(b"\n", 0, MAX_ENCODED_HEADER)
    if end < 0:
        raise InvalidArgument.field("scan", f"{len(data)} bytes", "a header line")
    try:
        numbers = [int(n) for n in data[:end].split()]
        scan = LeafScan(numbers[0])
        scan.entries, scan.pruned = numbers[1], numbers[2]
        if numbers[3] >= 0:
            scan.gap = (numbers[3], numbers[4])
        n_levels = numbers[5]
        lengths = numbers[6 : 6 + n_levels]
        n_bad = numbers[6 + n_levels]
        scan.bad_leaves = numbers[7 + n_levels :]
        if len(lengths) != n_levels or len(scan.bad_leaves) != n_bad:
            raise ValueError("counts")
    except (ValueError, IndexError) as exc:
        raise InvalidArgument.field("scan", "an unreadable header", "encode's") from exc
    body = memoryview(data)[end + 1 :]
    if sum(lengths) != len(body) or min(lengths, default=0) < 0:
        raise InvalidArgument.field("scan", f"{len(body)} level bytes", f"{sum(lengths)}")
    levels, offset = [], 0
    for n in lengths:
        levels.append(bytes(body[offset : offset + n]))
        offset += n
    scan.levels = HashLevels.from_level_bytes(levels)
    if scan.levels.size != scan.entries:
        raise InvalidArgument.field("scan", f"{scan.levels.size} leaves", f"{scan.entries}")
    return scan
