"""A node's identity on disk and the mTLS channel made from it.

Layout of an identity directory (``xinlian node enroll --out DIR``):

    identity.json   node id, kind, region, gateway address (no secrets)
    node.key        the node's private key, mode 0600; made here, never sent anywhere
    node.pem        the certificate the gateway CA issued
    ca.pem          the gateway CA certificate
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import grpc

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]


@dataclass(frozen=True)
class NodeIdentityFiles:
    root: Path

    @property
    def key(self) -> Path:
        return self.root / "node.key"

    @property
    def cert(self) -> Path:
        return self.root / "node.pem"

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    @property
    def meta(self) -> Path:
        return self.root / "identity.json"


@dataclass(frozen=True)
class Identity:
    files: NodeIdentityFiles
    node_id: str
    kind: str
    region: str
    gateway: str
    server_name: str = ""

    @classmethod
    def load(cls, root: Path, *, gateway: str | None = None) -> Identity:
        files = NodeIdentityFiles(root)
        if not files.meta.exists():
            raise FileNotFoundError(f"{files.meta} not found: enroll with `xinlian node enroll`")
        meta = json.loads(files.meta.read_text(encoding="utf-8"))
        return cls(
            files=files,
            node_id=meta["node_id"],
            kind=meta["kind"],
            region=meta["region"],
            gateway=gateway or meta["gateway"],
            server_name=meta.get("server_name", ""),
        )

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.files.ca.read_bytes(),
            private_key=self.files.key.read_bytes(),
            certificate_chain=self.files.cert.read_bytes(),
        )

    def channel(self) -> grpc.Channel:
        return grpc.secure_channel(self.gateway, self.credentials(), options=self.channel_options())

    def aio_channel(self) -> grpc.aio.Channel:
        return grpc.aio.secure_channel(
            self.gateway, self.credentials(), options=self.channel_options()
        )

    def channel_options(self) -> list[tuple[str, object]]:
        """The channel options every connection of this node uses (message limits, TLS
        name override); callers may append their own."""
        options: list[tuple[str, object]] = list(CHANNEL_OPTIONS)
        if self.server_name:
            options.append(("grpc.ssl_target_name_override", self.server_name))
        return options
