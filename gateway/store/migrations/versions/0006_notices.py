"""notices: one correction notice per (node, record, superseded version) the node
received, waiting in the node's queue until it acknowledges it; notice_cursor: how far
the background generator has scanned (gateway.flows.notices)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("source_node_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("old_version", sa.BigInteger(), nullable=False),
        sa.Column("old_record_pk", sa.Integer(), nullable=False),
        sa.Column("new_version", sa.BigInteger(), nullable=True),
        sa.Column("new_record_pk", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("changed_fields", sa.Text(), nullable=False),
        sa.Column("disclosure_id", sa.Integer(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("acked_at_us", sa.BigInteger(), nullable=True),
        sa.Column("ack_ledger_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "node_id",
            "source_node_id",
            "record_id",
            "old_version",
            name="uq_notices_node_record_version",
        ),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_record_id", ["record_id"], unique=False)
        batch_op.create_index("ix_notices_node_id", ["node_id", "id"], unique=False)
    op.create_table(
        "notice_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("notice_cursor")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_node_id")
        batch_op.drop_index("ix_notices_record_id")
    op.drop_table("notices")
