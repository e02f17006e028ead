"""effects (department calls) and conversation_steps (funnel); platform-made inbound events

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
    op.alter_column("inbound_events", "delivery_id", existing_type=sa.BigInteger(), nullable=True)
    op.create_table(
        "effects",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("citizen_id", sa.BigInteger(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("args_enc", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'queued'"), nullable=False),
        sa.Column(
            "not_before",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_effects_citizen_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_effects")),
    )
    op.create_index(
        "ix_effects_queued",
        "effects",
        ["not_before"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_table(
        "conversation_steps",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("step", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_steps")),
    )
    op.create_index(
        "ix_conversation_steps_service", "conversation_steps", ["service", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_conversation_steps_service", table_name="conversation_steps")
    op.drop_table("conversation_steps")
    op.drop_index(
        "ix_effects_queued", table_name="effects", postgresql_where=sa.text("status = 'queued'")
    )
    op.drop_table("effects")
    op.alter_column("inbound_events", "delivery_id", existing_type=sa.BigInteger(), nullable=False)
