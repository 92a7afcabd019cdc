"""The ``witness_peers`` entries of the gateway configuration (``gateway.host.config``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from audit.checkpoint import NoteVerifier
from xinlian.errors import InvalidArgument


def _is_host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit() and int(port) < 65536


class WitnessPeerConfig(BaseModel):
    """One linked gateway this gateway witnesses, and whose cosignatures it accepts
    (docs/witness.md). Until the federation directory feeds them, peers are listed here;
    ``gateway.flows.witness_peers.configured_peers`` is the one place that reads them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gateway_id: str = Field(min_length=1, max_length=64)
    """The peer's gateway node id (its node id here, and this gateway's hop peer name)."""
    origin: str = Field(min_length=1, max_length=256)
    """The origin line of the peer's checkpoints."""
    verifier_key: str = Field(min_length=1, max_length=400)
    """The peer's ledger verifier key (C2SP note verifier string)."""
    endpoint: str = ""
    """HOST:PORT of the peer's mTLS listener; "" for a peer that is not polled."""
    ca_cert: str = ""
    """The peer's CA certificate (PEM file; relative: under HOME)."""
    identity: str = ""
    """This gateway's identity directory at the peer (a node of kind gateway there)."""
    server_name: str = ""
    """TLS server name to check the peer's certificate against ("": the endpoint's host)."""

    @field_validator("verifier_key")
    @classmethod
    def _verifier_key(cls, value: str) -> str:
        try:
            NoteVerifier.from_key_string(value)
        except InvalidArgument:
            raise ValueError("a note verifier key <name>+<hex8>+<base64 key>") from None
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if value and not _is_host_port(value):
            raise ValueError('HOST:PORT, or "" for a peer not polled')
        return value
