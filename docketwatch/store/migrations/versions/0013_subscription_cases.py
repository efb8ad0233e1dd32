"""The cases each subscription has and since when, renamed subscriptions, and why a
subscription's digest cannot be built.

- `subscriptioncase`: a case that joins an existing subscription gets its events from
  then on, not the history kept before (models.SubscriptionCase).
- `subscription.cases_recorded`: False for the rows already there, so their first
  recording after the upgrade takes the cases they have then as theirs from their start:
  they go on getting exactly what they got before. `subscription.renamed_to`: a name
  given up by `renamed_from`.
- `healthalert.error`: why a job (or a subscription's digest) fails, for `status --health`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_subscription_cases"
down_revision = "0012_entry_aliases"


def upgrade() -> None:
    op.create_table(
        "subscriptioncase",
        sa.Column("subscription", sa.String(), primary_key=True),
        sa.Column("court", sa.String(), primary_key=True),
        sa.Column("docket_number", sa.String(), primary_key=True),
        sa.Column("joined_at", sa.DateTime(timezone=True)),
    )
    op.add_column("subscription", sa.Column("cases_recorded", sa.Boolean(), nullable=False,
                                            server_default=sa.false()))
    op.add_column("subscription", sa.Column("renamed_to", sa.String()))
    op.add_column("healthalert", sa.Column("error", sa.Text()))


def downgrade() -> None:
    op.drop_column("healthalert", "error")
    op.drop_column("subscription", "renamed_to")
    op.drop_column("subscription", "cases_recorded")
    op.drop_table("subscriptioncase")
