"""A department whose certificate key cannot sign batches (issue 11: push reads the key from
the ``Caller`` the edge authenticated): its push is refused ``BAD_KEY_TYPE`` and the refusal
is a ledger entry, like the other refusals of a known node."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import insert, select
from support.harness import Gateway
from test_push_grpc import count, push, tax_records

from gateway.store import schema
from gateway.store.timeutil import to_us
from node_agent.push import Pusher
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
from xinlian.v1 import exchange_pb2_grpc

pytestmark = pytest.mark.integration


def _p384_credentials(gateway: Gateway, node: Identity) -> grpc.ChannelCredentials:
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


def test_push_with_a_key_that_cannot_sign_batches_is_refused_and_recorded(
    gateway: Gateway,
) -> None:
    dept = gateway.enroll_node("department", "tax-p384", categories=("tax",))
    request = Pusher(dept).make_request("b-p384", "tax", tax_records())
    credentials = _p384_credentials(gateway, dept)
    channel = grpc.secure_channel(gateway.address, credentials, options=dept.channel_options())
    with channel, pytest.raises(grpc.RpcError) as err:
        list(exchange_pb2_grpc.ExchangeServiceStub(channel).Push(iter([request]), timeout=60))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert dict(err.value.trailing_metadata() or ()).get("xinlian-reason") == "BAD_KEY_TYPE"
    assert count(gateway, schema.batches) == 0
    t = schema.ledger_entries
    last = gateway.runtime.store.read(
        lambda conn: conn.execute(
            select(t.c.action, t.c.actor, t.c.outcome).order_by(t.c.idx.desc()).limit(1)
        ).one()
    )
    assert tuple(last) == ("access.denied", "tax-p384", "denied")
    # the department's own certificate still pushes
    assert push(dept, [request])[0].accepted == len(tax_records())
