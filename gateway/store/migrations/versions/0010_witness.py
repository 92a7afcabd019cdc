"""witnessing: witness_cosigned (peers' checkpoints this gateway cosigned),
witness_received (peers' cosignatures over this gateway's checkpoints), witness_views
(every peer checkpoint seen), split_views (evidence: two signed trees of one size)
(gateway.flows.witness); an index of ledger entries by trace id (``xinlian audit trace
--trace-id``, gateway.flows.hop_trace)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_trace", "ledger_entries", ["trace_id"], unique=False)
    op.create_table(
        "witness_cosigned",
        sa.Column("origin", sa.String(length=256), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("cosignature", sa.Text(), nullable=False),
        sa.Column("cosigned_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "tree_size"),
    )
    op.create_table(
        "witness_received",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness_name", sa.String(length=256), nullable=False),
        sa.Column("key_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", "witness_name", "key_id"),
    )
    op.create_table(
        "witness_views",
        sa.Column("origin", sa.String(length=256), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("seen_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "tree_size", "root_hash"),
    )
    op.create_table(
        "split_views",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=256), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_a", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note_a", sa.Text(), nullable=False),
        sa.Column("source_a", sa.String(length=200), nullable=False),
        sa.Column("root_b", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note_b", sa.Text(), nullable=False),
        sa.Column("source_b", sa.String(length=200), nullable=False),
        sa.Column("detected_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("origin", "tree_size", "root_a", "root_b", name="uq_split_views_roots"),
    )


def downgrade() -> None:
    op.drop_table("split_views")
    op.drop_table("witness_views")
    op.drop_table("witness_received")
    op.drop_table("witness_cosigned")
    op.drop_index("ix_ledger_trace", table_name="ledger_entries")
