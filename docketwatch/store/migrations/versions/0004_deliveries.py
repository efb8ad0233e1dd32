"""Per-recipient deliveries, and when each subscription was first seen.

A digest becomes content only (what it says, its events); each recipient gets a delivery
row of its own (attempts, status, next attempt, last error, Message-ID). Rows carried
forward: every digest keeps its state in one delivery whose recipient is not known yet
(NULL): the outbox addresses it to the subscription's recipients, with the digest's old
Message-ID, before sending it. "failed" is gone: a digest given up on is pending again.

A database that already holds events gets the `subscription` row "" (models.UPGRADED):
subscriptions recorded first after the upgrade keep every event they may be owed.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004_deliveries"
down_revision = "0003_case_facts"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest_id", sa.Integer(), sa.ForeignKey("digest.id"), nullable=False, index=True),
        sa.Column("recipient", sa.String()),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("delivered_to", sa.String()),
        sa.Column("sent_at", _utc()),
        sa.UniqueConstraint("digest_id", "recipient"),
    )
    op.execute(
        "INSERT INTO delivery (digest_id, recipient, message_id, status, attempts, next_attempt_at, last_error,"
        " delivered_to, sent_at)"
        " SELECT id, NULL, message_id, CASE WHEN status = 'failed' THEN 'pending' ELSE status END, attempts,"
        " next_attempt_at, last_error, delivered_to, sent_at FROM digest"
    )
    # In place (SQLite 3.35+ drops columns natively): copying the table, as a batch
    # migration would, is refused while other tables' foreign keys point at it.
    op.drop_index("ix_digest_status", table_name="digest")
    for column in ("status", "attempts", "next_attempt_at", "last_error", "delivered_to", "sent_at"):
        op.drop_column("digest", column)

    subscription = op.create_table(
        "subscription",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("first_seen", _utc(), nullable=False),
    )
    if op.get_bind().execute(sa.text("SELECT 1 FROM event LIMIT 1")).first():
        op.bulk_insert(subscription, [{"name": "", "first_seen": EPOCH}])
