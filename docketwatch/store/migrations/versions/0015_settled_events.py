"""How far each subscription's events are settled (models.Subscription.settled_through),
so what a subscription is owed is read from there on, not from its first event. NULL
for the rows already there: they are read as before until the next outbox round
settles them (digests.settle)."""

import sqlalchemy as sa
from alembic import op

revision = "0015_settled_events"
down_revision = "0014_entry_source_lists"


def upgrade() -> None:
    op.add_column("subscription", sa.Column("settled_through", sa.Integer()))
    op.add_column("subscription", sa.Column("settled_for", sa.String()))


def downgrade() -> None:
    op.drop_column("subscription", "settled_for")
    op.drop_column("subscription", "settled_through")
