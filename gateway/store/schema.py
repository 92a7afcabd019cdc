"""Tables of the gateway store. Alembic migrations (gateway/store/migrations) create them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from gateway.store.dialect import ROWID_BIGINT
from gateway.store.schema_base import metadata as metadata
from gateway.store.schema_network import (
    change_log as change_log,
)
from gateway.store.schema_network import (
    federation_cursors as federation_cursors,
)
from gateway.store.schema_network import (
    federation_members as federation_members,
)
from gateway.store.schema_network import (
    federation_relayed as federation_relayed,
)
from gateway.store.schema_network import (
    split_views as split_views,
)
from gateway.store.schema_network import (
    subscriptions as subscriptions,
)

# the tables of migrations 0009-0011 (witnessing, federation, change log, subscriptions)
from gateway.store.schema_network import (
    witness_cosigned as witness_cosigned,
)
from gateway.store.schema_network import (
    witness_received as witness_received,
)
from gateway.store.schema_network import (
    witness_views as witness_views,
)

nodes = Table(
    "nodes",
    metadata,
    Column("node_id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("region", String(12), nullable=False),
    Column("name", String(200), nullable=False),
    Column("state", String(12), nullable=False),
    Column("categories", Text, nullable=False, default="[]"),
    Column("contact", String(200), nullable=False, default=""),
    Column("applied_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("state_reason", String(500), nullable=False, default=""),
    Column("review", Text, nullable=True),
)

enrollment_tokens = Table(
    "enrollment_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("node_id", String(64), nullable=False, index=True),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("used_at_us", BigInteger, nullable=True),
)

certificates = Table(
    "certificates",
    metadata,
    Column("serial", String(40), primary_key=True),
    Column("node_id", String(64), nullable=False, index=True),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("not_before_us", BigInteger, nullable=False),
    Column("not_after_us", BigInteger, nullable=False),
    Column("issued_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
    Column("pem", Text, nullable=False),
)

batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("node_id", String(64), nullable=False),
    Column("batch_id", String(64), nullable=False),
    Column("category", String(64), nullable=False),
    # the agent's signed bytes; NULL once retention erased them (see ``batch_erasures``)
    Column("canonical", LargeBinary, nullable=True),
    Column("signature", LargeBinary, nullable=False),
    Column("signer_fingerprint", String(64), nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    Column("ledger_index", BigInteger, nullable=True),
    Column("record_count", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    # the form ``canonical`` is kept in: identity | zlib (gateway.store.batch_storage)
    Column("canonical_encoding", String(16), nullable=False, server_default="identity"),
    # the earliest event time among the batch's signed records (retention reads it
    # instead of parsing the bytes); NULL for batches stored before revision 0003
    Column("earliest_event_us", BigInteger, nullable=True),
    UniqueConstraint("node_id", "batch_id", name="uq_batches_node_batch"),
)

# One row per batch whose signed bytes retention erased (gateway.store.erasure): the SHA-256 of
# the erased bytes and the digests of the record rows kept, both pinned by the
# ``retention.erased`` ledger entry at ``ledger_index``.
batch_erasures = Table(
    "batch_erasures",
    metadata,
    Column(
        "batch_pk",
        Integer,
        ForeignKey("batches.id", name="fk_batch_erasures_batch"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("erased_at_us", BigInteger, nullable=False),
    Column("ledger_index", BigInteger, nullable=False),
    Column("canonical_sha256", String(64), nullable=False),
    Column("kept", Text, nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_node_id", String(64), nullable=False),
    Column("record_id", String(128), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("category", String(64), nullable=False),
    Column("event_time_us", BigInteger, nullable=False),
    Column("fields", Text, nullable=False),
    Column("batch_pk", Integer, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    # set when the department withdrew the record in answer to an objection (0005)
    Column("withdrawn_at_us", BigInteger, nullable=True),
    UniqueConstraint("source_node_id", "record_id", "version", name="uq_records_source_id_ver"),
    Index("ix_records_code_category", "credit_code", "category"),
    Index("ix_records_record_id", "record_id"),
)

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    Column("public_key_pem", Text, nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("registered_by", String(64), nullable=False),
    Column("attestation", Text, nullable=False),
    Column("registered_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("frozen", Boolean, nullable=False, default=False),
    Column("open_objections", Integer, nullable=False, default=0),
)

enterprise_keys = Table(
    "enterprise_keys",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("key_version", Integer, primary_key=True),
    Column("public_key_pem", Text, nullable=False),
    Column("valid_from_us", BigInteger, nullable=False),
    Column("valid_until_us", BigInteger, nullable=True),
)

grants = Table(
    "grants",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("credit_code", String(18), nullable=False),
    Column("grantee_node_id", String(64), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("categories", Text, nullable=False),
    Column("fields", Text, nullable=False),
    Column("not_before_us", BigInteger, nullable=False),
    Column("not_after_us", BigInteger, nullable=False),
    Column("max_uses", Integer, nullable=True),
    Column("uses", Integer, nullable=False, default=0),
    Column("canonical", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("submitted_by", String(64), nullable=False),
    Column("submitted_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
    Column("revoke_reason", String(500), nullable=True),
    Column("revoked_by", String(64), nullable=True),
    Column("revocation", LargeBinary, nullable=True),
    Column("revocation_signature", LargeBinary, nullable=True),
    Index("ix_grants_code_grantee", "credit_code", "grantee_node_id"),
)

# The append-only ledger. ``body`` holds the canonical entry bytes and may be pruned
# after the retention period; ``leaf_hash`` is kept forever so the tree still verifies.
# The columns after ``summary`` are what officers' searches read through indexes. On
# SQLite they are VIRTUAL columns generated from ``body`` (or, once it is pruned, from
# ``summary``) and idx is a rowid alias (``gateway.store.ledger_ddl``, revision 0004):
# write only idx, leaf_hash, body and summary there. On PostgreSQL they are stored
# columns and ``summary`` stays NULL. This table serves reads on both.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column(
        "idx",
        ROWID_BIGINT,
        primary_key=True,
        autoincrement=False,
    ),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("body", LargeBinary, nullable=True),
    Column("summary", Text, nullable=True),
    Column("action", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("credit_code", String(18), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("trace_id", String(64), nullable=False),
    Column("subject", String(128), nullable=True),
    Column("time_us", BigInteger, nullable=False),
    Index("ix_ledger_credit_code", "credit_code"),
    Index("ix_ledger_actor", "actor"),
    Index("ix_ledger_action", "action"),
    Index("ix_ledger_time", "time_us"),
    Index("ix_ledger_subject", "subject"),
    Index("ix_ledger_trace", "trace_id"),  # 0010: a trace across gateways
)

# One row (id = 1): the sequencer. Writers lock it to assign ledger indexes, so several
# gateway processes on one PostgreSQL share one consistent ledger.
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("frontier", LargeBinary, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

# C2SP tlog-tiles of the ledger's tree (audit.tiles, gateway.store.ledger_tiles): the
# hashes at tree level 8·level, 256 per tile. Written with each checkpoint; a full tile
# never changes, a level's last tile only grows at its end.
ledger_tiles = Table(
    "ledger_tiles",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hashes", LargeBinary, nullable=False),
)

# Derived index of disclosures (the query ledger entries are the source of truth):
# which consumer received which fields of which stored record, with which masks.
disclosures = Table(
    "disclosures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ledger_index", BigInteger, nullable=False),
    Column("record_pk", Integer, nullable=False, index=True),
    Column("consumer_node_id", String(64), nullable=False),
    Column("grant_id", String(64), nullable=True),
    Column("purpose", String(32), nullable=False),
    Column("masks", Text, nullable=False),
    Column("trace_id", String(64), nullable=False),
    Column("time_us", BigInteger, nullable=False),
)

# Self-query statements seen recently (replay protection), written in the same
# transaction as the query's ledger entry.
self_query_nonces = Table(
    "self_query_nonces",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_at_us", BigInteger, nullable=False),
    Column("ledger_index", BigInteger, nullable=True),
    Index("ix_self_query_nonces_seen", "seen_at_us"),
)

# An enterprise's objection to one stored record (revision 0005, gateway.flows.objections):
# the enterprise's signed statement, its city platform's countersignature over it with
# the time the platform received it, the deadlines, and the department's answer.
objections = Table(
    "objections",
    metadata,
    Column("objection_id", String(64), primary_key=True),
    Column("credit_code", String(18), nullable=False),
    Column("record_pk", Integer, nullable=False),
    Column("source_node_id", String(64), nullable=False),
    Column("record_id", String(128), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("category", String(64), nullable=False),
    Column("fields", Text, nullable=False),
    Column("claim", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("statement", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("platform_node_id", String(64), nullable=False),
    Column("platform_fingerprint", String(64), nullable=False),
    Column("platform_signature", LargeBinary, nullable=False),
    Column("platform_received_at_us", BigInteger, nullable=False),
    Column("forward_due_us", BigInteger, nullable=False),
    Column("forwarded_late", Boolean, nullable=False),
    Column("filed_at_us", BigInteger, nullable=False),
    Column("answer_due_us", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("answer_reason", Text, nullable=True),
    Column("corrected_version", BigInteger, nullable=True),
    Column("answered_at_us", BigInteger, nullable=True),
    Column("answered_by", String(64), nullable=True),
    Column("trace_id", String(64), nullable=False),
    Index("ix_objections_code", "credit_code"),
    Index("ix_objections_record", "record_pk"),
    Index("ix_objections_source_state", "source_node_id", "state"),
    Index("ix_objections_state_due", "state", "answer_due_us"),
)

# Administrators' freezes and unfreezes of an enterprise, each with its reason (0005);
# enterprises.frozen is the current state, this table its history.
enterprise_freezes = Table(
    "enterprise_freezes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("credit_code", String(18), nullable=False),
    Column("frozen", Boolean, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("time_us", BigInteger, nullable=False),
    Index("ix_enterprise_freezes_code", "credit_code"),
)

# Correction notices (revision 0006, gateway.flows.notices): one per (node, record,
# superseded version) the node received, until the node acknowledges it; the
# ``ledger_index`` of its ``notice.created`` entry and, once acknowledged, of its
# ``notice.acked`` entry.
notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("node_id", String(64), nullable=False),
    Column("source_node_id", String(64), nullable=False),
    Column("record_id", String(128), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("category", String(64), nullable=False),
    Column("old_version", BigInteger, nullable=False),
    Column("old_record_pk", Integer, nullable=False),
    Column("new_version", BigInteger, nullable=True),
    Column("new_record_pk", Integer, nullable=True),
    Column("reason", String(16), nullable=False),
    Column("changed_fields", Text, nullable=False),
    Column("disclosure_id", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("ledger_index", BigInteger, nullable=False),
    Column("acked_at_us", BigInteger, nullable=True),
    Column("ack_ledger_index", BigInteger, nullable=True),
    UniqueConstraint(
        "node_id",
        "source_node_id",
        "record_id",
        "old_version",
        name="uq_notices_node_record_version",
    ),
    Index("ix_notices_record_id", "record_id"),
    Index("ix_notices_node_id", "node_id", "id"),
)

# How far the notice generator scanned: row "records", the last records.id (0006).
notice_cursor = Table(
    "notice_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
)

# Credit repairs and removals from a list (revision 0007, gateway.flows.repairs): the
# signer's statement and signature; at most one per record (source, record id). A record
# with a row here is no longer disclosed as public data (authz.publicity).
credit_repairs = Table(
    "credit_repairs",
    metadata,
    Column("repair_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("source_node_id", String(64), nullable=False),
    Column("record_id", String(128), nullable=False),
    Column("record_pk", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("category", String(64), nullable=False),
    Column("basis", Text, nullable=False),
    Column("statement", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("signer_node_id", String(64), nullable=False),
    Column("signer_kind", String(20), nullable=False),
    Column("signer_fingerprint", String(64), nullable=False),
    Column("application_id", String(64), nullable=True),
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("ledger_index", BigInteger, nullable=False),
    Column("trace_id", String(64), nullable=False),
    UniqueConstraint("source_node_id", "record_id", name="uq_credit_repairs_record"),
    Index("ix_credit_repairs_code", "credit_code"),
)

# Enterprises' applications for repair (0007), filed by their city platform with the
# enterprise's signature, listed and answered by the department that pushed the record.
repair_applications = Table(
    "repair_applications",
    metadata,
    Column("application_id", String(64), primary_key=True),
    Column("credit_code", String(18), nullable=False),
    Column("source_node_id", String(64), nullable=False),
    Column("record_id", String(128), nullable=False),
    Column("category", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("statement", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("platform_node_id", String(64), nullable=False),
    Column("filed_at_us", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("answered_by", String(64), nullable=True),
    Column("answer_reason", Text, nullable=True),
    Column("answered_at_us", BigInteger, nullable=True),
    Column("repair_id", String(64), nullable=True),
    Column("trace_id", String(64), nullable=False),
    Index("ix_repair_applications_source_state", "source_node_id", "state"),
    Index("ix_repair_applications_code", "credit_code"),
)
