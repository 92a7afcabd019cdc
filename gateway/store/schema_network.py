"""The tables of the federated network and its consumers (migrations 0009-0011):
witnessing, federation, the change log and subscriptions. They share
``gateway.store.schema_base.metadata``; gateway.store.schema re-exports them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from gateway.store.dialect import ROWID_BIGINT
from gateway.store.schema_base import metadata

# Witnessing (0010, gateway.flows.witness): the peers' checkpoints this gateway cosigned
# (the largest per origin is where the next consistency proof starts), the cosignatures
# peers made over this gateway's own checkpoints, every peer checkpoint seen from any
# source (a second root for one origin and size is a split view), and the evidence of
# each split view found: both signed notes.
witness_cosigned = Table(
    "witness_cosigned",
    metadata,
    Column("origin", String(256), primary_key=True),
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("peer_id", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("cosignature", Text, nullable=False),
    Column("cosigned_at_us", BigInteger, nullable=False),
)

witness_received = Table(
    "witness_received",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness_name", String(256), primary_key=True),
    Column("key_id", BigInteger, primary_key=True, autoincrement=False),
    Column("peer_id", String(64), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("line", Text, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
)

witness_views = Table(
    "witness_views",
    metadata,
    Column("origin", String(256), primary_key=True),
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), primary_key=True),
    Column("note", Text, nullable=False),
    Column("source", String(200), nullable=False),
    Column("seen_at_us", BigInteger, nullable=False),
)

split_views = Table(
    "split_views",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("peer_id", String(64), nullable=False),
    Column("origin", String(256), nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_a", LargeBinary(32), nullable=False),
    Column("note_a", Text, nullable=False),
    Column("source_a", String(200), nullable=False),
    Column("root_b", LargeBinary(32), nullable=False),
    Column("note_b", Text, nullable=False),
    Column("source_b", String(200), nullable=False),
    Column("detected_at_us", BigInteger, nullable=False),
    UniqueConstraint("origin", "tree_size", "root_a", "root_b", name="uq_split_views_roots"),
)

# Federation (0009, docs/federation.md): the member gateways (the top gateway fills it
# from Join; a member from each verified directory), the relay cursors (the durable
# outbox is the batches table read past a cursor per peer and direction), and the
# relayed copies of other gateways' departments' signed batches.
federation_members = Table(
    "federation_members",
    metadata,
    Column("gateway_id", String(64), primary_key=True),
    Column("region", String(12), nullable=False),
    Column("endpoint", String(255), nullable=False),
    Column("tls_server_name", String(255), nullable=False, default=""),
    Column("ca_pem", Text, nullable=False),
    Column("verifier_key", Text, nullable=False),
    Column("origin", String(255), nullable=False),
    Column("catalog_version", String(32), nullable=False, default=""),
    Column("upstream", String(64), nullable=False, default=""),
    Column("state", String(12), nullable=False, default="admitted"),
    Column("updated_at_us", BigInteger, nullable=False),
)

federation_cursors = Table(
    "federation_cursors",
    metadata,
    Column("peer", String(64), primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("last_batch_pk", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)

federation_relayed = Table(
    "federation_relayed",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("direction", String(8), nullable=False),
    Column("sender_gateway_id", String(64), nullable=False),
    Column("source_gateway_id", String(64), nullable=False),
    Column("source_node_id", String(64), nullable=False),
    Column("batch_id", String(64), nullable=False),
    Column("category", String(64), nullable=False),
    # the department's signed bytes; NULL once retention or erasure removed them
    Column("canonical", LargeBinary, nullable=True),
    Column("canonical_sha256", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("signer_cert_pem", Text, nullable=False),
    Column("source_ledger_index", BigInteger, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    Column("earliest_event_us", BigInteger, nullable=True),
    Column("ledger_index", BigInteger, nullable=False),
    Column("outcomes", Text, nullable=False),
    UniqueConstraint(
        "source_gateway_id", "source_node_id", "batch_id", name="uq_federation_relayed_batch"
    ),
)

# The gateway's change log (0011, gateway.flows.change_log): one row per event (a record
# stored, corrected, withdrawn, objected to, repaired, or whose publicity ended), written
# in the transaction of the change; every writer holds the ledger's sequencer lock, so
# positions are given in commit order and a reader sees a prefix of them.
change_log = Table(
    "change_log",
    metadata,
    Column("position", ROWID_BIGINT, primary_key=True, autoincrement=True),
    Column("time_us", BigInteger, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("category", String(64), nullable=False),
    Column("source_node_id", String(64), nullable=False),
    Column("record_id", String(128), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("record_pk", Integer, nullable=True),
    Column("note", String(64), nullable=True),
    Index("ix_change_log_time", "time_us"),
)

# Consumers' subscriptions to the change log (0011, gateway.flows.subscriptions), each
# with the position its subscriber acknowledged last.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", String(40), primary_key=True),
    Column("node_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("categories", Text, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("region_prefix", String(6), nullable=False),
    Column("industry", String(8), nullable=False),
    Column("marked_only", Boolean, nullable=False),
    Column("state", String(12), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("cancelled_at_us", BigInteger, nullable=True),
    Column("acked_position", BigInteger, nullable=False),
    Column("acked_at_us", BigInteger, nullable=True),
    Column("ledger_index", BigInteger, nullable=False),
    Index("ix_subscriptions_node", "node_id"),
)
