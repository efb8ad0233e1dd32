"""Structured event payloads: a "changed" event lists what changed in `changes` (a JSON
list of strings), so nothing parses its summary back.

Rows carried forward: the changes of every stored "changed" event are read, this once,
from its summary ("entry #599: text filled in; document now available").
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_event_changes"
down_revision = "0004_deliveries"


def upgrade() -> None:
    op.add_column("event", sa.Column("changes", sa.JSON(), nullable=True))
    event = sa.table("event", sa.column("id", sa.Integer()), sa.column("kind", sa.String()),
                     sa.column("summary", sa.Text()), sa.column("changes", sa.JSON()))
    connection = op.get_bind()
    changed = sa.select(event.c.id, event.c.summary).where(event.c.kind == "changed")
    for event_id, summary in connection.execute(changed):
        what = summary.partition(": ")[2] or summary
        connection.execute(event.update().where(event.c.id == event_id).values(changes=what.split("; ")))

