"""Applying for access and enrolling: the node makes its key locally and sends only a CSR."""

from __future__ import annotations

import json
import os
from pathlib import Path

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from xinlian.identity import CHANNEL_OPTIONS, Identity, NodeIdentityFiles
from xinlian.pki import make_private
from xinlian.v1 import registry_pb2, registry_pb2_grpc
from xinlian.wire import KIND_FROM_WIRE, KIND_TO_WIRE


def _bootstrap_stub(
    gateway: str, ca_pem: bytes
) -> tuple[grpc.Channel, registry_pb2_grpc.RegistryServiceStub]:
    channel = grpc.secure_channel(
        gateway, grpc.ssl_channel_credentials(root_certificates=ca_pem), options=CHANNEL_OPTIONS
    )
    return channel, registry_pb2_grpc.RegistryServiceStub(channel)


def apply(
    gateway: str,
    ca_pem: bytes,
    *,
    name: str,
    kind: str,
    region: str,
    categories: list[str] | None = None,
    contact: str = "",
    requested_id: str = "",
) -> registry_pb2.ApplyResponse:
    channel, stub = _bootstrap_stub(gateway, ca_pem)
    with channel:
        response: registry_pb2.ApplyResponse = stub.Apply(
            registry_pb2.ApplyRequest(
                name=name,
                kind=KIND_TO_WIRE[kind],
                region=region,
                categories=categories or [],
                contact=contact,
                requested_id=requested_id,
            ),
            timeout=30,
        )
        return response


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_key_and_csr(node_hint: str) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_hint)]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def enroll(gateway: str, token: str, ca_pem: bytes, out: Path, server_name: str = "") -> Identity:
    """(1) make a key locally, (2) send a CSR with the token, (3) store the certificate
    (the directory mode 0700, every file in it 0600, whatever the umask)."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = NodeIdentityFiles(out)
    if files.meta.exists():
        raise FileExistsError(f"{out} already holds an identity")
    # (1)
    key_pem, csr_pem = _new_key_and_csr("xinlian-node")
    # (2)
    channel, stub = _bootstrap_stub(gateway, ca_pem)
    with channel:
        response = stub.Enroll(
            registry_pb2.EnrollRequest(token=token, csr_pem=csr_pem.decode()), timeout=30
        )
    # (3)
    _write_secret(files.key, key_pem)
    files.cert.write_text(response.certificate_pem)
    files.ca.write_text(response.ca_certificate_pem)
    files.meta.write_text(
        json.dumps(
            {
                "node_id": response.node.node_id,
                "kind": KIND_FROM_WIRE[response.node.kind],
                "region": response.node.region,
                "gateway": response.gateway_address,
                "server_name": server_name or response.tls_server_name,
            },
            indent=2,
        )
    )
    make_private(out)
    return Identity.load(out)


def renew(identity: Identity) -> str:
    """Renew the certificate with a fresh key; returns the new not-after time (ISO)."""
    key_pem, csr_pem = _new_key_and_csr(identity.node_id)
    with identity.channel() as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        response = stub.RenewCertificate(
            registry_pb2.RenewCertificateRequest(csr_pem=csr_pem.decode()), timeout=30
        )
    # Write both new files beside the old ones, then swap them in by rename, so a crash
    # leaves either the old pair or the new pair (the old certificate stays valid).
    key_tmp = identity.files.key.with_suffix(".key.new")
    cert_tmp = identity.files.cert.with_suffix(".pem.new")
    _write_secret(key_tmp, key_pem)
    cert_tmp.write_text(response.certificate_pem)
    os.replace(key_tmp, identity.files.key)
    os.replace(cert_tmp, identity.files.cert)
    make_private(identity.files.root)
    return str(response.not_after.ToDatetime().isoformat()) + "Z"
