"""objections: an enterprise's objection to a stored record (filed by its city
platform, answered by the department that pushed the record); records.withdrawn_at_us
(a record its department withdrew in answer to an objection is no longer disclosed);
enterprise_freezes (an administrator's freeze or unfreeze, with its reason)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "objections",
        sa.Column("objection_id", sa.String(length=64), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("record_pk", sa.Integer(), nullable=False),
        sa.Column("source_node_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("claim", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("platform_node_id", sa.String(length=64), nullable=False),
        sa.Column("platform_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("platform_signature", sa.LargeBinary(), nullable=False),
        sa.Column("platform_received_at_us", sa.BigInteger(), nullable=False),
        sa.Column("forward_due_us", sa.BigInteger(), nullable=False),
        sa.Column("forwarded_late", sa.Boolean(), nullable=False),
        sa.Column("filed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("answer_due_us", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answer_reason", sa.Text(), nullable=True),
        sa.Column("corrected_version", sa.BigInteger(), nullable=True),
        sa.Column("answered_at_us", sa.BigInteger(), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("trace_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("objection_id"),
    )
    with op.batch_alter_table("objections", schema=None) as batch_op:
        batch_op.create_index("ix_objections_code", ["credit_code"], unique=False)
        batch_op.create_index("ix_objections_record", ["record_pk"], unique=False)
        batch_op.create_index(
            "ix_objections_source_state", ["source_node_id", "state"], unique=False
        )
        batch_op.create_index("ix_objections_state_due", ["state", "answer_due_us"], unique=False)
    op.create_table(
        "enterprise_freezes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("enterprise_freezes", schema=None) as batch_op:
        batch_op.create_index("ix_enterprise_freezes_code", ["credit_code"], unique=False)
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at_us", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_at_us")
    with op.batch_alter_table("enterprise_freezes", schema=None) as batch_op:
        batch_op.drop_index("ix_enterprise_freezes_code")
    op.drop_table("enterprise_freezes")
    with op.batch_alter_table("objections", schema=None) as batch_op:
        batch_op.drop_index("ix_objections_state_due")
        batch_op.drop_index("ix_objections_source_state")
        batch_op.drop_index("ix_objections_record")
        batch_op.drop_index("ix_objections_code")
    op.drop_table("objections")
