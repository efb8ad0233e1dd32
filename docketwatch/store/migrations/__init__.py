"""Schema migrations (Alembic), applied by `store.open_engine` whenever a command starts.

Users need no alembic.ini and run nothing by hand: a new database is built from the
revisions in versions/, an older one is upgraded in place, and a database at HEAD costs
two small queries (Alembic itself is imported only when there is work to do).

To change the schema: change models.py, add the next revision to versions/ (explicit
`op` calls, `down_revision` = the previous revision) and set HEAD to it.
tests/test_migrations.py fails until the models, the revisions and HEAD agree.
There are no downgrades: to go back to an older docketwatch, restore a backup.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = str(Path(__file__).parent)
VERSION_TABLE = "alembic_version"
FIRST = "0001_first_schema"
HEAD = "0017_entry_entered_index"  # the newest revision in versions/ (a test checks)
# Any constant, the same in every process: the PostgreSQL advisory lock migrations hold.
_PG_LOCK_KEY = 0x646F636B  # "dock"


class UnknownRevision(Exception):
    """The database is at a revision this docketwatch does not have: a newer one wrote it."""


def upgrade(engine: Engine) -> None:
    """Bring the database to HEAD, without losing rows, once even when processes start together."""
    with engine.connect() as connection:
        if current_revision(connection) == HEAD:
            return
    with engine.begin() as connection:
        _lock(connection)
        revision = current_revision(connection)  # another process may have just migrated
        if revision == HEAD:
            return
        from alembic import command  # only now: importing Alembic takes a noticeable part of startup
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        config = alembic_config(connection)
        if revision is not None:
            try:
                ScriptDirectory.from_config(config).get_revision(revision)
            except CommandError:  # Alembic cannot locate it
                raise UnknownRevision(revision) from None
        if revision is None and inspect(connection).has_table("case"):
            # Made by the first release: its create_all made FIRST's tables, with no version table.
            command.stamp(config, FIRST)
        command.upgrade(config, "head")


def is_docketwatch(connection: Connection) -> bool:
    """Empty, or docketwatch's: every docketwatch database, the first release's too (which
    had no version table), has the `case`, `entry` and `event` tables. Another
    application's tables, even one named `case`, are left alone."""
    tables = set(inspect(connection).get_table_names())
    return not tables or {"case", "entry", "event"} <= tables


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None without a version table (new, or the first release's)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def alembic_config(connection: Connection) -> Config:
    """What an alembic.ini would say, plus the connection env.py migrates (in its transaction)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def _lock(connection: Connection) -> None:
    """Hold a database-wide lock until this transaction ends, so only one process migrates."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # pysqlite would begin only at the first INSERT; DDL before it would run unlocked.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
