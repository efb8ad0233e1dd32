"""What belongs to one source is kept by source name, so the core names none:

- source state: one row per (source, fetch target) holding the source's own model as
  JSON, instead of a hand-built key ("pacer_rss:cand") and columns only one source used
  (`entry_types`);
- a case's docket id at each source: `case.source_ids` ({"courtlistener": "67569326"})
  instead of the column `case.courtlistener_id`.

Rows carried forward: each old state key is split at its first colon into source and
target, its columns become the fields the sources now read; each case's CourtListener id
moves into its `source_ids`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_plugin_keys"
down_revision = "0007_links_discover"

# old key prefix -> (source, how the target is named now, old column -> new field)
_FIELDS = {
    "pacer_rss": {"etag": "etag", "last_modified": "last_modified", "watermark": "fingerprint",
                  "entry_types": "entry_types"},
    "courtlistener:feed": {"etag": "etag", "last_modified": "last_modified"},
    "courtlistener:entries": {"watermark": "modified_since"},
}


def _carry(key: str, row: dict[str, object]) -> tuple[str, str, dict[str, object]] | None:
    source, _, rest = key.partition(":")
    if source == "courtlistener" and not rest:  # the source-wide throttle
        until = row["throttled_until"]
        return (source, "throttle", {"until": until.isoformat() if hasattr(until, "isoformat") else until}) \
            if until else None
    kind, _, target_id = rest.partition(":")
    prefix = f"{source}:{kind}" if source == "courtlistener" else source
    fields = _FIELDS.get(prefix)
    if fields is None:
        return None  # no source reads it any more
    target = f"{kind}:{target_id}" if source == "courtlistener" else rest
    data = {new: row[old] for old, new in fields.items() if row[old] is not None}
    return source, target, data


def upgrade() -> None:
    connection = op.get_bind()
    old = sa.table("sourcestate", *(sa.column(c) for c in
                                    ("key", "etag", "last_modified", "watermark", "throttled_until", "entry_types")))
    rows = [dict(r._mapping) for r in connection.execute(sa.select(old))]
    op.drop_table("sourcestate")
    new = op.create_table(
        "sourcestate",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("source", "target"),
    )
    carried = [c for r in rows if (c := _carry(r["key"], r)) is not None]
    if carried:
        op.bulk_insert(new, [{"source": s, "target": t, "data": d} for s, t, d in carried])

    op.add_column("case", sa.Column("source_ids", sa.JSON(), nullable=False, server_default="{}"))
    case = sa.table("case", sa.column("id", sa.Integer()), sa.column("courtlistener_id", sa.Integer()),
                    sa.column("source_ids", sa.JSON()))
    pinned = connection.execute(sa.select(case.c.id, case.c.courtlistener_id)
                                .where(case.c.courtlistener_id.is_not(None))).all()
    for case_id, courtlistener_id in pinned:
        connection.execute(case.update().where(case.c.id == case_id)
                           .values(source_ids={"courtlistener": str(courtlistener_id)}))
    # In place (SQLite 3.35+ drops columns natively): copying the table, as a batch
    # migration would, is refused while other tables' foreign keys point at it.
    op.drop_column("case", "courtlistener_id")
