"""RFC 9162 (Certificate Transparency v2) Merkle tree maths: pure functions, no I/O.

Hashing is the same as RFC 6962: SHA-256, with domain separation between leaves and
interior nodes so that a leaf can never be passed off as a node::

    leaf_hash(d)      = SHA-256(0x00 ‖ d)
    node_hash(l, r)   = SHA-256(0x01 ‖ l ‖ r)
    MTH({})           = SHA-256("")
    MTH({d0})         = leaf_hash(d0)
    MTH(D[n])         = node_hash(MTH(D[0:k]), MTH(D[k:n]))   k = largest power of 2 < n

Every function here takes *leaf hashes* (32 bytes each), never entry bodies.

Proof generation (``inclusion_proof``, ``consistency_proof``) follows the definitions
of RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF), computed from the list of
leaf hashes in O(n). Verification (``verify_inclusion``, ``verify_consistency``)
follows the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 step by step; any mismatch
raises ``ProofError`` (a ``ValueError``) with a message naming what did not match.

``CompactRange`` is the incremental "frontier" of the tree: the roots of the perfect
subtrees that make up ``[0, size)``, one per set bit of ``size``, largest first. It
lets the ledger append a leaf in O(log n) and compute the current root without
re-reading all leaves, and it can be persisted with ``state()`` and restored with
``CompactRange.from_state``.

Pruning
-------
The gateway keeps every leaf hash forever and prunes only entry *bodies* (for
example negative credit information after its retention period). That loses nothing
needed for verification, because:

* the tree is defined over leaf hashes: ``root_from_leaf_hashes`` over the retained
  hashes gives the same root for every tree size, so every signed checkpoint can
  still be re-checked;
* ``inclusion_proof`` and ``consistency_proof`` read only leaf hashes, so every proof
  for every (index, size) pair can still be produced;
* a body that is still held (or later produced from a backup or an export) is checked
  by ``leaf_hash(body) == retained_hash[index]``; a pruned body has nothing left to
  check against its hash, so a ledger verifier should report it as pruned, not bad.

If the leaf hashes of an old prefix ``[0, p)`` ever had to be dropped as well, the
hashes to keep are ``frontier_at(leaf_hashes, p).state()``: at most log2(p) + 1
hashes. From them plus the leaf hashes from ``p`` on, ``CompactRange.append`` still
yields the root of every tree size ``>= p`` (so checkpoints from ``p`` on stay
verifiable); inclusion proofs for the dropped leaves and proofs that end below ``p``
would no longer be producible. XinLian does not do that today.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
"""Size in bytes of every hash handled here (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) — the root of the empty tree."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class ProofError(ValueError):
    """A proof, hash or tree parameter does not match; the message says which."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 ‖ data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _check_hash(what: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        got = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise ProofError(f"{what}: got {got} bytes, want {HASH_SIZE}")


def _check_size(what: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofError(f"{what}: got {value!r}, want a non-negative integer")


def _largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k, for n >= 2 (the RFC's split point)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(hashes: Sequence[bytes], begin: int, end: int) -> bytes:
    """MTH(hashes[begin:end]) in O(end - begin) time and O(log n) memory, no copying."""
    if begin == end:
        return EMPTY_ROOT
    # Stack of (size, hash) perfect-subtree roots, sizes strictly decreasing.
    stack: list[tuple[int, bytes]] = []
    for i in range(begin, end):
        size, h = 1, hashes[i]
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, h = left_size + size, node_hash(left, h)
        stack.append((size, h))
    return _fold(stack)


def _fold(stack: Sequence[tuple[int, bytes]]) -> bytes:
    """Root of a tree given its perfect-subtree roots, largest (leftmost) first."""
    if not stack:
        return EMPTY_ROOT
    root = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        root = node_hash(h, root)
    return root


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over ``hashes`` (RFC 9162 §2.1.1); the empty tree hashes to SHA-256("")."""
    return _subtree_root(hashes, 0, len(hashes))


def _check_tree(leaf_hashes: Sequence[bytes], tree_size: int) -> None:
    _check_size("tree_size", tree_size)
    if tree_size > len(leaf_hashes):
        raise ProofError(f"tree_size: got {tree_size}, want <= {len(leaf_hashes)} known leaves")


SubtreeHash = Callable[[int, int], bytes]
"""MTH of the leaves ``[begin, end)``: how a proof algorithm asks for a subtree hash."""


def inclusion_path(subtree: SubtreeHash, index: int, tree_size: int) -> list[bytes]:
    """PATH(index, D[tree_size]) of RFC 9162 §2.1.3.1 for ``0 <= index < tree_size``,
    asking ``subtree`` for each sibling; the proof lists them from the leaf upwards.

    Shared by :func:`inclusion_proof` (hashes from a list of leaves) and the gateway's
    cached hash levels (hashes from stored subtree roots)."""
    # Walk down from the root; each step records the sibling subtree we do not enter.
    top_down: list[bytes] = []
    begin, end = 0, tree_size
    while end - begin > 1:
        k = _largest_power_of_two_below(end - begin)
        if index < begin + k:
            top_down.append(subtree(begin + k, end))
            end = begin + k
        else:
            top_down.append(subtree(begin, begin + k))
            begin = begin + k
    top_down.reverse()
    return top_down


def consistency_path(subtree: SubtreeHash, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 §2.1.4.1 for ``0 < first < second``, asking
    ``subtree`` for each hash."""
    # SUBPROOF(m, D[begin:end], complete), unrolled from the root down.
    top_down: list[bytes] = []
    begin, end, m, complete = 0, second, first, True
    while True:
        n = end - begin
        if m == n:
            if not complete:
                top_down.append(subtree(begin, end))
            break
        k = _largest_power_of_two_below(n)
        if m <= k:
            top_down.append(subtree(begin + k, end))
            end = begin + k
        else:
            top_down.append(subtree(begin, begin + k))
            begin, m, complete = begin + k, m - k, False
    top_down.reverse()
    return top_down


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """PATH(index, D[tree_size]) of RFC 9162 §2.1.3.1, over the first ``tree_size`` leaves.

    The proof lists sibling hashes from the leaf upwards.
    """
    _check_tree(leaf_hashes, tree_size)
    _check_size("index", index)
    if index >= tree_size:
        raise ProofError(f"index: got {index}, want < tree_size {tree_size}")
    return inclusion_path(lambda b, e: _subtree_root(leaf_hashes, b, e), index, tree_size)


def consistency_proof(leaf_hashes: Sequence[bytes], first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 §2.1.4.1.

    ``first == second`` and ``first == 0`` give the empty proof (nothing to prove).
    """
    _check_tree(leaf_hashes, second)
    _check_size("first", first)
    if first > second:
        raise ProofError(f"first: got {first}, want <= second {second}")
    if first == 0 or first == second:
        return []
    return consistency_path(lambda b, e: _subtree_root(leaf_hashes, b, e), first, second)


def _inclusion_proof_length(index: int, tree_size: int) -> int:
    # Levels where the path to ``index`` and the path to the last leaf differ take one
    # sibling each; above them, one hash for each left-hand perfect subtree on the
    # right border of the tree.
    inner = (index ^ (tree_size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_proof_length(first: int, second: int) -> int:
    # The proof is the inclusion proof of the largest perfect subtree that ends the
    # first tree, plus that subtree's own hash unless it is the whole first tree.
    shift = (first & -first).bit_length() - 1
    length = _inclusion_proof_length(first - 1, second) - shift
    return length if first == 1 << shift else length + 1


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is at ``index`` in the tree of ``tree_size`` with ``root``.

    RFC 9162 §2.1.3.2. Returns None on success; raises ``ProofError`` otherwise.
    """
    # (0) Shapes: sizes are integers, every hash is 32 bytes, the length is exact.
    _check_size("index", index)
    _check_size("tree_size", tree_size)
    _check_hash("leaf_hash", leaf_hash)
    _check_hash("root", root)
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)
    # (1) leaf_index must be < tree_size.
    if index >= tree_size:
        raise ProofError(f"index: got {index}, want < tree_size {tree_size}")
    want = _inclusion_proof_length(index, tree_size)
    if len(proof) != want:
        raise ProofError(f"proof: got {len(proof)} hashes, want {want}")
    # (2) fn = leaf_index, sn = tree_size - 1; (3) r = hash.
    fn, sn, r = index, tree_size - 1, bytes(leaf_hash)
    # (4) Fold in each proof element.
    for p in proof:
        if sn == 0:  # (4a)
            raise ProofError("proof: longer than the path to the root")
        if fn & 1 or fn == sn:  # (4b)
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # (4c)
        sn >>= 1
    # (5) sn must be 0 and r must equal the root.
    if sn != 0:
        raise ProofError("proof: shorter than the path to the root")
    if r != root:
        raise ProofError("root: computed root does not match the given root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of size ``first`` is a prefix of the tree of size ``second``.

    RFC 9162 §2.1.4.2 for ``0 < first < second``. Edge cases, outside the RFC's
    algorithm: ``first == second`` needs an empty proof and equal roots; ``first == 0``
    needs an empty proof and ``first_root`` equal to the empty-tree hash.
    Returns None on success; raises ``ProofError`` otherwise.
    """
    # (0) Shapes.
    _check_size("first", first)
    _check_size("second", second)
    _check_hash("first_root", first_root)
    _check_hash("second_root", second_root)
    for i, c in enumerate(proof):
        _check_hash(f"proof[{i}]", c)
    if first > second:
        raise ProofError(f"first: got {first}, want <= second {second}")
    if first == second or first == 0:
        if proof:
            raise ProofError(f"proof: got {len(proof)} hashes, want 0")
        if first == 0 and first_root != EMPTY_ROOT:
            raise ProofError("first_root: a tree of size 0 must have the empty-tree hash")
        if first == second and first_root != second_root:
            raise ProofError("second_root: trees of equal size have different roots")
        return
    # (1) An empty proof fails; the exact length is known in advance.
    want = _consistency_proof_length(first, second)
    if len(proof) != want:
        raise ProofError(f"proof: got {len(proof)} hashes, want {want}")
    path = list(proof)
    # (2) If first is an exact power of 2, prepend first_hash.
    if first & (first - 1) == 0:
        path.insert(0, bytes(first_root))
    # (3) fn = first - 1, sn = second - 1.
    fn, sn = first - 1, second - 1
    # (4) While LSB(fn) is set, shift both right.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # (5) fr = sr = first value of the path.
    fr = sr = path[0]
    # (6) Fold in each subsequent value.
    for c in path[1:]:
        if sn == 0:  # (6a)
            raise ProofError("proof: longer than the path to the root")
        if fn & 1 or fn == sn:  # (6b)
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # (6c)
        sn >>= 1
    # (7) fr must equal first_hash, sr second_hash, and sn must be 0.
    if sn != 0:
        raise ProofError("proof: shorter than the path to the root")
    if fr != first_root:
        raise ProofError("first_root: computed first root does not match the given root")
    if sr != second_root:
        raise ProofError("second_root: computed second root does not match the given root")


class CompactRange:
    """Incremental Merkle frontier for the tree ``[0, size)``.

    Holds one perfect-subtree root per set bit of ``size``, largest subtree first.
    ``append`` costs O(log n) hashes; ``root`` costs O(log n). ``CompactRange()`` is the
    empty tree.
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._nodes: list[tuple[int, bytes]] = []

    @property
    def size(self) -> int:
        return self._size

    @classmethod
    def from_state(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Restore a frontier saved with ``state()``; checks that the shapes agree."""
        _check_size("size", size)
        widths = [1 << bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
        if len(hashes) != len(widths):
            raise ProofError(
                f"hashes: got {len(hashes)}, want {len(widths)} for a tree of size {size}"
            )
        for i, h in enumerate(hashes):
            _check_hash(f"hashes[{i}]", h)
        rng = cls()
        rng._size = size
        rng._nodes = [(w, bytes(h)) for w, h in zip(widths, hashes, strict=True)]
        return rng

    @classmethod
    def from_leaf_hashes(cls, hashes: Sequence[bytes]) -> CompactRange:
        rng = cls()
        for h in hashes:
            rng.append(h)
        return rng

    def state(self) -> tuple[int, list[bytes]]:
        """``(size, hashes)``: everything needed to resume; the widths follow from size."""
        return self._size, [h for _, h in self._nodes]

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf (its leaf hash, not its body)."""
        _check_hash("leaf_hash", leaf_hash)
        width, h = 1, bytes(leaf_hash)
        while self._nodes and self._nodes[-1][0] == width:
            left_width, left = self._nodes.pop()
            width, h = left_width + width, node_hash(left, h)
        self._nodes.append((width, h))
        self._size += 1

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        return _fold(self._nodes)

    def copy(self) -> CompactRange:
        return CompactRange.from_state(*self.state())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._nodes == other._nodes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


def frontier_at(leaf_hashes: Sequence[bytes], size: int) -> CompactRange:
    """The frontier of the first ``size`` leaves: the hashes to keep if that prefix's
    leaf hashes were ever dropped (see "Pruning" in the module docstring)."""
    _check_tree(leaf_hashes, size)
    return CompactRange.from_leaf_hashes(leaf_hashes[:size])
