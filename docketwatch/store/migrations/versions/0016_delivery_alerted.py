"""When the operator was told a delivery failed `outbox.max_attempts` times
(models.Delivery.alerted_at), so the alert is sent once whatever the count it is
reached at: an attempt cut short by a kill, or a lower max_attempts, skipped it. NULL
for the rows already there: one still pending past the limit is said once more."""

import sqlalchemy as sa
from alembic import op

revision = "0016_delivery_alerted"
down_revision = "0015_settled_events"


def upgrade() -> None:
    op.add_column("delivery", sa.Column("alerted_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("delivery", "alerted_at")
