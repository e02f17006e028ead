"""grievances on cases: hours, priority, grid cell, reports, resolution and rating; followers
who joined a reported problem; media linked to cases; "after" photo deliveries

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OPEN_BEFORE = "status IN ('submitted', 'in_review', 'returned')"
OPEN_NOW = (
    "status IN ('submitted', 'in_review', 'returned', 'registered', 'in_progress', 'reopened')"
)


def upgrade() -> None:
    op.add_column("cases", sa.Column("sla_hours", sa.Integer(), nullable=True))
    op.add_column("cases", sa.Column("priority", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("cell_lat", sa.Integer(), nullable=True))
    op.add_column("cases", sa.Column("cell_lon", sa.Integer(), nullable=True))
    op.add_column(
        "cases", sa.Column("reports", sa.Integer(), server_default=sa.text("1"), nullable=False)
    )
    op.add_column("cases", sa.Column("resolution", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("cases", sa.Column("rating", sa.SmallInteger(), nullable=True))
    op.add_column("cases", sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("ix_cases_open_due", table_name="cases")
    op.create_index("ix_cases_open_due", "cases", ["due_at"], postgresql_where=sa.text(OPEN_NOW))
    op.create_index(
        "ix_cases_grievance_cell",
        "cases",
        ["service", "cell_lat", "cell_lon"],
        postgresql_where=sa.text("cell_lat IS NOT NULL"),
    )
    op.create_table(
        "case_followers",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("citizen_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "joined_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_followers_case_id")),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_case_followers_citizen_id")
        ),
        sa.PrimaryKeyConstraint("case_id", "citizen_id", name=op.f("pk_case_followers")),
    )
    op.create_index("ix_case_followers_citizen", "case_followers", ["citizen_id"])
    op.add_column("media", sa.Column("case_id", sa.BigInteger(), nullable=True))
    op.add_column(
        "media",
        sa.Column("origin", sa.Text(), server_default=sa.text("'citizen'"), nullable=False),
    )
    op.create_foreign_key(op.f("fk_media_case_id"), "media", "cases", ["case_id"], ["id"])
    op.create_index("ix_media_case", "media", ["case_id"])
    op.create_table(
        "media_deliveries",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("media_row", sa.BigInteger(), nullable=False),
        sa.Column("citizen_id", sa.BigInteger(), nullable=False),
        sa.Column("caption", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'queued'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "not_before",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["media_row"], ["media.id"], name=op.f("fk_media_deliveries_media_row")
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_media_deliveries_citizen_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_deliveries")),
    )
    op.create_index(
        "ix_media_deliveries_queued",
        "media_deliveries",
        ["not_before"],
        postgresql_where=sa.text("status = 'queued'"),
    )


def downgrade() -> None:
    op.drop_index("ix_media_deliveries_queued", table_name="media_deliveries")
    op.drop_table("media_deliveries")
    op.drop_index("ix_media_case", table_name="media")
    op.drop_constraint(op.f("fk_media_case_id"), "media", type_="foreignkey")
    op.drop_column("media", "origin")
    op.drop_column("media", "case_id")
    op.drop_index("ix_case_followers_citizen", table_name="case_followers")
    op.drop_table("case_followers")
    op.drop_index("ix_cases_grievance_cell", table_name="cases")
    op.drop_index("ix_cases_open_due", table_name="cases")
    op.create_index("ix_cases_open_due", "cases", ["due_at"], postgresql_where=sa.text(OPEN_BEFORE))
    for column in (
        "rated_at",
        "rating",
        "resolved_at",
        "resolution",
        "reports",
        "cell_lon",
        "cell_lat",
        "priority",
        "sla_hours",
    ):
        op.drop_column("cases", column)
