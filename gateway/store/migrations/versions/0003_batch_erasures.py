"""batches: erasable signed bytes (nullable canonical), their stored encoding
(canonical_encoding: identity | zlib), earliest_event_us (what prune reads instead of
parsing every batch); batch_erasures

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from gateway.store.batch_storage import unpack
from xinlian.errors import FailedPrecondition

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.alter_column("canonical", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.add_column(
            sa.Column(
                "canonical_encoding",
                sa.String(length=16),
                nullable=False,
                server_default="identity",
            )
        )
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
    # revision 0002 reads batches.canonical as the signed bytes themselves
    bind = op.get_bind()
    packed = bind.execute(
        sa.text(
            "SELECT id, canonical, canonical_encoding FROM batches "
            "WHERE canonical_encoding != 'identity'"
        )
    ).all()
    for batch_id, stored, encoding in packed:
        bind.execute(
            sa.text("UPDATE batches SET canonical = :data WHERE id = :id"),
            {"data": unpack(bytes(stored), str(encoding)), "id": batch_id},
        )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("earliest_event_us")
        batch_op.drop_column("canonical_encoding")
        batch_op.alter_column("canonical", existing_type=sa.LargeBinary(), nullable=False)
