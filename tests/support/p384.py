"""A node certificate over a P-384 key: TLS and the edge accept it, but it cannot sign
push batches nor repair statements (gateway.flows.caller_key: BAD_KEY_TYPE)."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import insert

from gateway.store import schema
from gateway.store.timeutil import to_us
from support.harness import Gateway
from xinlian.identity import Identity
from xinlian.pki import (
    cert_to_pem,
    fingerprint,
    identity_from_cert,
    issue_node_cert,
    key_to_pem,
    load_cert,
    load_private_key,
    serial_hex,
)


def p384_credentials(gateway: Gateway, node: Identity) -> grpc.ChannelCredentials:
    """A certificate of ``node`` from the gateway CA over a P-384 key (enrollment only
    issues P-256 ones), known to the registry: TLS and the edge accept it."""
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node.node_id)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA384())
    identity = identity_from_cert(load_cert(node.files.cert))
    assert identity is not None
    ca_key, ca_cert = load_private_key(gateway.config.ca_key), load_cert(gateway.config.ca_cert)
    cert = issue_node_cert(ca_key, ca_cert, csr, identity, datetime.now(UTC))
    row = {
        "serial": serial_hex(cert),
        "node_id": node.node_id,
        "fingerprint": fingerprint(cert),
        "not_before_us": to_us(cert.not_valid_before_utc),
        "not_after_us": to_us(cert.not_valid_after_utc),
        "issued_at_us": to_us(datetime.now(UTC)),
        "pem": cert_to_pem(cert).decode(),
    }
    gateway.runtime.store.write(lambda conn: conn.execute(insert(schema.certificates), row))
    return grpc.ssl_channel_credentials(
        root_certificates=gateway.ca_pem,
        private_key=key_to_pem(key),
        certificate_chain=cert_to_pem(cert),
    )
