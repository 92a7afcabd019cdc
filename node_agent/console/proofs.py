"""The verify page's checks, made by the console with the project's verifier
(:mod:`audit.checkpoint`, :mod:`audit.merkle`) on what the gateway sends.

1. The latest checkpoint's signature is checked against the verifier key the console
   trusts: the one given at start (``--verifier-key``), else the first one the gateway
   sent in this run (pinned from then on).
2. Each earlier checkpoint this console saw in this run is proved a prefix of the latest
   (a consistency proof per size).
3. An entry's inclusion in the latest tree is proved; its leaf hash is the one the
   console computed from the entry's bytes when it was shown the entry, else the
   gateway's (said so on the page).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from audit.checkpoint import Checkpoint, NoteVerifier, open_note
from audit.merkle import ProofError, verify_consistency, verify_inclusion
from node_agent.console.calls import GatewayCalls, Refused
from xinlian.errors import XinLianError

MAX_CHECKPOINTS_KEPT = 20
"""Distinct checkpoints remembered for the consistency checks."""


@dataclass
class Check:
    what: str
    ok: bool
    detail: str
    proof: list[str] = field(default_factory=list)


@dataclass
class Report:
    verifier_key: str
    checkpoint: Checkpoint | None
    note: str
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


class CheckpointWatch:
    """The trusted verifier key and the checkpoints seen, for one console process."""

    def __init__(self, verifier_key: str = "") -> None:
        self.verifier_key = verifier_key
        self.seen: list[Checkpoint] = []
        self._lock = threading.Lock()

    def prime(self, calls: GatewayCalls) -> None:
        """At start: the gateway's latest checkpoint, once checked, is the first one seen
        (so the verify page proves every later one consistent with it); a gateway not
        reachable now is asked again by the verify page."""
        with contextlib.suppress(Refused):
            self.check(calls, None)

    def check(self, calls: GatewayCalls, index: int | None) -> Report:
        response = calls.checkpoint()
        with self._lock:
            if not self.verifier_key:
                self.verifier_key = response.verifier_key
            key = self.verifier_key
        checks: list[Check] = []
        # (1) the signature
        try:
            latest = open_note(response.checkpoint, NoteVerifier.from_key_string(key))
        except XinLianError as error:
            checks.append(Check("检查点签名", False, str(error)))
            return Report(key, None, response.checkpoint, checks)
        checks.append(Check("检查点签名", True, f"{latest.origin} 大小 {latest.size}"))
        with self._lock:
            earlier = [c for c in self.seen if c.size < latest.size]
            if all(c != latest for c in self.seen):
                self.seen.append(latest)
                del self.seen[:-MAX_CHECKPOINTS_KEPT]
        # (2) consistency with each earlier checkpoint
        for old in earlier:
            proof = calls.consistency(old.size, latest.size)
            checks.append(
                _proved(
                    f"一致性证明 {old.size} → {latest.size}",
                    proof,
                    verify_consistency,
                    old.size,
                    latest.size,
                    old.root_hash,
                    latest.root_hash,
                    proof,
                )
            )
        # (3) inclusion of one entry
        if latest.size:
            at = latest.size - 1 if index is None else index
            answer = calls.inclusion(at, latest.size)
            proof = [bytes(p) for p in answer.proof]
            mine = calls.leaves.get(at)
            leaf = mine if mine is not None else bytes(answer.leaf_hash)
            source = "控制台自算叶哈希" if mine is not None else "叶哈希取自网关"
            checks.append(
                _proved(
                    f"包含证明 条目 {at} ⊂ 大小 {latest.size}（{source}）",
                    proof,
                    verify_inclusion,
                    leaf,
                    at,
                    latest.size,
                    proof,
                    latest.root_hash,
                )
            )
        return Report(key, latest, response.checkpoint, checks)


def _proved(what: str, proof: list[bytes], verify: Callable[..., None], *args: Any) -> Check:
    """``verify(*args)``, a verifier of :mod:`audit.merkle`, as a check of ``proof``."""
    try:
        verify(*args)
    except ProofError as error:
        return Check(what, False, str(error), _hexes(proof))
    return Check(what, True, f"{len(proof)} 个哈希，已验证", _hexes(proof))
