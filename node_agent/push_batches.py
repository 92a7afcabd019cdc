"""Cutting the push input into batches, and signing them.

Batches: consecutive records, at most ``batch_size`` of them, and a new batch begins
early when the signed bytes would exceed ``MAX_BATCH_BYTES`` (the gateway's message
limit less a margin). Boundaries depend only on the file, the catalog and the batch
size. A batch id is derived from the file's SHA-256, the category, the batch size and
the batch number, so a resumed run re-sends exactly the same batches under the same ids
(and the gateway answers a batch it already stored with duplicates).

Each batch is signed with the node key (``xinlian.batch.canonical_batch``); the request
carries the signed bytes themselves (``Batch.signed_content``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from google.protobuf.timestamp_pb2 import Timestamp

from node_agent.push_input import EPOCH, InputRecord
from xinlian import identity as identity_module
from xinlian import limits
from xinlian.batch import BatchRecord, canonical_batch
from xinlian.identity import Identity
from xinlian.signing import SignerKey, sign
from xinlian.v1 import exchange_pb2 as pb

DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = limits.MAX_BATCH_RECORDS  # the gateway refuses larger batches
MESSAGE_MARGIN_BYTES = 64 * 1024  # batch id, category, signature, protobuf framing
MAX_BATCH_BYTES = (
    min(limits.MAX_MESSAGE_BYTES, identity_module.MAX_MESSAGE_BYTES) - MESSAGE_MARGIN_BYTES
)


@dataclass
class PushBatch:
    number: int
    batch_id: str
    inputs: list[InputRecord]  # every record of the batch, sendable or not
    sent: list[InputRecord]  # the records in the request, in order
    request: pb.PushRequest | None  # None: nothing to send, finished locally


def batch_id_for(sha: str, category: str, batch_size: int, number: int) -> str:
    prefix = hashlib.sha256(f"{sha}:{category}:{batch_size}".encode()).hexdigest()[:32]
    return f"{prefix}-{number:06d}"


def cut_batches(
    records: Iterable[InputRecord], batch_size: int
) -> Iterator[tuple[int, list[InputRecord]]]:
    """The batches of ``records``, numbered from 0, in order: at most ``batch_size``
    records each, and not more than MAX_BATCH_BYTES of signed bytes. A batch is handed
    out once the record after it has been read (or the input ended)."""
    current: list[InputRecord] = []
    size = 0  # bytes of the current batch's sendable records (and their commas)
    number = 0
    for item in records:
        extra = item.size + 1 if item.record is not None else 0
        if current and (len(current) >= batch_size or size + extra > MAX_BATCH_BYTES):
            yield number, current
            number += 1
            current, size = [], 0
        current.append(item)
        size += extra
    if current:
        yield number, current


def load_signing_key(identity: Identity) -> SignerKey:
    key = serialization.load_pem_private_key(identity.files.key.read_bytes(), password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise ValueError(f"{identity.files.key}: expected an ECDSA P-256 or Ed25519 key")


class BatchSigner:
    """Signs batches of one node with its key and builds their requests."""

    def __init__(self, node_id: str, key: SignerKey) -> None:
        self.node_id = node_id
        self._key = key

    def sign(self, batch_id: str, category: str, records: list[BatchRecord]) -> bytes:
        data = canonical_batch(self.node_id, batch_id, category, records)
        return sign(self._key, data)

    def request(
        self,
        batch_id: str,
        category: str,
        records: list[BatchRecord],
        *,
        structured: bool = False,
    ) -> pb.PushRequest:
        """A signed request for these records (``Pusher.make_request``).

        By default the request carries the signed canonical bytes themselves
        (``Batch.signed_content``): the gateway verifies the signature over exactly
        those bytes and parses them with its C JSON decoder. ``structured=True`` sends
        the records as protobuf messages instead (the gateway rebuilds the bytes).
        """
        data = canonical_batch(self.node_id, batch_id, category, records)
        signature = sign(self._key, data)
        if structured:
            return pb.PushRequest(
                batch=pb.Batch(
                    batch_id=batch_id,
                    category=category,
                    records=[_to_pb(r) for r in records],
                    signature=signature,
                )
            )
        return pb.PushRequest(
            batch=pb.Batch(
                batch_id=batch_id, category=category, signed_content=data, signature=signature
            )
        )

    def batch(
        self, number: int, batch_id: str, category: str, inputs: list[InputRecord]
    ) -> PushBatch:
        """Batch ``number`` of these records: its sendable records in one signed request,
        or no request when every one of them was rejected locally."""
        sent = [item for item in inputs if item.record is not None]
        request = None
        if sent:
            request = self.request(
                batch_id, category, [item.record for item in sent if item.record is not None]
            )
        return PushBatch(number, batch_id, inputs, sent, request)


def _to_pb(record: BatchRecord) -> pb.Record:
    delta = record.event_time - EPOCH
    return pb.Record(
        credit_code=record.credit_code,
        record_id=record.record_id,
        version=record.version,
        event_time=Timestamp(
            seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000
        ),
        fields=dict(record.fields),
    )
