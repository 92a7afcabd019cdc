"""ledger_tiles: the ledger tree's C2SP tlog-tiles (height 8), written with each
checkpoint (gateway.store.ledger_tiles); an existing ledger's tiles are built by
``xinlian gateway tiles build``

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_tiles",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )


def downgrade() -> None:
    op.drop_table("ledger_tiles")
