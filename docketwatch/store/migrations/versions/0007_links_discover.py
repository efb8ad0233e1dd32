"""Suggestions: dockets a watched case's text links to, and cases `[[discover]]` rules
found in court feeds; each announced once (unique key)."""

import sqlalchemy as sa
from alembic import op

revision = "0007_links_discover"
down_revision = "0006_date_entered"


def upgrade() -> None:
    op.create_table(
        "suggestion",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(), nullable=False, unique=True),
        sa.Column("court", sa.String(), nullable=True),
        sa.Column("docket_number", sa.String(), nullable=True),
        sa.Column("case_name", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=True),
        sa.Column("from_case_id", sa.Integer(), sa.ForeignKey("case.id"), nullable=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case.id"), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_suggestion_status", "suggestion", ["status"])
