"""change_log: the gateway's durable change log (one row per event, ordered by
position, written in the transaction of the change); subscriptions: a consumer's
monitoring or batch-push subscription with its acknowledged cursor
(gateway.flows.subscriptions, gateway.flows.subscription_delivery)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "change_log",
        sa.Column("position", _POSITION, nullable=False, autoincrement=True),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("source_node_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("record_pk", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("position"),
    )
    with op.batch_alter_table("change_log", schema=None) as batch_op:
        batch_op.create_index("ix_change_log_time", ["time_us"], unique=False)
    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("region_prefix", sa.String(length=6), nullable=False),
        sa.Column("industry", sa.String(length=8), nullable=False),
        sa.Column("marked_only", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("cancelled_at_us", sa.BigInteger(), nullable=True),
        sa.Column("acked_position", sa.BigInteger(), nullable=False),
        sa.Column("acked_at_us", sa.BigInteger(), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id"),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_subscriptions_node", ["node_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_node")
    op.drop_table("subscriptions")
    with op.batch_alter_table("change_log", schema=None) as batch_op:
        batch_op.drop_index("ix_change_log_time")
    op.drop_table("change_log")
