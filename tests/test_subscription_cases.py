"""Subscriptions keep what they owe: a case that joins one gets its events from then on
(not the history kept before), a renamed one (`renamed_from`) keeps its start and what
it was sent or still owes, a rename without the key is not silent, and a digest that
cannot be built is a health problem the operator hears about.

Events are made the real way (a fake CourtListener over loopback and a real `check`),
digests go through the real outbox to the Markdown channel, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlmodel import Session, select

from docketwatch import bootstrap as config_mod
from docketwatch import store
from docketwatch.ops import lock
from docketwatch.pipeline import digests, outbox
from docketwatch.store import migrations
from docketwatch.store.models import Delivery, Subscription, utcnow
from tests import servers
from tests.conftest import KADREY_ID, poll_cases, query, run_cli, write_config
from tests.test_digests import ANDERSEN, ANDERSEN_ID, KADREY, markdown_digest

pytestmark = [pytest.mark.usefixtures("cl_token"),
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]


@pytest.fixture
def watch(fake_cl, tmp_path, database_url):
    """Kadrey and Andersen on the fake server; returns a function that writes the
    configuration with the given cases and [[digests]] tables (the same database)."""
    fake_cl.load_kadrey()
    fake_cl.add_docket(ANDERSEN_ID, "cand", "3:23-cv-00201", "Andersen v. Stability AI Ltd.", pacer_case_id="407208")
    fake_cl.add_entry(ANDERSEN_ID, "1", "2023-01-13", "COMPLAINT against Stability AI Ltd.")

    def configure(tables: str, top: str = "") -> Path:
        path = write_config(tmp_path, fake_cl.base_url, cases=tables, database_url=database_url)
        path.write_text(top + "\n" + path.read_text())  # top-level keys go before any table
        return path

    return configure


def delivered(folder: Path) -> list[str]:
    """The docket entry numbers in every Markdown digest written to `folder`, in file order
    (a number twice: sent twice)."""
    return [n for f in sorted(folder.glob("*.md")) for n in re.findall(r"\*\*\\#(\d+)\*\*", f.read_text())]


def digest(path: Path) -> str:
    ran = run_cli(path, "digest")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout


def add_filings(fake_cl, *filings: tuple[int, str]) -> None:
    for docket, number in filings:
        fake_cl.add_entry(docket, number, "2025-07-02", f"ORDER number {number}. Signed by Judge X.")


def pending(path: Path) -> dict[str, int]:
    ran = run_cli(path, "status", "--json")
    assert ran.returncode == 0, ran.stderr
    import json

    return {c["name"].split()[0]: c["pending_events"] for c in json.loads(ran.stdout)["cases"]}


# -- a case that joins a subscription ----------------------------------------------

def test_a_case_added_to_a_subscription_brings_no_history(watch, fake_cl, tmp_path):
    """Andersen's filings went to "all" for months; adding Andersen to "kadrey" must not
    mail them to "kadrey" as news. What is filed after it joined is."""
    subs = markdown_digest("all")
    path = watch(KADREY + ANDERSEN + subs + markdown_digest("kadrey", cases=["Kadrey"]))
    poll_cases(path)  # baseline
    add_filings(fake_cl, (KADREY_ID, "600"), (ANDERSEN_ID, "174"))
    poll_cases(path)
    digest(path)
    assert delivered(tmp_path / "kadrey") == ["600"]

    path = watch(KADREY + ANDERSEN + subs + markdown_digest("kadrey", cases=["Kadrey", "Andersen"]))
    assert pending(path) == {"Kadrey": 0, "Andersen": 0}
    assert "nothing is due" in digest(path)
    assert delivered(tmp_path / "kadrey") == ["600"]

    add_filings(fake_cl, (ANDERSEN_ID, "175"), (KADREY_ID, "601"))
    poll_cases(path)
    assert pending(path) == {"Kadrey": 1, "Andersen": 1}
    digest(path)
    assert sorted(delivered(tmp_path / "kadrey")) == ["175", "600", "601"]
    assert sorted(delivered(tmp_path / "all")) == ["174", "175", "600", "601"]


def test_a_case_removed_then_watched_again_joins_afresh(watch, fake_cl, tmp_path):
    """Under a "*" subscription: Andersen's filings came while it was watched but before
    any digest; it is removed from the watchlist (those are no longer wanted), then
    watched again: what came before it was watched again is not news."""
    path = watch(KADREY + ANDERSEN + markdown_digest("all"))
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"), (ANDERSEN_ID, "174"))
    poll_cases(path)

    path = watch(KADREY + markdown_digest("all"))
    digest(path)
    assert delivered(tmp_path / "all") == ["600"]

    path = watch(KADREY + ANDERSEN + markdown_digest("all"))
    poll_cases(path)
    assert "nothing is due" in digest(path)
    add_filings(fake_cl, (ANDERSEN_ID, "175"))
    poll_cases(path)
    digest(path)
    assert sorted(delivered(tmp_path / "all")) == ["175", "600"]


def test_a_new_subscription_keeps_its_backfill_for_every_case_it_starts_with(watch, fake_cl, tmp_path):
    path = watch(KADREY + ANDERSEN + markdown_digest("all"))
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"), (ANDERSEN_ID, "174"))
    poll_cases(path)
    path = watch(KADREY + ANDERSEN + markdown_digest("all") + markdown_digest("late", backfill_days=1))
    digest(path)
    assert sorted(delivered(tmp_path / "late")) == ["174", "600"]


# -- renames -------------------------------------------------------------------------

def test_a_rename_with_renamed_from_keeps_what_was_sent_and_what_is_owed(watch, fake_cl, tmp_path, database_url):
    path = watch(KADREY + ANDERSEN + markdown_digest("daily", dir="out"))
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"))
    poll_cases(path)
    digest(path)  # 600 sent to "daily"
    add_filings(fake_cl, (KADREY_ID, "601"))
    poll_cases(path)
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    stored, errors = outbox.store_due(cfg, engine, cfg.digests, utcnow())  # 601: built, not delivered yet
    assert len(stored) == 1 and not errors
    add_filings(fake_cl, (ANDERSEN_ID, "174"))
    poll_cases(path)  # 174: not in any digest yet

    path = watch(KADREY + ANDERSEN + markdown_digest("morning", dir="out", renamed_from="daily"))
    out = digest(path)
    assert out.count("morning: sent") == 2, out  # the pending digest, and a new one
    assert sorted(delivered(tmp_path / "out")) == ["174", "600", "601"]
    assert "nothing is due" in digest(path)  # carried once: the key may stay
    status = run_cli(path, "status")
    assert "no longer configured" not in status.stdout
    with Session(engine) as session:
        assert {r.name: r.renamed_to for r in session.exec(select(Subscription))} == {"daily": "morning",
                                                                                       "morning": None}
        assert not session.exec(select(Delivery).where(Delivery.status == "pending")).all()


def daily_sent_600_and_owes_601(watch, fake_cl) -> None:
    """Kadrey under a subscription "daily" writing to the folder "out": 600 sent, 601 not yet."""
    path = watch(KADREY + markdown_digest("daily", dir="out"))
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"))
    poll_cases(path)
    digest(path)
    add_filings(fake_cl, (KADREY_ID, "601"))
    poll_cases(path)


def test_a_rename_without_the_key_is_reported_and_the_key_added_later_delivers_what_was_owed(
        watch, fake_cl, tmp_path):
    daily_sent_600_and_owes_601(watch, fake_cl)

    path = watch(KADREY + markdown_digest("morning", dir="out"))
    assert "nothing is due" in digest(path)  # "morning" starts now
    status = run_cli(path, "status")
    assert ("subscription 'daily' is no longer configured; not sent to it: 1 event of its cases since its last "
            'digest; if it was renamed, add renamed_from = "daily" to its [[digests]] table' in status.stdout), status.stdout
    # Owed and sent by nobody: unhealthy too, so a monitor that watches --health hears of it.
    health = run_cli(path, "status", "--health")
    assert health.returncode == 1 and ("subscription 'daily' is no longer configured and is owed 1 event: add "
                                       "renamed_from = 'daily'") in health.stderr, health.stderr
    add_filings(fake_cl, (KADREY_ID, "602"))
    poll_cases(path)
    digest(path)  # 602 to "morning"

    path = watch(KADREY + markdown_digest("morning", dir="out", renamed_from="daily"))
    digest(path)
    assert sorted(delivered(tmp_path / "out")) == ["600", "601", "602"]
    assert "no longer configured" not in run_cli(path, "status").stdout


def test_a_renamed_subscription_that_owed_nothing_is_still_named(watch, fake_cl, tmp_path):
    """A rename without the key is a new subscription, `backfill_days` and all: even when
    the old name owed nothing, `status` says so, since the new one may send again what
    the old one sent."""
    path = watch(KADREY + markdown_digest("daily", dir="out"))
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"))
    poll_cases(path)
    digest(path)
    path = watch(KADREY + markdown_digest("morning", dir="out"))
    status = run_cli(path, "status").stdout
    assert "subscription 'daily' is no longer configured; not sent to it: 0 events" in status, status
    assert "no longer configured" not in run_cli(path, "status", "--health").stderr  # it owes nothing


def test_a_rename_without_the_key_backfills_nothing_its_recipients_had(watch, fake_cl, tmp_path):
    """A rename without `renamed_from` is a new subscription, `backfill_days` and all; what
    it backfills goes only where it was not sent before: the same folder does not get
    600 again, another folder does, and what is new goes to both."""
    path = watch(KADREY + markdown_digest("daily", dir="out"))
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"))
    poll_cases(path)
    digest(path)
    assert delivered(tmp_path / "out") == ["600"]
    path = watch(KADREY + markdown_digest("morning", dir="out", backfill_days=1)
                 + markdown_digest("archive", backfill_days=1))
    assert pending(path) == {"Kadrey": 1}  # 600, owed to the archive only
    digest(path)
    assert delivered(tmp_path / "out") == ["600"]
    assert delivered(tmp_path / "archive") == ["600"]
    add_filings(fake_cl, (KADREY_ID, "601"))
    poll_cases(path)
    digest(path)
    assert delivered(tmp_path / "out") == ["600", "601"]
    assert delivered(tmp_path / "archive") == ["600", "601"]


def test_renamed_from_that_does_not_fit_is_one_line_and_exit_2(watch, fake_cl, tmp_path):
    path = watch(KADREY + markdown_digest("daily") + markdown_digest("morning", renamed_from="daily"))
    ran = run_cli(path, "digest")
    assert ran.returncode == 2
    assert ran.stderr.strip().splitlines() == [
        f"Error: {path}: digests[2].renamed_from = 'daily': a [[digests]] of that name is still configured; "
        "remove the key, or rename that subscription"]

    # On a database that has recorded no subscription yet (a new one), the key does nothing.
    path = watch(KADREY + markdown_digest("morning", renamed_from="daily"))
    assert run_cli(path, "digest").returncode == 0
    # Where subscriptions are recorded, a name it never saw is a typo.
    path = watch(KADREY + markdown_digest("evening", renamed_from="dialy"))
    for command_ in (["digest"], ["check"]):
        ran = run_cli(path, *command_)
        assert ran.returncode == 2, ran.stdout + ran.stderr
        assert ran.stderr.strip().splitlines() == [
            f"docketwatch: {path}: [[digests]] 'evening': renamed_from = 'dialy': this database has no subscription "
            "of that name; remove the key (a subscription is recorded when check, digest or run first sees it)"]


# -- upgrade ------------------------------------------------------------------------------

def test_a_database_from_before_the_upgrade_delivers_exactly_what_it_would_have(watch, fake_cl, tmp_path,
                                                                                database_url):
    """Subscriptions recorded by the previous release (migration 0011), with events
    delivered and events owed: the first run after the upgrade sends what is owed, no
    history, and nothing twice."""
    path = watch(KADREY + ANDERSEN + markdown_digest("mine", cases=["Kadrey", "Andersen"])
                 + markdown_digest("all"))
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"), (ANDERSEN_ID, "174"))
    poll_cases(path)
    digest(path)
    add_filings(fake_cl, (KADREY_ID, "601"), (ANDERSEN_ID, "175"))
    poll_cases(path)
    engine = store.open_engine(database_url)
    with engine.begin() as connection:
        command.downgrade(migrations.alembic_config(connection), "0011_read_indexes")
    engine.dispose()

    assert pending(path) == {"Kadrey": 1, "Andersen": 1}  # read before anything is recorded
    digest(path)
    assert sorted(delivered(tmp_path / "mine")) == ["174", "175", "600", "601"]
    assert sorted(delivered(tmp_path / "all")) == ["174", "175", "600", "601"]
    add_filings(fake_cl, (ANDERSEN_ID, "176"))
    poll_cases(path)
    digest(path)
    assert sorted(delivered(tmp_path / "mine")) == ["174", "175", "176", "600", "601"]


# -- a digest that cannot be built ------------------------------------------------------

def test_a_digest_that_cannot_be_built_is_unhealthy_and_alerts_once_then_once_on_recovery(
        watch, fake_cl, tmp_path, smtp_server, monkeypatch):
    """A Markdown template that works until a digest has no changed entry (real data):
    `status --health` names the subscription and the error, `status` shows it, and the
    operator gets one email when it starts failing and one when it is built again."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "digest.md.j2").write_text("{{ digest.cases[0].changed[0].text }}\n")
    admin = '\n[admin]\nto = ["ops@example.org"]\n' + servers.smtp_table(smtp_server.port)
    path = watch(KADREY + markdown_digest("all") + admin, top='templates_dir = "mine"')
    env = {"SMTP_TEST_PASSWORD": servers.PASSWORD}
    monkeypatch.setenv("SMTP_TEST_PASSWORD", servers.PASSWORD)  # for the polls in process
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"))
    poll_cases(path)

    reason = "the digest for 'all' cannot be built (since "
    error = "UndefinedError: list object has no element 0"
    for _ in range(2):
        ran = run_cli(path, "digest", env=env)
        assert ran.returncode == 3 and "error: all: building the digest failed:" in ran.stdout, ran
        assert error.partition(": ")[2] in ran.stdout and "Traceback" not in ran.stdout + ran.stderr
    alerts = [m["Subject"] for _, m in smtp_server.received]
    assert alerts == ["docketwatch: the digest for 'all' cannot be built"]
    assert error in smtp_server.received[0][1].get_body(("plain",)).get_content()

    health = run_cli(path, "status", "--health", env=env)
    assert health.returncode == 1
    assert any(line.startswith(f"unhealthy: {reason}") and line.endswith(f"): {error}")
               for line in health.stderr.splitlines()), health.stderr
    status = run_cli(path, "status", env=env)
    assert reason in status.stdout and error in status.stdout

    (mine / "digest.md.j2").write_text("{{ digest.summary }}\n")
    ran = run_cli(path, "digest", env=env)
    assert ran.returncode == 0 and "all: sent" in ran.stdout, ran
    assert [m["Subject"] for _, m in smtp_server.received] == [
        "docketwatch: the digest for 'all' cannot be built", "docketwatch: the digest for 'all' is built again"]
    assert reason not in run_cli(path, "status", "--health", env=env).stderr
    assert (tmp_path / "all").is_dir() and len(list((tmp_path / "all").glob("*.md"))) == 1



def test_run_refuses_a_renamed_from_that_does_not_fit_and_a_reload_keeps_the_configuration_it_has(
        watch, fake_cl, tmp_path, caplog):
    from docketwatch.ops import service

    path = watch(KADREY + markdown_digest("morning", renamed_from="dialy"))
    ran = run_cli(path, "run", "--once")
    assert ran.returncode == 2 and ran.stderr.strip().splitlines()[-1].endswith(
        "renamed_from = 'dialy': this database has no subscription of that name; remove the key (a subscription "
        "is recorded when check, digest or run first sees it)"), ran

    path = watch(KADREY + markdown_digest("morning"))
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    digests.record_subscriptions(engine, cfg)  # as `run` does first
    running = service.Service(cfg, engine, load=lambda: config_mod.load(path))
    path = watch(KADREY + markdown_digest("evening", renamed_from="dialy"))
    running.reload()
    assert [d.name for d in running.config.digests] == ["morning"]
    assert "the configuration file was edited but cannot be used" in caplog.text and "'dialy'" in caplog.text
    path = watch(KADREY + markdown_digest("evening", renamed_from="morning"))
    running.reload()
    assert [d.name for d in running.config.digests] == ["evening"]
    with Session(engine) as session:
        assert session.get(Subscription, "morning").renamed_to == "evening"
    engine.dispose()


def test_a_removed_subscription_is_named_until_it_is_given_up(watch, fake_cl, tmp_path):
    path = watch(KADREY + markdown_digest("daily") + markdown_digest("other"))
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"))
    poll_cases(path)
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    outbox.store_due(cfg, engine, cfg.digests, utcnow())  # built for both, not delivered yet
    add_filings(fake_cl, (KADREY_ID, "601"))
    poll_cases(path)

    path = watch(KADREY + markdown_digest("other"))
    assert "daily" not in digest(path)
    status = run_cli(path, "status").stdout
    assert ("subscription 'daily' is no longer configured; not sent to it: 1 event of its cases since its last "
            "digest, 1 pending delivery of its digests; if it was renamed, add renamed_from = \"daily\" to its "
            "[[digests]] table; if it was removed: docketwatch digest --forget daily") in status, status
    ran = run_cli(path, "digest", "--forget", "daily")
    assert ran.returncode == 0 and ran.stdout == (
        "gave up the subscription 'daily': 1 event of its cases not sent to it, 1 pending delivery dropped\n")
    assert "no longer configured" not in run_cli(path, "status").stdout
    assert not (tmp_path / "daily").exists() and sorted(delivered(tmp_path / "other")) == ["600", "601"]
    with Session(engine) as session:
        assert not session.exec(select(Delivery).where(Delivery.status == "pending")).all()
    for name, why in [("daily", "this database has no subscription 'daily' that is no longer configured"),
                      ("other", "'other' is configured; remove its [[digests]] table first")]:
        ran = run_cli(path, "digest", "--forget", name)
        assert ran.returncode == 2 and ran.stderr.strip().splitlines()[-1].startswith(f"Error: --forget: {why}"), ran
    engine.dispose()


def test_processes_recording_the_same_cases_at_once_both_go_on(watch, database_url):
    """`run`'s outbox and a `check` record a widened subscription at the same moment: one
    writes, the other finds the rows written (no error, nothing recorded twice)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from docketwatch.store.models import SubscriptionCase

    path = watch(KADREY + ANDERSEN + markdown_digest("mine", cases=["Kadrey"]))
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    digests.record_subscriptions(engine, cfg)
    wider = config_mod.load(watch(KADREY + ANDERSEN + markdown_digest("mine", cases=["Kadrey", "Andersen"])))
    barrier = Barrier(4)

    def record(_: int) -> None:
        barrier.wait(timeout=30)
        digests.record_subscriptions(engine, wider)

    for _ in range(5):
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(record, range(4)))
    with Session(engine) as session:
        rows = session.exec(select(SubscriptionCase)).all()
        assert sorted((r.docket_number, r.joined_at is None) for r in rows) == [
            ("3:23-cv-00201", False), ("3:23-cv-03417", True)]
    engine.dispose()


# -- settled events: what a subscription is owed is read after `settled_through` -------

def days_pass(url: str, days: float) -> None:
    """Move every stored moment of the events, subscriptions and digests `days` back, as
    if that long had passed since."""
    from docketwatch.store.models import CheckRun, Digest, Event, SubscriptionCase

    moments = {Event: ["created_at"], Subscription: ["first_seen"], SubscriptionCase: ["joined_at"],
               Digest: ["period_start", "period_end", "created_at"], Delivery: ["next_attempt_at", "sent_at"],
               CheckRun: ["started_at", "finished_at"]}
    engine = store.open_engine(url)
    with Session(engine) as session:
        for model, names in moments.items():
            for row in session.exec(select(model)):
                for name in names:
                    if (moment := getattr(row, name)) is not None:
                        setattr(row, name, moment - timedelta(days=days))
                session.add(row)
        session.commit()
    engine.dispose()


def settled(url: str, name: str) -> int | None:
    return query(url, select(Subscription.settled_through).where(Subscription.name == name))


def event_id(url: str, number: str) -> int:
    """The id of the event of the filing `number`."""
    from docketwatch.store.models import Entry, Event

    return query(url, select(Event.id).join(Entry, Entry.id == Event.entry_id).where(Entry.entry_number == number))


def test_events_settle_two_days_after_they_are_made_and_reads_start_after_them(
        watch, fake_cl, tmp_path, database_url):
    path = watch(KADREY + markdown_digest("all"))
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"))
    poll_cases(path)
    digest(path)
    assert settled(database_url, "all") is None  # nothing two days old yet
    days_pass(database_url, 5)
    add_filings(fake_cl, (KADREY_ID, "601"))
    poll_cases(path)
    digest(path)
    # 600 and all before it, sent days ago, are settled; 601, sent now, is not yet.
    assert settled(database_url, "all") == event_id(database_url, "600")
    days_pass(database_url, 3)
    digest(path)
    assert settled(database_url, "all") == event_id(database_url, "601")

    # Reads start after it: an event up to it is not read again, even one whose digest is gone.
    from docketwatch.store.models import DigestEvent

    with Session(engine := store.open_engine(database_url)) as session:
        for link in session.exec(select(DigestEvent)):
            session.delete(link)
        session.commit()
    engine.dispose()
    assert pending(path) == {"Kadrey": 0}
    assert "nothing is due" in digest(path)
    add_filings(fake_cl, (KADREY_ID, "602"))
    poll_cases(path)
    assert pending(path) == {"Kadrey": 1}
    digest(path)
    assert delivered(tmp_path / "all") == ["600", "601", "602"]


def test_an_event_still_owed_holds_settling_back_until_it_is_delivered(watch, fake_cl, tmp_path, database_url):
    """A digest its channel cannot deliver (the folder is a file) keeps its event owed:
    days later it is not settled, and once the folder is fixed it is sent and settled."""
    (tmp_path / "all").write_text("not a folder")
    path = watch(KADREY + markdown_digest("all"))
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"))
    poll_cases(path)
    run_cli(path, "digest")  # stored, not delivered
    days_pass(database_url, 5)
    run_cli(path, "digest")
    assert settled(database_url, "all") == event_id(database_url, "600") - 1
    assert pending(path) == {"Kadrey": 1}
    (tmp_path / "all").unlink()
    run_cli(path, "digest", "--retry-failed")
    assert delivered(tmp_path / "all") == ["600"]
    assert settled(database_url, "all") == event_id(database_url, "600")


def test_a_subscription_edited_reads_every_kept_event_again(watch, fake_cl, tmp_path, database_url):
    """Widening `include` makes an old filing it passed over wanted, as it always was:
    what was settled under the old filter does not hold under the new one."""
    path = watch(KADREY + markdown_digest("sealed", include=["SEALED"]))
    poll_cases(path)
    add_filings(fake_cl, (KADREY_ID, "600"))
    poll_cases(path)
    assert "nothing is due" in digest(path)
    days_pass(database_url, 5)
    digest(path)
    assert settled(database_url, "sealed") == event_id(database_url, "600")  # not wanted: settled
    path = watch(KADREY + markdown_digest("sealed", include=["SEALED", "ORDER"]))
    digest(path)
    assert delivered(tmp_path / "sealed") == ["600"]


def test_a_rename_carried_later_reads_what_the_old_name_owed_though_the_new_one_settled(
        watch, fake_cl, tmp_path, database_url):
    daily_sent_600_and_owes_601(watch, fake_cl)
    days_pass(database_url, 5)
    path = watch(KADREY + markdown_digest("morning", dir="out"))
    digest(path)  # "morning" starts now: 601 is not its own, and settled
    assert settled(database_url, "morning") == event_id(database_url, "601")
    path = watch(KADREY + markdown_digest("morning", dir="out", renamed_from="daily"))
    digest(path)
    assert delivered(tmp_path / "out") == ["600", "601"]


def test_a_run_refused_for_another_holding_the_database_changes_no_subscription(watch, tmp_path, database_url):
    """A second `run` (a unit restarted while the first still runs) must not rename or
    record subscriptions in the database the first one delivers from."""
    path = watch(KADREY + markdown_digest("daily", dir="out"))
    poll_cases(path)
    engine = store.open_engine(config_mod.load(path).database.url)
    held = lock.acquire(engine, "host-a:101")
    try:
        renamed = watch(KADREY + markdown_digest("morning", dir="out", renamed_from="daily"))
        ran = run_cli(renamed, "run", "--once")
        assert ran.returncode == 3 and "another docketwatch run uses this database" in ran.stderr
        with Session(engine) as session:
            assert {r.name: r.renamed_to for r in session.exec(select(Subscription))} == {"daily": None}
    finally:
        held.release()
