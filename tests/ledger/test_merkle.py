"""audit.merkle, tested three ways.

(a) Published known-answer vectors: the RFC 6962 reference tree used by
    transparency-dev/merkle (testonly/constants.go, proof/verify_test.go,
    rfc6962/rfc6962_test.go, testdata/). Hex values transcribed as facts.
(b) Tampered proofs and parameters that must fail.
(c) Property tests against a naive recursive reference written here straight from the
    RFC 9162 definitions (MTH, PATH, PROOF/SUBPROOF).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    consistency_proof,
    frontier_at,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)


def h(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text)


def b64(text: str) -> bytes:
    return base64.b64decode(text)


# --------------------------------------------------------------------------- vectors (a)

LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

# NodeHashes() of testonly/constants.go: [level][index] for the 8-leaf tree.
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]

# RootHashes(): index = tree size.
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# CompactTrees(): the frontier for each tree size, as (level, index) into NODE_HASHES.
COMPACT = [
    [],
    [(0, 0)],
    [(1, 0)],
    [(1, 0), (0, 2)],
    [(2, 0)],
    [(2, 0), (0, 4)],
    [(2, 0), (1, 2)],
    [(2, 0), (1, 2), (0, 6)],
    [(3, 0)],
]

# proof/verify_test.go inclusionProofs: (leaf number, 1-based; tree size; proof).
INCLUSION_VECTORS = [
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (3, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        2,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (1, 1, []),
]

# proof/verify_test.go consistencyProofs: (size1, size2, proof).
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
LEAF_HASHES = [leaf_hash(d) for d in LEAF_INPUTS]


def test_hasher_vectors() -> None:
    # rfc6962/rfc6962_test.go
    assert ROOTS[0] == EMPTY_ROOT
    assert leaf_hash(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"L123456") == h(
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456") == h(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_leaf_and_node_hashes_match_published_tree() -> None:
    assert NODE_HASHES[0] == LEAF_HASHES
    for level in range(1, 4):
        below = NODE_HASHES[level - 1]
        computed = [node_hash(below[2 * i], below[2 * i + 1]) for i in range(len(below) // 2)]
        assert computed == NODE_HASHES[level]


@pytest.mark.parametrize("size", range(9))
def test_published_roots(size: int) -> None:
    assert root_from_leaf_hashes(LEAF_HASHES[:size]) == ROOTS[size]
    assert CompactRange.from_leaf_hashes(LEAF_HASHES[:size]).root() == ROOTS[size]


@pytest.mark.parametrize("size", range(9))
def test_published_compact_ranges(size: int) -> None:
    rng = frontier_at(LEAF_HASHES, size)
    assert rng.size == size
    assert rng.state() == (size, [NODE_HASHES[lv][i] for lv, i in COMPACT[size]])


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION_VECTORS)
def test_published_inclusion_proofs(leaf: int, size: int, proof: list[bytes]) -> None:
    index = leaf - 1
    assert inclusion_proof(LEAF_HASHES, index, size) == proof
    verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_VECTORS)
def test_published_consistency_proofs(size1: int, size2: int, proof: list[bytes]) -> None:
    assert consistency_proof(LEAF_HASHES, size1, size2) == proof
    verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)


# testdata/inclusion/1/ and testdata/consistency/1/ (base64, as published).
_ROOT8 = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="
_LEAF0 = "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
_P0 = "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c="
_P1 = "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4="
_P2 = "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="


@pytest.mark.parametrize(
    ("proof", "ok"),
    [
        ([_P0, _P1, _P2], True),  # happy-path.json
        ([_P0, "Vwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=", _P2], False),  # proof[1] bit 3
    ],
)
def test_published_inclusion_testdata(proof: list[str], ok: bool) -> None:
    args = (b64(_LEAF0), 0, 8, [b64(p) for p in proof], b64(_ROOT8))
    if ok:
        verify_inclusion(*args)
    else:
        with pytest.raises(ProofError):
            verify_inclusion(*args)


@pytest.mark.parametrize(
    ("proof", "ok"),
    [
        ([_P0, _P1, _P2], True),  # happy-path.json
        (["hqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=", _P1, _P2], False),  # proof[0] bit 4
    ],
)
def test_published_consistency_testdata(proof: list[str], ok: bool) -> None:
    args = (1, 8, b64(_LEAF0), b64(_ROOT8), [b64(p) for p in proof])
    if ok:
        verify_consistency(*args)
    else:
        with pytest.raises(ProofError):
            verify_consistency(*args)


# --------------------------------------------------------------------------- tampering (b)


def _flip(value: bytes, byte: int = 0, mask: int = 8) -> bytes:
    out = bytearray(value)
    out[byte] ^= mask
    return bytes(out)


def _inclusion_probes(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, Callable[[], None]]]:
    def probe(i: int, s: int, lf: bytes, pr: list[bytes], rt: bytes) -> Callable[[], None]:
        return lambda: verify_inclusion(lf, i, s, pr, rt)

    probes = [
        ("index - 1", probe(index - 1, size, leaf, proof, root)),
        ("index + 1", probe(index + 1, size, leaf, proof, root)),
        ("index ^ 2", probe(index ^ 2, size, leaf, proof, root)),
        ("size * 2", probe(index, size * 2, leaf, proof, root)),
        ("size // 2", probe(index, size // 2, leaf, proof, root)),
        ("wrong leaf", probe(index, size, leaf_hash(b"WrongLeaf"), proof, root)),
        ("short leaf", probe(index, size, b"WrongLeaf", proof, root)),
        ("empty root", probe(index, size, leaf, proof, EMPTY_ROOT)),
        ("random root", probe(index, size, leaf, proof, SOME_HASH)),
        ("trailing garbage", probe(index, size, leaf, [*proof, b""], root)),
        ("trailing root", probe(index, size, leaf, [*proof, root], root)),
        ("preceding garbage", probe(index, size, leaf, [b"", *proof], root)),
        ("preceding root", probe(index, size, leaf, [root, *proof], root)),
    ]
    for i in range(len(proof)):
        for byte, mask in ((0, 8), (31, 1), (16, 0x80)):
            bad = list(proof)
            bad[i] = _flip(bad[i], byte, mask)
            probes.append((f"proof[{i}] byte {byte}", probe(index, size, leaf, bad, root)))
    if proof:
        probes.append(("removed last", probe(index, size, leaf, proof[:-1], root)))
        probes.append(("removed first", probe(index, size, leaf, proof[1:], root)))
    if len(proof) > 1:
        inserted = [proof[0], SOME_HASH, *proof[1:]]
        probes.append(("inserted", probe(index, size, leaf, inserted, root)))
        probes.append(("reversed", probe(index, size, leaf, proof[::-1], root)))
    return probes


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION_VECTORS)
def test_tampered_inclusion_proofs_fail(leaf: int, size: int, proof: list[bytes]) -> None:
    index = leaf - 1
    wrong = []
    for desc, check in _inclusion_probes(index, size, proof, ROOTS[size], LEAF_HASHES[index]):
        try:
            check()
        except ProofError:
            continue
        wrong.append(desc)
    assert wrong == []


def _consistency_probes(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[tuple[str, Callable[[], None]]]:
    def probe(s1: int, s2: int, r1: bytes, r2: bytes, pr: list[bytes]) -> Callable[[], None]:
        return lambda: verify_consistency(s1, s2, r1, r2, pr)

    probes = [
        ("size1 - 1", probe(size1 - 1, size2, root1, root2, proof)),
        ("size1 + 1", probe(size1 + 1, size2, root1, root2, proof)),
        ("size1 ^ 2", probe(size1 ^ 2, size2, root1, root2, proof)),
        ("size2 * 2", probe(size1, size2 * 2, root1, root2, proof)),
        ("size2 // 2", probe(size1, size2 // 2, root1, root2, proof)),
        ("wrong root1", probe(size1, size2, SOME_HASH, root2, proof)),
        ("wrong root2", probe(size1, size2, root1, SOME_HASH, proof)),
        ("short root1", probe(size1, size2, b"WrongRoot", root2, proof)),
        ("swapped roots", probe(size1, size2, root2, root1, proof)),
        ("empty proof", probe(size1, size2, root1, root2, [])),
        ("trailing garbage", probe(size1, size2, root1, root2, [*proof, b""])),
        ("trailing root1", probe(size1, size2, root1, root2, [*proof, root1])),
        ("trailing root2", probe(size1, size2, root1, root2, [*proof, root2])),
        ("preceding garbage", probe(size1, size2, root1, root2, [b"", *proof])),
        ("preceding root1", probe(size1, size2, root1, root2, [root1, *proof])),
        ("preceding root2", probe(size1, size2, root1, root2, [root2, *proof])),
        ("preceding proof[0]", probe(size1, size2, root1, root2, [proof[0], *proof])),
        ("truncated", probe(size1, size2, root1, root2, proof[:-1])),
    ]
    for i in range(len(proof)):
        for byte, mask in ((0, 16), (31, 1)):
            bad = list(proof)
            bad[i] = _flip(bad[i], byte, mask)
            probes.append((f"proof[{i}] byte {byte}", probe(size1, size2, root1, root2, bad)))
    return probes


@pytest.mark.parametrize(("size1", "size2", "proof"), [v for v in CONSISTENCY_VECTORS if v[2]])
def test_tampered_consistency_proofs_fail(size1: int, size2: int, proof: list[bytes]) -> None:
    wrong = []
    for desc, check in _consistency_probes(size1, size2, ROOTS[size1], ROOTS[size2], proof):
        try:
            check()
        except ProofError:
            continue
        wrong.append(desc)
    assert wrong == []


def test_inclusion_edge_cases() -> None:
    one = leaf_hash(b"data")
    verify_inclusion(one, 0, 1, [], one)  # a one-leaf tree's root is its leaf hash
    for index, size in [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 1)]:
        with pytest.raises(ProofError):
            verify_inclusion(one, index, size, [], one)
    with pytest.raises(ProofError, match="leaf_hash"):
        verify_inclusion(b"", 0, 1, [], one)
    with pytest.raises(ProofError, match="root"):
        verify_inclusion(one, 0, 1, [], b"")
    with pytest.raises(ProofError, match="root"):
        verify_inclusion(one, 0, 1, [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="index"):
        verify_inclusion(one, True, 2, [one], one)  # bool is not an index


def test_consistency_edge_cases() -> None:
    r1, r2 = leaf_hash(b"1"), leaf_hash(b"2")
    # Always consistent, with an empty proof.
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, r2, [])
    verify_consistency(1, 1, r1, r1, [])
    verify_consistency(7, 7, r2, r2, [])
    bad = [
        (1, 1, r1, r2, []),  # equal sizes, different roots
        (0, 0, EMPTY_ROOT, r2, []),
        (0, 1, r1, r2, []),  # size 0 must have the empty root
        (1, 0, r1, r2, []),  # time travel
        (2, 1, r1, r2, []),
        (1, 2, r1, r2, []),  # empty proof for a real step
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),  # non-empty proof where none is due
        (0, 1, EMPTY_ROOT, r1, [EMPTY_ROOT]),
        (1, 1, r1, r1, [EMPTY_ROOT]),
        (1, 1, b"short", b"short", []),
        (-1, 1, EMPTY_ROOT, r1, []),
    ]
    for args in bad:
        with pytest.raises(ProofError):
            verify_consistency(*args)


def test_proof_generation_rejects_bad_parameters() -> None:
    for index, size in [(0, 0), (1, 1), (8, 8), (-1, 3), (0, 9)]:
        with pytest.raises(ProofError):
            inclusion_proof(LEAF_HASHES, index, size)
    for first, second in [(5, 4), (1, 9), (-1, 3)]:
        with pytest.raises(ProofError):
            consistency_proof(LEAF_HASHES, first, second)
    assert consistency_proof(LEAF_HASHES, 0, 8) == []
    assert consistency_proof(LEAF_HASHES, 8, 8) == []
    assert issubclass(ProofError, ValueError)


def test_compact_range_state_validation() -> None:
    rng = CompactRange.from_leaf_hashes(LEAF_HASHES[:7])
    size, hashes = rng.state()
    assert CompactRange.from_state(size, hashes) == rng
    assert rng.copy() == rng and rng.copy() is not rng
    with pytest.raises(ProofError):
        CompactRange.from_state(7, hashes[:2])  # 7 = 4 + 2 + 1 needs three hashes
    with pytest.raises(ProofError):
        CompactRange.from_state(8, hashes)
    with pytest.raises(ProofError):
        CompactRange.from_state(7, [*hashes[:2], b"short"])
    with pytest.raises(ProofError):
        CompactRange.from_state(-1, [])
    with pytest.raises(ProofError):
        rng.append(b"not a hash")
    assert CompactRange().root() == EMPTY_ROOT
    assert CompactRange.from_state(0, []).size == 0


# --------------------------------------------------------------------------- reference (c)
# Written from RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, independently of audit.merkle.


def ref_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


def make_leaves(seed: int, n: int) -> list[bytes]:
    return [seed.to_bytes(4, "big") + i.to_bytes(4, "big") for i in range(n)]


def test_reference_matches_published_vectors() -> None:
    for size in range(9):
        assert ref_mth(LEAF_INPUTS[:size]) == ROOTS[size]
    for leaf, size, proof in INCLUSION_VECTORS:
        assert ref_path(leaf - 1, LEAF_INPUTS[:size]) == proof
    for size1, size2, proof in CONSISTENCY_VECTORS:
        if size1 < size2:
            assert ref_proof(size1, LEAF_INPUTS[:size2]) == proof


def test_exhaustive_small_trees() -> None:
    data = make_leaves(7, 33)
    hashes = [leaf_hash(x) for x in data]
    roots = [ref_mth(data[:n]) for n in range(len(data) + 1)]
    rng = CompactRange()
    for n in range(1, len(data) + 1):
        rng.append(hashes[n - 1])
        assert rng.root() == roots[n] == root_from_leaf_hashes(hashes[:n])
        for m in range(n):
            proof = inclusion_proof(hashes, m, n)
            assert proof == ref_path(m, data[:n])
            verify_inclusion(hashes[m], m, n, proof, roots[n])
        for m in range(1, n + 1):
            cproof = consistency_proof(hashes, m, n)
            assert cproof == (ref_proof(m, data[:n]) if m < n else [])
            verify_consistency(m, n, roots[m], roots[n], cproof)


sizes = st.integers(min_value=1, max_value=300)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=sizes, data=st.data())
def test_property_roots_and_inclusion(seed: int, n: int, data: st.DataObject) -> None:
    leaves = make_leaves(seed, n)
    hashes = [leaf_hash(x) for x in leaves]
    root = ref_mth(leaves)
    assert root_from_leaf_hashes(hashes) == root
    m = data.draw(st.integers(0, n - 1), label="index")
    proof = inclusion_proof(hashes, m, n)
    assert proof == ref_path(m, leaves)
    verify_inclusion(hashes[m], m, n, proof, root)
    # Any single bit flipped anywhere in the proof breaks it.
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="element")
        bit = data.draw(st.integers(0, 255), label="bit")
        bad = list(proof)
        bad[i] = _flip(bad[i], bit // 8, 1 << (bit % 8))
        with pytest.raises(ProofError):
            verify_inclusion(hashes[m], m, n, bad, root)
    # A proof for one index never verifies another leaf at another index.
    other = data.draw(st.integers(0, n - 1), label="other")
    if other != m:
        with pytest.raises(ProofError):
            verify_inclusion(hashes[other], other, n, proof, root)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=sizes, data=st.data())
def test_property_consistency(seed: int, n: int, data: st.DataObject) -> None:
    leaves = make_leaves(seed, n)
    hashes = [leaf_hash(x) for x in leaves]
    m = data.draw(st.integers(1, n), label="first")
    root1, root2 = ref_mth(leaves[:m]), ref_mth(leaves)
    proof = consistency_proof(hashes, m, n)
    assert proof == (ref_proof(m, leaves) if m < n else [])
    verify_consistency(m, n, root1, root2, proof)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="element")
        bit = data.draw(st.integers(0, 255), label="bit")
        bad = list(proof)
        bad[i] = _flip(bad[i], bit // 8, 1 << (bit % 8))
        with pytest.raises(ProofError):
            verify_consistency(m, n, root1, root2, bad)
        with pytest.raises(ProofError):
            verify_consistency(m, n, root1, root2, proof[:-1])
        with pytest.raises(ProofError):
            verify_consistency(m, n, root1, root2, [*proof, proof[-1]])
    # A changed leaf inside the first tree is detected.
    j = data.draw(st.integers(0, m - 1), label="changed")
    forged = list(leaves)
    forged[j] = b"forged" + forged[j]
    if m < n:
        with pytest.raises(ProofError):
            verify_consistency(m, n, ref_mth(forged[:m]), root2, proof)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=sizes,
    cut=st.integers(0, 300),
)
def test_property_frontier(seed: int, n: int, cut: int) -> None:
    leaves = make_leaves(seed, n)
    hashes = [leaf_hash(x) for x in leaves]
    cut = min(cut, n)
    # Append up to ``cut``, persist, restore, and carry on: same roots as the reference.
    rng = CompactRange.from_leaf_hashes(hashes[:cut])
    assert rng.root() == ref_mth(leaves[:cut])
    size, saved = rng.state()
    assert size == cut and len(saved) == bin(cut).count("1")
    resumed = CompactRange.from_state(size, saved)
    for i in range(cut, n):
        resumed.append(hashes[i])
    assert resumed.size == n
    assert resumed.root() == ref_mth(leaves) == root_from_leaf_hashes(hashes)
    assert resumed == frontier_at(hashes, n)
