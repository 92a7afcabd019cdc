from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitCosignatureRequest(_message.Message):
    __slots__ = ("tree_size", "cosignature")
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    COSIGNATURE_FIELD_NUMBER: _ClassVar[int]
    tree_size: int
    cosignature: str
    def __init__(self, tree_size: _Optional[int] = ..., cosignature: _Optional[str] = ...) -> None: ...

class SubmitCosignatureResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCosignedCheckpointRequest(_message.Message):
    __slots__ = ("tree_size",)
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    tree_size: int
    def __init__(self, tree_size: _Optional[int] = ...) -> None: ...

class GetCosignedCheckpointResponse(_message.Message):
    __slots__ = ("checkpoint", "tree_size", "witnesses")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    WITNESSES_FIELD_NUMBER: _ClassVar[int]
    checkpoint: str
    tree_size: int
    witnesses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, checkpoint: _Optional[str] = ..., tree_size: _Optional[int] = ..., witnesses: _Optional[_Iterable[str]] = ...) -> None: ...

class GetWitnessedRequest(_message.Message):
    __slots__ = ("origin",)
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    origin: str
    def __init__(self, origin: _Optional[str] = ...) -> None: ...

class GetWitnessedResponse(_message.Message):
    __slots__ = ("checkpoint",)
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    checkpoint: str
    def __init__(self, checkpoint: _Optional[str] = ...) -> None: ...

class GetHopEntryRequest(_message.Message):
    __slots__ = ("index", "trace_id")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    index: int
    trace_id: str
    def __init__(self, index: _Optional[int] = ..., trace_id: _Optional[str] = ...) -> None: ...

class GetHopEntryResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: bytes
    def __init__(self, entry: _Optional[bytes] = ...) -> None: ...

class TraceHopsRequest(_message.Message):
    __slots__ = ("trace_id",)
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    def __init__(self, trace_id: _Optional[str] = ...) -> None: ...

class HopProof(_message.Message):
    __slots__ = ("peer", "peer_index", "direction", "status", "message", "peer_entry", "peer_leaf_hash", "peer_tree_size", "proof", "peer_checkpoint", "peer_verifier_key")
    PEER_FIELD_NUMBER: _ClassVar[int]
    PEER_INDEX_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PEER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    PEER_LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    PEER_TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    PEER_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    PEER_VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    peer: str
    peer_index: int
    direction: str
    status: str
    message: str
    peer_entry: bytes
    peer_leaf_hash: bytes
    peer_tree_size: int
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    peer_checkpoint: str
    peer_verifier_key: str
    def __init__(self, peer: _Optional[str] = ..., peer_index: _Optional[int] = ..., direction: _Optional[str] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., peer_entry: _Optional[bytes] = ..., peer_leaf_hash: _Optional[bytes] = ..., peer_tree_size: _Optional[int] = ..., proof: _Optional[_Iterable[bytes]] = ..., peer_checkpoint: _Optional[str] = ..., peer_verifier_key: _Optional[str] = ...) -> None: ...

class TracedEntry(_message.Message):
    __slots__ = ("index", "entry", "leaf_hash", "action", "actor", "hop")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    HOP_FIELD_NUMBER: _ClassVar[int]
    index: int
    entry: bytes
    leaf_hash: bytes
    action: str
    actor: str
    hop: HopProof
    def __init__(self, index: _Optional[int] = ..., entry: _Optional[bytes] = ..., leaf_hash: _Optional[bytes] = ..., action: _Optional[str] = ..., actor: _Optional[str] = ..., hop: _Optional[_Union[HopProof, _Mapping]] = ...) -> None: ...

class TraceHopsResponse(_message.Message):
    __slots__ = ("trace_id", "entries")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    entries: _containers.RepeatedCompositeFieldContainer[TracedEntry]
    def __init__(self, trace_id: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[TracedEntry, _Mapping]]] = ...) -> None: ...
