"""handovers (citizens talking to an officer) and media (what citizens sent, kept encrypted)

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
        "handovers",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("citizen_id", sa.BigInteger(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'waiting'"), nullable=False),
        sa.Column("officer", sa.Text(), nullable=True),
        sa.Column(
            "opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "last_activity_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_handovers_citizen_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handovers")),
    )
    op.create_index(
        "ix_handovers_open",
        "handovers",
        ["department", "opened_at"],
        unique=False,
        postgresql_where=sa.text("status <> 'closed'"),
    )
    op.create_index(
        "uq_handovers_one_open",
        "handovers",
        ["citizen_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'closed'"),
    )

    op.create_table(
        "media",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("citizen_id", sa.BigInteger(), nullable=False),
        sa.Column("media_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("mime_type", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"], name=op.f("fk_media_citizen_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
    )
    op.create_index("uq_media_citizen_media", "media", ["citizen_id", "media_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_media_citizen_media", table_name="media")
    op.drop_table("media")
    op.drop_index("uq_handovers_one_open", table_name="handovers")
    op.drop_index("ix_handovers_open", table_name="handovers")
    op.drop_table("handovers")
