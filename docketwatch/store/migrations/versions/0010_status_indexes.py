"""Each case's latest successful and latest failed check run in one index seek:
`status` and digests read them for every case, and retention keeps 50 runs or more per
case and source, so a scan of the runs grows with the watchlist times its history.
"""

from alembic import op

revision = "0010_status_indexes"
down_revision = "0009_plugin_keys"


def upgrade() -> None:
    op.create_index("ix_checkrun_case_ok_id", "checkrun", ["case_id", "ok", "id"])


def downgrade() -> None:
    op.drop_index("ix_checkrun_case_ok_id", table_name="checkrun")
