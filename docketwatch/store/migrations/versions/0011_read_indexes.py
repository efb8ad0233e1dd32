"""Indexes for reads that must not slow down as dockets and history grow
(bench/growth.py):
- each case's entries by the day they count from (filed, else entered), newest first:
  `status` finds a case's latest entry, and the plan the cases with a recent filing, by
  one index seek per case; before, both read every entry of every case (`plan` was
  7.6x slower after 1,000 poll cycles);
- each case's events by kind: `status` finds a case's latest gap among its gaps, not
  among all its events.

SQLite orders NULL lowest, so a descending index lists undated entries last; PostgreSQL
is told so (NULLS LAST), which SQLite does not accept in an index.
"""

from alembic import op

revision = "0011_read_indexes"
down_revision = "0010_status_indexes"

DAY = "coalesce(date_filed, date_entered)"


def upgrade() -> None:
    nulls = " NULLS LAST" if op.get_bind().dialect.name == "postgresql" else ""
    op.execute(f"CREATE INDEX ix_entry_case_day ON entry (case_id, ({DAY}) DESC{nulls})")
    op.create_index("ix_event_case_kind", "event", ["case_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_event_case_kind", table_name="event")
    op.drop_index("ix_entry_case_day", table_name="entry")
