"""authorization: self-query nonces (replay protection)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "self_query_nonces",
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at_us", sa.BigInteger(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("credit_code", "nonce"),
    )
    with op.batch_alter_table("self_query_nonces", schema=None) as batch_op:
        batch_op.create_index("ix_self_query_nonces_seen", ["seen_at_us"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("self_query_nonces", schema=None) as batch_op:
        batch_op.drop_index("ix_self_query_nonces_seen")
    op.drop_table("self_query_nonces")
