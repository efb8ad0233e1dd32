"""Schema migrations on SQLite and PostgreSQL: a database made by the first release is
upgraded without losing a row, a new one is built, and the models match the migrations."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, Table, create_engine, insert, inspect, select
from sqlmodel import Session, SQLModel

from docketwatch import store
from docketwatch.domain.snapshot import Throttle
from docketwatch.sources.pacer_rss import FeedState
from docketwatch.store import migrations
from docketwatch.store.models import Case, CheckRun, Delivery, DigestEvent, Entry, Event, SourceState

FIRST_TABLES = ("case", "entry", "event", "checkrun", "digest", "digestevent")  # sourcestate: see below
# added since the first release, or stored in another form since (see first_release_rows)
LATER_COLUMNS = {"event": {"changes"}, "case": {"source_ids"}, "entry": {"date_entered", "sources"}}
AT = datetime(2025, 7, 3, 16, 5, tzinfo=UTC)


def first_release_database(url: str) -> Engine:
    """A database as the first release left it: its tables (made by create_all, which
    revision 0001 reproduces exactly), no alembic_version, and a watched case's data."""
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), migrations.FIRST)
        connection.exec_driver_sql(f"DROP TABLE {migrations.VERSION_TABLE}")
        case_table = Table("case", MetaData(), autoload_with=connection)  # as that release had it
        case_id = connection.execute(insert(case_table).values(
            court="cand", docket_number="3:23-cv-03417", name="Kadrey v. Meta Platforms, Inc.",
            courtlistener_id=67569326, assigned_to="Vince Chhabria", baseline_at=AT - timedelta(days=30),
        )).inserted_primary_key[0]
    with Session(engine) as session:
        session.add(CheckRun(case_id=case_id, source="courtlistener", started_at=AT, ok=True, requests=2))
        session.commit()
    with engine.begin() as connection:  # rows as that release's tables have them (models changed)
        state = Table("sourcestate", MetaData(), autoload_with=connection)
        for row in [
            {"key": "courtlistener:entries:67569326", "watermark": "2025-07-03T16:00:00Z"},
            {"key": "courtlistener:feed:67569326", "etag": 'W/"abc"', "last_modified": "Thu, 03 Jul 2025 16:00:00 GMT"},
            {"key": "courtlistener", "throttled_until": AT},
            {"key": "pacer_rss:cand", "etag": '"f1"', "watermark": "9f86d0", "entry_types": "all"},
        ]:
            connection.execute(insert(state).values(row))
        entry = Table("entry", MetaData(), autoload_with=connection)
        order = {"case_id": case_id, "key": "#598", "entry_number": "598", "date_filed": date(2025, 6, 25),
                 "description": "ORDER Denying Plaintiffs' Motion for Partial Summary Judgment.",
                 "content_hash": "a1", "sources": "courtlistener", "document_available": True, "first_seen": AT,
                 "updated_at": AT}
        notice = {"case_id": case_id, "key": "#601", "entry_number": "601", "date_filed": date(2025, 7, 3),
                  "description": "NOTICE of Appearance by Jane Roe", "content_hash": "b2",
                  "sources": "courtlistener,pacer_rss", "first_seen": AT, "updated_at": AT}
        entry_ids = [connection.execute(insert(entry).values(row)).inserted_primary_key[0] for row in (order, notice)]
        new_events = [{"case_id": case_id, "entry_id": entry_id, "kind": "new", "source": "courtlistener",
                       "summary": row["description"], "created_at": AT}
                      for entry_id, row in zip(entry_ids, (order, notice), strict=True)]
        event = Table("event", MetaData(), autoload_with=connection)
        event_ids = [connection.execute(insert(event).values(row)).inserted_primary_key[0] for row in new_events]
        digest = Table("digest", MetaData(), autoload_with=connection)
        digest_id = connection.execute(insert(digest).values(
            subscription="lawyers", channel="email", message_id="<d1@example.org>", content_hash="c3",
            subject="Kadrey v. Meta Platforms, Inc.: 2 new filings", body='{"txt": "..."}',
            period_start=AT - timedelta(days=1), period_end=AT, status="sent", attempts=1, next_attempt_at=AT,
            created_at=AT, sent_at=AT)).inserted_primary_key[0]
        connection.execute(insert(DigestEvent).values(
            [{"digest_id": digest_id, "event_id": i, "subscription": "lawyers"} for i in event_ids]))
    return engine


def first_release_rows(engine: Engine) -> dict[str, list[tuple]]:
    """The first release's tables, in the columns the models and that release share."""
    with engine.connect() as connection:
        return {name: connection.execute(
                    select(*[c for c in table.columns if c.name not in LATER_COLUMNS.get(name, set())])
                    .order_by(*table.primary_key)).all()
                for name, table in SQLModel.metadata.tables.items() if name in FIRST_TABLES}


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return migrations.current_revision(connection)


def test_a_first_release_database_is_upgraded_keeping_every_row(empty_database_url, monkeypatch):
    old = first_release_database(empty_database_url)
    before = first_release_rows(old)
    assert len(before["entry"]) == 2 and len(before["digestevent"]) == 2 and revision(old) is None

    engine = store.open_engine(empty_database_url)
    assert revision(engine) == migrations.HEAD
    assert {"schedulerlock", "healthalert"} <= set(inspect(engine).get_table_names())
    assert first_release_rows(engine) == before  # the digest's columns that remain, unchanged
    with Session(engine) as session:  # its delivery state moved to a delivery of its own
        (delivery,) = session.scalars(select(Delivery)).all()
    assert (delivery.status, delivery.attempts, delivery.message_id) == ("sent", 1, "<d1@example.org>")

    with Session(engine) as session:  # each entry's sources, a list rather than a comma-joined text (0014)
        assert [e.sources for e in session.scalars(select(Entry).order_by(Entry.id))] == [
            ["courtlistener"], ["courtlistener", "pacer_rss"]]
    with Session(engine) as session:  # the case's CourtListener id, now kept by source name
        assert session.scalars(select(Case)).one().source_ids == {"courtlistener": "67569326"}
    with Session(engine) as session:  # each source's state, under its own source and target
        states = {(s.source, s.target): s.data for s in session.scalars(select(SourceState)).all()}
    assert states == {
        ("courtlistener", "entries:67569326"): {"modified_since": "2025-07-03T16:00:00Z"},
        ("courtlistener", "feed:67569326"): {"etag": 'W/"abc"', "last_modified": "Thu, 03 Jul 2025 16:00:00 GMT"},
        ("courtlistener", "throttle"): {"until": states[("courtlistener", "throttle")]["until"]},
        ("pacer_rss", "cand"): {"etag": '"f1"', "fingerprint": "9f86d0", "entry_types": "all"},
    }
    with Session(engine) as session:  # and read back through the sources' own models
        assert store.load_state(session, "courtlistener", "throttle", Throttle).until.replace(tzinfo=UTC) == AT
        assert store.load_state(session, "pacer_rss", "cand", FeedState).entry_types == "all"

    # At head, opening it again neither runs Alembic nor changes anything.
    monkeypatch.setattr(command, "upgrade", lambda *a: pytest.fail("ran Alembic at head"))
    again = store.open_engine(empty_database_url)
    assert revision(again) == migrations.HEAD and first_release_rows(again) == before
    for e in (old, engine, again):
        e.dispose()


def test_changed_events_are_carried_forward_with_their_changes_as_a_list(empty_database_url):
    """Before 0005 a "changed" event said what changed only in its summary; the upgrade
    reads it from there once, so digests of old events still list the changes."""
    old = first_release_database(empty_database_url)
    with old.begin() as connection:
        event = Table("event", MetaData(), autoload_with=connection)
        case_id, entry_id = connection.execute(select(event.c.case_id, event.c.entry_id).limit(1)).one()
        connection.execute(insert(event).values(
            case_id=case_id, entry_id=entry_id, kind="changed", source="courtlistener",
            summary="entry #598: text filled in; document now available", created_at=AT))
    old.dispose()
    engine = store.open_engine(empty_database_url)
    with Session(engine) as session:
        rows = session.scalars(select(Event).order_by(Event.id)).all()
        assert [(e.kind, e.changes) for e in rows] == [
            ("new", None), ("new", None), ("changed", ["text filled in", "document now available"])]
    engine.dispose()


def test_a_date_only_a_court_feed_gave_becomes_the_date_entered(empty_database_url):
    """Before 0006 an RSS item's pubDate was stored as date_filed. After the upgrade, an
    entry only a court feed showed has it as date_entered and no filing date (so the
    filing date CourtListener or a docket report gives is taken); an entry another
    source showed too keeps its date_filed, as it cannot be told which source gave it."""
    old = first_release_database(empty_database_url)
    with old.begin() as connection:
        entry = Table("entry", MetaData(), autoload_with=connection)
        case_id = connection.execute(select(entry.c.case_id).limit(1)).scalar_one()
        connection.execute(insert(entry).values(
            case_id=case_id, key="#602", entry_number="602", date_filed=date(2025, 7, 4), description="ORDER",
            content_hash="d4", sources="pacer_rss", first_seen=AT, updated_at=AT))
    old.dispose()
    engine = store.open_engine(empty_database_url)
    with Session(engine) as session:
        rows = {e.key: (e.date_filed, e.date_entered) for e in session.scalars(select(Entry))}
    assert rows == {"#598": (date(2025, 6, 25), None), "#601": (date(2025, 7, 3), None),
                    "#602": (None, date(2025, 7, 4))}
    engine.dispose()


# SQLite cannot reflect an expression index (ix_entry_case_day): compared on PostgreSQL only.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_models_and_migrations_agree(empty_database_url):
    """A model changed without a migration (or the other way round) fails here."""
    engine = store.open_engine(empty_database_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    engine.dispose()


def test_head_is_the_newest_revision():
    assert ScriptDirectory(migrations.SCRIPT_LOCATION).get_current_head() == migrations.HEAD


def test_commands_starting_together_migrate_once(empty_database_url):
    """Threads with an engine each race like processes do: separate connections."""
    with ThreadPoolExecutor(4) as pool:
        engines = list(pool.map(store.open_engine, [empty_database_url] * 4))
    assert {revision(engine) for engine in engines} == {migrations.HEAD}
    for engine in engines:
        engine.dispose()
