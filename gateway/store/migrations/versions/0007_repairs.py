"""credit_repairs: a department's (or the credit center's) signed repair of a record, or
its removal from a list, at most one per record; repair_applications: an enterprise's
signed application for repair, filed by its city platform and answered by the department
(gateway.flows.repairs)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_repairs",
        sa.Column("repair_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("source_node_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("record_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("signer_node_id", sa.String(length=64), nullable=False),
        sa.Column("signer_kind", sa.String(length=20), nullable=False),
        sa.Column("signer_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=True),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("trace_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("repair_id"),
        sa.UniqueConstraint("source_node_id", "record_id", name="uq_credit_repairs_record"),
    )
    with op.batch_alter_table("credit_repairs", schema=None) as batch_op:
        batch_op.create_index("ix_credit_repairs_code", ["credit_code"], unique=False)
    op.create_table(
        "repair_applications",
        sa.Column("application_id", sa.String(length=64), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("source_node_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("platform_node_id", sa.String(length=64), nullable=False),
        sa.Column("filed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("answer_reason", sa.Text(), nullable=True),
        sa.Column("answered_at_us", sa.BigInteger(), nullable=True),
        sa.Column("repair_id", sa.String(length=64), nullable=True),
        sa.Column("trace_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("application_id"),
    )
    with op.batch_alter_table("repair_applications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_repair_applications_source_state", ["source_node_id", "state"], unique=False
        )
        batch_op.create_index("ix_repair_applications_code", ["credit_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("repair_applications", schema=None) as batch_op:
        batch_op.drop_index("ix_repair_applications_code")
        batch_op.drop_index("ix_repair_applications_source_state")
    op.drop_table("repair_applications")
    with op.batch_alter_table("credit_repairs", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_repairs_code")
    op.drop_table("credit_repairs")
