"""Case facts per source, so two sources spelling a case name differently are no rename.

The table starts empty: a source's first poll after the upgrade records its values
quietly (the case's stored values may come from another source), and only later changes
of its own values are reported.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_case_facts"
down_revision = "0002_scheduler"


def upgrade() -> None:
    op.create_table(
        "casefact",
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case.id"), primary_key=True),
        sa.Column("source", sa.String(), primary_key=True),
        sa.Column("case_name", sa.String()),
        sa.Column("assigned_to", sa.String()),
        sa.Column("date_terminated", sa.Date()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
