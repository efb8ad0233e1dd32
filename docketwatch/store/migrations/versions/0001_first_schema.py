"""The first release's schema: cases, entries, events, check runs, source state, digests.

Exactly what that release's create_all made (models.py at 119b47a), so a database it
created is stamped at this revision and upgraded from here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_first_schema"
down_revision = None


def _utc() -> sa.DateTime:
    """A time with its zone (timestamptz on PostgreSQL): how SQLModel maps `datetime`."""
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "case",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("court", sa.String(), nullable=False),
        sa.Column("docket_number", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("case_name", sa.String()),
        sa.Column("courtlistener_id", sa.Integer()),
        sa.Column("pacer_case_id", sa.String()),
        sa.Column("assigned_to", sa.String()),
        sa.Column("date_terminated", sa.Date()),
        sa.Column("baseline_at", _utc()),
        sa.UniqueConstraint("court", "docket_number"),
    )
    op.create_table(
        "entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("entry_number", sa.String()),
        sa.Column("date_filed", sa.Date()),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("short_description", sa.String()),
        sa.Column("pacer_doc_id", sa.String()),
        sa.Column("url", sa.String()),
        sa.Column("document_available", sa.Boolean()),
        sa.Column("sealed", sa.Boolean()),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("sources", sa.String(), nullable=False),
        sa.Column("first_seen", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.UniqueConstraint("case_id", "key"),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("entry.id")),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False, index=True),
    )
    op.create_table(
        "checkrun",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("source", sa.String(), nullable=False, index=True),
        sa.Column("started_at", _utc(), nullable=False, index=True),
        sa.Column("finished_at", _utc()),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("warning", sa.Text()),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("quota_requests", sa.Integer(), nullable=False),
    )
    op.create_table(
        "sourcestate",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("etag", sa.String()),
        sa.Column("last_modified", sa.String()),
        sa.Column("watermark", sa.String()),
        sa.Column("throttled_until", _utc()),
        sa.Column("entry_types", sa.String()),
    )
    op.create_table(
        "digest",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscription", sa.String(), nullable=False, index=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False, unique=True),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("period_start", _utc(), nullable=False),
        sa.Column("period_end", _utc(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("delivered_to", sa.String()),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("sent_at", _utc()),
    )
    op.create_table(
        "digestevent",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest_id", sa.Integer(), sa.ForeignKey("digest.id"), nullable=False, index=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("event.id"), nullable=False, index=True),
        sa.Column("subscription", sa.String(), nullable=False),
        sa.UniqueConstraint("subscription", "event_id"),
    )
