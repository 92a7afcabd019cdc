"""Verification of the whole ledger and of the stored provenance, from the database.

What ``xinlian audit verify --home DIR`` runs. All reads happen in one snapshot (SQLite:
one read transaction; PostgreSQL: REPEATABLE READ), so a gateway may keep writing.

Steps, numbered as in the code:

1. recompute each leaf hash from its stored body (pruned bodies are skipped, their
   stored leaf hash is still used) and make sure that the indexed columns (action,
   actor, outcome, trace id, credit code, subject, time) say what the body says. On
   SQLite the engine generates them from the body (``gateway.store.ledger_ddl``), so
   they cannot differ: the table's stored definition is compared with the expected one
   instead, and if it differs (say the table was rebuilt with stored columns to edit
   them) that is reported (``SCHEMA_CHANGED``) and every row's columns are checked in
   Python. On PostgreSQL they are stored: checked row by row in SQL, the rows it flags
   re-checked in Python. Not checkable: a pruned row's columns (SQLite: its
   ``summary``), its body being gone; and, on SQLite, a table definition rewritten in
   ``sqlite_master`` (``writable_schema``) so that it no longer describes how the rows
   are stored, which corrupts the file (``PRAGMA integrity_check`` finds it);
2. recompute the root at every stored checkpoint's size and at the head, and compare
   with each checkpoint and with the sequencer row ``ledger_head`` (size and frontier);
   every stored tile must hold exactly the hashes of the recomputed tree
   (``gateway.verify.tiles``: a differing tile is named by its position);
3. check each checkpoint's signature with the verifier key (and its origin), and the
   consistency proof between consecutive checkpoints;
4. check indices are gapless ``0..size-1`` (a deleted, reordered or inserted row);
5. check each batch's signature with the public key of the signer certificate (which
   must belong to the pushing node), and that every stored record row, fields included,
   is one the agent signed in that batch's canonical bytes (records that retention
   deleted, expired negative credit information, may be missing: ``Retention``). A
   batch whose signed bytes retention erased (``gateway.store.erasure``) has instead:
   (a) its ``batch_erasures`` row (else ``BATCH_BYTES_MISSING``) and a signer
   certificate of the pushing node; (b) a ``retention.erased`` entry at the erasure's
   ledger index saying this batch, the erased bytes' SHA-256 and the SHA-256 of the
   erasure's ``kept`` list (else ``ERASURE_MISMATCH``; retention never prunes the body
   of such an entry, so a missing body is a mismatch too); (c) every stored record row
   in ``kept`` with the same record digest, and every kept record stored unless
   retention may have deleted it since;
6. check each ``push.batch`` entry against its batch row.

The result is a ``VerifyReport``: every problem found (up to ``MAX_PROBLEMS``), and the
first bad ledger index. An entry whose body does not hash to its stored leaf hash is
named (``LEAF_MISMATCH``); if only its stored leaf hash was changed, the roots it breaks
are reproduced with its body's hash instead, and that entry is named for them too. An
alteration that keeps every leaf hash consistent with its body (a body rewritten with
its leaf hash, rows swapped or renumbered) shows only as a root that no longer matches:
it is reported as an interval, ``[a, b)`` between the largest checkpoint size whose
root still matches and the smallest whose root does not (``ROOT_MISMATCH`` with
``first_index``/``last_index``), the first bad index being ``a``. Entries after the
largest signed checkpoint are covered by nothing signed: they are reported as
``UNCOVERED_TAIL``, a notice unless ``require_covered`` makes it a problem.

The package: ``report`` (what is found), ``ledger`` (the steps in one snapshot, and
(2) + (3)), ``columns`` (1), ``scan`` and ``worker`` (the leaf scan of (1) + (4)),
``batches`` (5), ``push_entries`` (6), ``tiles`` (the stored tiles, in 2).
"""

from gateway.verify.batches import check_stored_batch
from gateway.verify.ledger import verify_connection, verify_store
from gateway.verify.push_entries import stored_bytes
from gateway.verify.report import MAX_PROBLEMS, EntryBodies, Problem, Retention, VerifyReport

__all__ = [
    "MAX_PROBLEMS",
    "EntryBodies",
    "Problem",
    "Retention",
    "VerifyReport",
    "check_stored_batch",
    "stored_bytes",
    "verify_connection",
    "verify_store",
]
