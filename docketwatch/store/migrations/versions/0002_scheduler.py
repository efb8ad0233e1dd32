"""`docketwatch run`: the one-scheduler-per-database lock, and the health alerts sent per poll job."""

import sqlalchemy as sa
from alembic import op

revision = "0002_scheduler"
down_revision = "0001_first_schema"


def upgrade() -> None:
    op.create_table(
        "schedulerlock",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "healthalert",
        sa.Column("job", sa.String(), primary_key=True),
        sa.Column("failing", sa.Boolean(), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True)),
        sa.Column("recovered_at", sa.DateTime(timezone=True)),
    )
