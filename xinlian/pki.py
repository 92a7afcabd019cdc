"""The gateway's certificate authority and node certificates.

Every node certificate carries the node's identity in a SAN URI of the form
``urn:xinlian:node:<kind>:<region>:<node_id>``; the edge checks it against the registry
on every call. Keys for TLS are ECDSA P-256. Private keys are written with mode 0600 and
are never logged or put into error messages.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from xinlian.errors import InvalidArgument

CA_LIFETIME = timedelta(days=3650)
SERVER_CERT_LIFETIME = timedelta(days=825)
NODE_CERT_LIFETIME = timedelta(days=90)
RENEWAL_WINDOW = timedelta(days=30)
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)
MAX_CSR_PEM_BYTES = 8192

NODE_KINDS = ("city_platform", "department", "institution", "officer", "admin", "gateway")
NODE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
REGION_RE = re.compile(r"^[0-9]{6}$")
_URI_PREFIX = "urn:xinlian:node:"


@dataclass(frozen=True)
class NodeIdentity:
    node_id: str
    kind: str
    region: str

    def uri(self) -> str:
        return f"{_URI_PREFIX}{self.kind}:{self.region}:{self.node_id}"


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_to_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def write_secret(path: Path, data: bytes) -> None:
    """Write a secret file readable only by its owner (mode 0600), never wider."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PRIVATE_UMASK = 0o077
"""The process umask of every command that writes a gateway home or a node identity:
what it creates later (the SQLite -wal and -shm files) is private too."""


def make_private(root: Path) -> None:
    """``root`` and every directory under it mode 0700, every file 0600, whatever the
    umask they were made under (a gateway home, a node identity directory)."""
    if not root.exists():
        return
    root.chmod(PRIVATE_DIR_MODE)
    for path in root.rglob("*"):
        if path.is_symlink():
            continue
        path.chmod(PRIVATE_DIR_MODE if path.is_dir() else PRIVATE_FILE_MODE)


def write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def server_cert_hosts(cert: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses a server certificate names, in its order."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(name.value) for name in names if isinstance(name, x509.DNSName | x509.IPAddress)]


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: expected an ECDSA P-256 private key")
    return key


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "XinLian"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_ca(
    common_name: str, now: datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = new_private_key()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW_ALLOWANCE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf_builder(
    ca_cert: x509.Certificate,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    not_before: datetime,
    not_after: datetime,
    usage: x509.ObjectIdentifier,
) -> x509.CertificateBuilder:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
    )


def issue_server_cert(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    hosts: list[str],
    now: datetime,
    lifetime: timedelta = SERVER_CERT_LIFETIME,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = new_private_key()
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        _leaf_builder(
            ca_cert,
            _name("xinlian-gateway"),
            key.public_key(),
            now - CLOCK_SKEW_ALLOWANCE,
            now + lifetime,
            ExtendedKeyUsageOID.SERVER_AUTH,
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def make_csr(key: ec.EllipticCurvePrivateKey, node_id: str) -> bytes:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(node_id))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def parse_csr(pem: str) -> x509.CertificateSigningRequest:
    """Parse and check a CSR: (1) size limit, (2) PEM syntax, (3) self-signature,
    (4) key type ECDSA P-256 only."""
    # (1)
    if not pem or len(pem.encode()) > MAX_CSR_PEM_BYTES:
        raise InvalidArgument.field(
            "csr_pem", f"{len(pem.encode())} bytes", "a PEM CSR ≤ 8192 bytes"
        )
    # (2)
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError:
        raise InvalidArgument.field("csr_pem", "unparseable", "a PEM PKCS#10 CSR") from None
    # (3)
    if not csr.is_signature_valid:
        raise InvalidArgument.field("csr_pem", "bad self-signature", "a CSR signed by its key")
    # (4)
    key = csr.public_key()
    if not (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)):
        raise InvalidArgument.field("csr_pem", type(key).__name__, "an ECDSA P-256 key")
    return csr


def issue_node_cert(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    csr: x509.CertificateSigningRequest,
    identity: NodeIdentity,
    now: datetime,
    lifetime: timedelta = NODE_CERT_LIFETIME,
) -> x509.Certificate:
    public_key = csr.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)  # checked by parse_csr
    return (
        _leaf_builder(
            ca_cert,
            _name(identity.node_id),
            public_key,
            now - CLOCK_SKEW_ALLOWANCE,
            now + lifetime,
            ExtendedKeyUsageOID.CLIENT_AUTH,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity.uri())]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def identity_from_cert(cert: x509.Certificate) -> NodeIdentity | None:
    """The node identity in a certificate's SAN URI, or None if it carries none."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if not uri.startswith(_URI_PREFIX):
            continue
        parts = uri[len(_URI_PREFIX) :].split(":")
        if len(parts) != 3:
            return None
        kind, region, node_id = parts
        if kind in NODE_KINDS and REGION_RE.match(region) and NODE_ID_RE.match(node_id):
            return NodeIdentity(node_id=node_id, kind=kind, region=region)
    return None
