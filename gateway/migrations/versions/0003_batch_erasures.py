"""retention: erasable batch bytes (nullable batches.canonical), batch_erasures and
batches.earliest_event_us (what prune reads instead of parsing every batch)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from xinlian.errors import FailedPrecondition

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.alter_column("canonical", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.add_column(sa.Column("earliest_event_us", sa.BigInteger(), nullable=True))
    op.create_table(
        "batch_erasures",
        sa.Column("batch_pk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("erased_at_us", sa.BigInteger(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("canonical_sha256", sa.String(length=64), nullable=False),
        sa.Column("kept", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["batch_pk"], ["batches.id"], name="fk_batch_erasures_batch"),
        sa.PrimaryKeyConstraint("batch_pk"),
    )


def downgrade() -> None:
    # erased bytes cannot come back: refuse rather than fail half-way on NOT NULL
    erased = op.get_bind().execute(sa.text("SELECT count(*) FROM batch_erasures")).scalar_one()
    if erased:
        raise FailedPrecondition(
            f"{erased} batches had their signed bytes erased by retention; revision 0002 "
            "cannot hold them (batches.canonical NOT NULL)",
            reason="BATCH_BYTES_ERASED",
        )
    op.drop_table("batch_erasures")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("earliest_event_us")
        batch_op.alter_column("canonical", existing_type=sa.LargeBinary(), nullable=False)
