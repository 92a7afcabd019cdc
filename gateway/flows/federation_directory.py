"""The federation directory (like X-Road's global configuration): the top gateway's signed
list of the member gateways, and the routing rule that reads it.

The directory is a C2SP signed note whose body is one line of canonical JSON:

    {"v":1,"type":"xinlian-federation-directory","top":"gw-100000","serial":N,
     "issued_at_us":T,"catalog_version":"…","signer_keys":["<verifier key>",…],
     "members":[{"gateway_id","region","region_prefix","endpoint","tls_server_name",
                 "ca_pem","verifier_key","origin","catalog_version","upstream","state"},…]}

Steps when a member accepts a directory (``accept``):

    (1) the note verifies with a pinned directory key (``verify_note``: every known key
        that signed must verify, at least one must have signed);
    (2) the body is a directory of this federation (type, version, top);
    (3) its serial is not older than the copy held (no rollback to an old member list);
    (4) the keys it lists become the pinned keys (rotation: the top signs with the old and
        the new key while both are listed, then with the new one only).

Routing (``route``): the division code of a credit code is its positions 3-8; national
registrations (division 100000) belong to the top gateway; otherwise the member whose
region prefix is the longest prefix of the division code is the enterprise's home.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from audit.checkpoint import NoteSigner, NoteVerifier, verify_note
from gateway.store.federation_store import MEMBER_COLUMNS
from xinlian.errors import FailedPrecondition, InvalidArgument
from xinlian.signing import canonical_json

DIRECTORY_TYPE = "xinlian-federation-directory"
DIRECTORY_VERSION = 1
NATIONAL_REGION = "100000"
STALE_DIRECTORY = "STALE_DIRECTORY"
NOT_THIS_FEDERATION = "NOT_THIS_FEDERATION"

# the member columns of the store, and the prefix derived from the region
_MEMBER_KEYS = (*MEMBER_COLUMNS, "region_prefix")


def region_prefix(region: str) -> str:
    """The prefix of the division codes a gateway of ``region`` is home for: 610000 → 61,
    610100 → 6101; the national region 100000 stands for itself only."""
    if region == NATIONAL_REGION:
        return region
    prefix = region
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return prefix


def division_code(credit_code: str) -> str:
    """Positions 3-8 of a unified social credit code: the registering authority's division."""
    return credit_code[2:8]


@dataclass(frozen=True)
class Member:
    gateway_id: str
    region: str
    endpoint: str
    tls_server_name: str
    ca_pem: str
    verifier_key: str
    origin: str
    catalog_version: str = ""
    upstream: str = ""
    state: str = "admitted"

    @property
    def region_prefix(self) -> str:
        return region_prefix(self.region)

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway_id": self.gateway_id,
            "region": self.region,
            "region_prefix": self.region_prefix,
            "endpoint": self.endpoint,
            "tls_server_name": self.tls_server_name,
            "ca_pem": self.ca_pem,
            "verifier_key": self.verifier_key,
            "origin": self.origin,
            "catalog_version": self.catalog_version,
            "upstream": self.upstream,
            "state": self.state,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Member:
        if not isinstance(obj, dict) or set(obj) != set(_MEMBER_KEYS):
            raise InvalidArgument.field("directory.members", "an entry", "the member keys")
        if not all(isinstance(obj[k], str) for k in _MEMBER_KEYS):
            raise InvalidArgument.field("directory.members", "an entry", "text values")
        member = cls(**{k: obj[k] for k in _MEMBER_KEYS if k != "region_prefix"})
        if obj["region_prefix"] != member.region_prefix:
            raise InvalidArgument.field(
                "directory.members.region_prefix", obj["region_prefix"], member.region_prefix
            )
        return member


@dataclass(frozen=True)
class Directory:
    top: str
    serial: int
    issued_at_us: int
    catalog_version: str
    signer_keys: tuple[str, ...]
    members: tuple[Member, ...]
    note: str = ""  # the signed note it was read from (or signed into)

    def body(self) -> bytes:
        obj = {
            "v": DIRECTORY_VERSION,
            "type": DIRECTORY_TYPE,
            "top": self.top,
            "serial": self.serial,
            "issued_at_us": self.issued_at_us,
            "catalog_version": self.catalog_version,
            "signer_keys": list(self.signer_keys),
            "members": [m.to_json() for m in self.members],
        }
        return canonical_json(obj) + b"\n"

    def member(self, gateway_id: str) -> Member | None:
        return next((m for m in self.members if m.gateway_id == gateway_id), None)

    def active(self) -> list[Member]:
        return [m for m in self.members if m.state == "admitted"]

    def home_of(self, credit_code: str) -> Member | None:
        """The routing rule: the member that is home for this enterprise, if any (a
        suspended one too: a query for its enterprises is refused, not answered
        elsewhere; an exited one is no one's home)."""
        division = division_code(credit_code)
        best: Member | None = None
        for member in self.members:
            if member.state == "exited":
                continue
            prefix = member.region_prefix
            if prefix == NATIONAL_REGION:
                if division == NATIONAL_REGION:
                    return member
                continue
            if division.startswith(prefix) and (
                best is None or len(prefix) > len(best.region_prefix)
            ):
                best = member
        return best

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.body())
        return out


def sign_directory(directory: Directory, signers: Sequence[NoteSigner]) -> Directory:
    """The directory as a signed note, one signature line per signer key."""
    body = directory.body()
    lines = "".join(signer.signature_line(body) for signer in signers)
    note = body.decode() + "\n" + lines
    return Directory(**{**directory.__dict__, "note": note})


def parse_body(body: bytes) -> Directory:
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument.field("directory", "the note body", "canonical JSON") from None
    if not isinstance(obj, dict) or obj.get("type") != DIRECTORY_TYPE:
        raise InvalidArgument.field("directory.type", obj.get("type"), DIRECTORY_TYPE)
    if obj.get("v") != DIRECTORY_VERSION:
        raise InvalidArgument.field("directory.v", obj.get("v"), str(DIRECTORY_VERSION))
    if canonical_json(obj) + b"\n" != body:
        raise InvalidArgument.field("directory", "the note body", "canonical JSON")
    keys = obj.get("signer_keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise InvalidArgument.field("directory.signer_keys", keys, "verifier keys")
    return Directory(
        top=str(obj["top"]),
        serial=int(obj["serial"]),
        issued_at_us=int(obj["issued_at_us"]),
        catalog_version=str(obj["catalog_version"]),
        signer_keys=tuple(keys),
        members=tuple(Member.from_json(m) for m in obj.get("members", [])),
    )


def verifiers(keys: Iterable[str]) -> list[NoteVerifier]:
    return [NoteVerifier.from_key_string(k) for k in keys]


def accept(note: str, pinned: Sequence[str], held: Directory | None) -> Directory:
    """Steps (1)-(4) of the module docstring; returns the directory to keep."""
    # (1) the signature of a pinned key
    body = verify_note(note, verifiers(pinned))
    # (2) a directory of this federation
    directory = parse_body(body)
    if held is not None and directory.top != held.top:
        raise FailedPrecondition(
            f"directory of {directory.top}, not of {held.top}", reason=NOT_THIS_FEDERATION
        )
    # (3) no rollback
    if held is not None and directory.serial < held.serial:
        raise FailedPrecondition(
            f"directory serial {directory.serial} is older than {held.serial}",
            reason=STALE_DIRECTORY,
        )
    # (4) the keys it lists are pinned next (checked to parse)
    verifiers(directory.signer_keys)
    return Directory(**{**directory.__dict__, "note": note})
