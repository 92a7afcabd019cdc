"""Gateway PKI: key file modes, identities in certificates, CSR checks, no secrets shown."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gateway.host.config import GatewayConfig, redact_url
from gateway.host.home import init_home
from xinlian.errors import InvalidArgument
from xinlian.pki import (
    NodeIdentity,
    create_ca,
    identity_from_cert,
    issue_node_cert,
    make_csr,
    new_private_key,
    parse_csr,
)
from xinlian_cli.main import cli

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_init_writes_private_keys_with_mode_0600(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw")
    for key in (
        config.ca_key,
        config.server_key,
        config.ledger_signer_key,
        config.pseudonym_key,
        config.admin_identity / "node.key",
    ):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    with pytest.raises(FileExistsError):
        init_home(tmp_path / "gw")


def test_identity_round_trips_through_certificate() -> None:
    ca_key, ca_cert = create_ca("CA", NOW)
    key = new_private_key()
    csr = parse_csr(make_csr(key, "n").decode())
    identity = NodeIdentity("tax-fj", "department", "350000")
    cert = issue_node_cert(ca_key, ca_cert, csr, identity, NOW)
    assert identity_from_cert(cert) == identity


def test_csr_with_rsa_key_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(InvalidArgument, match="csr_pem: got 'RSAPublicKey'"):
        parse_csr(csr.public_bytes(serialization.Encoding.PEM).decode())


def test_garbage_csr_is_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"^csr_pem: got"):
        parse_csr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----")


def test_config_dump_and_repr_hide_database_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://xinlian:s3cr3t-pw@db.internal:5432/xinlian"
    assert "s3cr3t-pw" not in redact_url(url)
    config = GatewayConfig(home=tmp_path, db_url=url)
    assert "s3cr3t-pw" not in repr(config)
    assert "s3cr3t-pw" not in str(config.redacted())


def test_config_command_shows_no_key_material(tmp_path: Path) -> None:
    config = init_home(tmp_path / "gw")
    result = CliRunner().invoke(cli, ["gateway", "config", "--home", str(config.home)])
    assert result.exit_code == 0, result.output
    for secret_file in (config.ca_key, config.server_key, config.ledger_signer_key):
        body = secret_file.read_text().strip().splitlines()
        assert all(line not in result.output for line in body if len(line) > 20)
    assert "PRIVATE" not in result.output
