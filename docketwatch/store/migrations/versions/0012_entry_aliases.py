"""Entry aliases: the key under which a second source knows a minute entry another source
stored first (a court feed's date and text, CourtListener's id), so that one minute entry
is one stored entry, reported once, whichever sources show it."""

import sqlalchemy as sa
from alembic import op

revision = "0012_entry_aliases"
down_revision = "0011_read_indexes"


def upgrade() -> None:
    op.create_table(
        "entryalias",
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case.id"), primary_key=True),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("entry.id"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("entryalias")
