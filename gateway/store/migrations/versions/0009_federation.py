"""federation_members, federation_cursors, federation_relayed: the member gateways of the
federation, the relay cursors per peer and direction, and the relayed copies of other
gateways' departments' signed batches (gateway.flows.relay, docs/federation.md)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_members",
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=12), nullable=False),
        sa.Column("endpoint", sa.String(length=255), nullable=False),
        sa.Column("tls_server_name", sa.String(length=255), nullable=False),
        sa.Column("ca_pem", sa.Text(), nullable=False),
        sa.Column("verifier_key", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("catalog_version", sa.String(length=32), nullable=False),
        sa.Column("upstream", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("gateway_id"),
    )
    op.create_table(
        "federation_cursors",
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("last_batch_pk", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("peer", "direction"),
    )
    op.create_table(
        "federation_relayed",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("sender_gateway_id", sa.String(length=64), nullable=False),
        sa.Column("source_gateway_id", sa.String(length=64), nullable=False),
        sa.Column("source_node_id", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("canonical", sa.LargeBinary(), nullable=True),
        sa.Column("canonical_sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("signer_cert_pem", sa.Text(), nullable=False),
        sa.Column("source_ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.Column("earliest_event_us", sa.BigInteger(), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("outcomes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "source_gateway_id", "source_node_id", "batch_id", name="uq_federation_relayed_batch"
        ),
    )


def downgrade() -> None:
    op.drop_table("federation_relayed")
    op.drop_table("federation_cursors")
    op.drop_table("federation_members")
