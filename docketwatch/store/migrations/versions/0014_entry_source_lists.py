"""An entry's sources as a JSON list (`["courtlistener", "pacer_rss"]`), no longer a
comma-joined text that each reader split: the rows are rewritten, the column keeps its
type (models.NameList), so no table is rebuilt. A few distinct values, one UPDATE each."""

import json
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0014_entry_source_lists"
down_revision = "0013_subscription_cases"


def _rewrite(convert: Callable[[str], str]) -> None:
    entry = sa.table("entry", sa.column("sources", sa.String()))
    connection = op.get_bind()
    for (stored,) in connection.execute(sa.select(entry.c.sources).distinct()).all():
        connection.execute(entry.update().where(entry.c.sources == stored).values(sources=convert(stored)))


def upgrade() -> None:
    _rewrite(lambda joined: json.dumps(sorted(filter(None, joined.split(",")))))


def downgrade() -> None:
    _rewrite(lambda names: ",".join(json.loads(names)))
