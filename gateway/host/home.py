"""``xinlian gateway init``: create a gateway home with its CA, keys, config and store.

Layout of HOME (mode 0700; every directory in it 0700 and every file 0600, whatever the
umask: the store holds raw records):

    config.json            settings, no secrets (a database password is left out)
    ca/ca.pem ca/ca.key    the gateway CA that issues every node certificate
    server/server.pem|key  the gateway's TLS server certificate
    ledger/signer.key      checkpoint signing key (C2SP note signer key)
    ledger/verifier.key    its public verifier key, to hand to anyone who verifies
    secrets/pseudonym.key  HMAC key for keyed pseudonyms
    admin/                 the first administrator's identity (node.key, node.pem, ca.pem)
    gateway.db             the embedded SQLite store (unless --db names another)
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec

from sqlalchemy import Connection

from audit.checkpoint import NoteSigner
from audit.entry import Action, Entry, Outcome
from gateway.flows.registry import NodeRecord, Review, insert_admitted_node
from gateway.host.config import GatewayConfig
from gateway.store import migrate, schema
from gateway.store.committer import LedgerTx, commit_now
from gateway.store.db import Store
from gateway.store.timeutil import to_us
from xinlian.clock import Clock, SystemClock
from xinlian.identity import NodeIdentityFiles
from xinlian.pki import (
    PRIVATE_UMASK,
    NodeIdentity,
    cert_to_pem,
    create_ca,
    fingerprint,
    issue_node_cert,
    issue_server_cert,
    key_to_pem,
    make_csr,
    make_private,
    new_private_key,
    parse_csr,
    serial_hex,
    write_public,
    write_secret,
)

P = ParamSpec("P")
FIRST_ADMIN_ID = "admin"
PSEUDONYM_KEY_BYTES = 32


def _private(create: Callable[P, GatewayConfig]) -> Callable[P, GatewayConfig]:
    """Create under umask 077, then make the home 0700 and every file in it 0600
    (whatever the umask was: the store holds raw records)."""

    @functools.wraps(create)
    def private_create(*args: P.args, **kwargs: P.kwargs) -> GatewayConfig:
        previous = os.umask(PRIVATE_UMASK)
        try:
            config = create(*args, **kwargs)
        finally:
            os.umask(previous)
        make_private(config.home)
        return config

    return private_create


@_private
def init_home(
    home: Path,
    *,
    db_url: str | None = None,
    origin: str = "xinlian.example/gateway",
    listen: str | None = None,
    enroll_listen: str | None = None,
    hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
    region: str = "350000",
    public_address: str | None = None,
    clock: Clock | None = None,
) -> GatewayConfig:
    clock = clock or SystemClock()
    now = clock.now()
    home = home.resolve()
    if (home / "config.json").exists():
        raise FileExistsError(f"{home} is already a gateway home (config.json exists)")
    home.mkdir(parents=True, exist_ok=True)
    given = {"listen": listen, "enroll_listen": enroll_listen, "public_address": public_address}
    overrides = {k: v for k, v in given.items() if v}
    config = GatewayConfig(
        home=home,
        db_url=db_url or GatewayConfig.default_db_url(home),
        origin=origin,
        server_hosts=hosts,
        **overrides,
    )
    # (1) CA and server certificate
    ca_key, ca_cert = create_ca("XinLian Gateway CA", now)
    write_secret(config.ca_key, key_to_pem(ca_key))
    write_public(config.ca_cert, cert_to_pem(ca_cert))
    server_key, server_cert = issue_server_cert(ca_key, ca_cert, list(hosts), now)
    write_secret(config.server_key, key_to_pem(server_key))
    write_public(config.server_cert, cert_to_pem(server_cert))
    # (2) ledger checkpoint signer and pseudonym secret
    signer = NoteSigner.generate(origin)
    write_secret(config.ledger_signer_key, (signer.signer_key() + "\n").encode())
    write_public(config.ledger_verifier_key, (signer.verifier_key() + "\n").encode())
    write_secret(config.pseudonym_key, secrets.token_bytes(PSEUDONYM_KEY_BYTES))
    config.save()
    # (3) store at the current schema revision
    store = Store(config.database_url)
    try:
        migrate.upgrade(store.engine)
        # (4) the first administrator, admitted by the act of initialization
        admin_files = NodeIdentityFiles(config.admin_identity)
        gateway_address, server_name = config.advertised()
        admin_key = new_private_key()
        write_secret(admin_files.key, key_to_pem(admin_key))
        identity = NodeIdentity(FIRST_ADMIN_ID, "admin", region)
        csr = parse_csr(make_csr(admin_key, FIRST_ADMIN_ID).decode())
        cert = issue_node_cert(ca_key, ca_cert, csr, identity, now, config.node_cert_lifetime)
        write_public(admin_files.cert, cert_to_pem(cert))
        write_public(admin_files.ca, cert_to_pem(ca_cert))
        write_public(
            admin_files.meta,
            json.dumps(
                {
                    "node_id": FIRST_ADMIN_ID,
                    "kind": "admin",
                    "region": region,
                    "gateway": gateway_address,
                    "server_name": server_name or hosts[0],
                },
                indent=2,
            ).encode(),
        )
        node = NodeRecord(
            node_id=FIRST_ADMIN_ID,
            kind="admin",
            region=region,
            name="首任管理员 (created by gateway init)",
            state="admitted",
            categories=(),
            contact="",
            applied_at=now,
            updated_at=now,
            review=Review("gateway-init", "bootstrap", "bootstrap", now, "first administrator"),
        )

        def work(conn: Connection, ledger: LedgerTx) -> None:
            insert_admitted_node(conn, node)
            conn.execute(
                schema.certificates.insert().values(
                    serial=serial_hex(cert),
                    node_id=FIRST_ADMIN_ID,
                    fingerprint=fingerprint(cert),
                    not_before_us=to_us(cert.not_valid_before_utc),
                    not_after_us=to_us(cert.not_valid_after_utc),
                    issued_at_us=to_us(now),
                    revoked_at_us=None,
                    pem=cert_to_pem(cert).decode(),
                )
            )
            ledger.append(
                Entry(
                    action=Action.NODE_ADMITTED,
                    time=now,
                    actor="gateway",
                    actor_kind="gateway",
                    outcome=Outcome.OK,
                    trace_id=secrets.token_hex(12),
                    subject=FIRST_ADMIN_ID,
                    details={"bootstrap": True, "serial": serial_hex(cert)},
                )
            )

        commit_now(store, clock, work)
    finally:
        store.close()
    return config


def secure_home(config: GatewayConfig) -> None:
    """For ``serve``: the home and the SQLite files (-wal, -shm too) private again, in
    case they were made or copied under a wider umask. A read-only home (a mounted
    Kubernetes Secret) is left as it is, with a warning."""
    from gateway.store.dialect import dialect_for_url

    paths = [config.home]
    dialect = dialect_for_url(config.database_url)
    database = dialect.database_file(config.database_url) if dialect.embedded else None
    if database:
        paths += [Path(database + suffix) for suffix in ("", "-wal", "-shm")]
    for path in paths:
        try:
            if path.is_dir():
                make_private(path)
            elif path.exists():
                path.chmod(0o600)
        except OSError as err:
            logging.getLogger("xinlian.gateway").warning("cannot make %s private: %s", path, err)
