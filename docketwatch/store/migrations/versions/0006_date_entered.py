"""Dates entered beside dates filed: a PACER RSS item gives only the day an entry was
entered, which must never stand in for the filing date (docket reports, CourtListener).

Rows carried forward: an entry that only a court feed has shown (sources = "pacer_rss")
got its feed date as date_filed; that date moves to date_entered, so the filing date is
filled in when CourtListener or a docket report shows the entry. An entry that another
source also showed keeps its date_filed: which source gave it first is not recorded.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_date_entered"
down_revision = "0005_event_changes"


def upgrade() -> None:
    op.add_column("entry", sa.Column("date_entered", sa.Date(), nullable=True))
    entry = sa.table("entry", sa.column("sources", sa.String()), sa.column("date_filed", sa.Date()),
                     sa.column("date_entered", sa.Date()))
    op.get_bind().execute(entry.update().where(entry.c.sources == "pacer_rss")
                          .values(date_entered=entry.c.date_filed, date_filed=None))
