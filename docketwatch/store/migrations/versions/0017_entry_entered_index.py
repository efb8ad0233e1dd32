"""Each case's entries by the day they were entered: a court feed dates a minute entry
by that alone, and the entry it is may be stored under an earlier filing date (a
history report's entry filed on the 18th, entered on the 22nd), so the diff engine
looks both up by index (`diff._minutes_of_days`), not through the case's whole docket."""

from alembic import op

revision = "0017_entry_entered_index"
down_revision = "0016_delivery_alerted"


def upgrade() -> None:
    op.create_index("ix_entry_case_entered", "entry", ["case_id", "date_entered"])


def downgrade() -> None:
    op.drop_index("ix_entry_case_entered", table_name="entry")
