"""The poll's store step: a batch per fetch, a savepoint per case, no per-case work for a 304.

Through the real poll, diff engine and database (SQLite and PostgreSQL), and the real
court-feed source against a loopback feed; where a case must fail while being stored,
a subclass of the court-feed source hands the poll a snapshot the database refuses.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from sqlalchemy import event, func
from sqlmodel import Session, select

from docketwatch import bootstrap, store
from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry, Snapshot
from docketwatch.pipeline import poll
from docketwatch.settings import Config
from docketwatch.sources.base import SourceContext
from docketwatch.sources.pacer_rss import FeedState, PacerRssSource
from docketwatch.store.models import Case, CheckRun, Entry, Event
from tests.servers import NYSB_FEED, with_new_item


def feed_config(tmp_path: Path, database_url: str, url_template: str, extra_cases: int = 0) -> Config:
    """SunEdison and Fremak (both in the real S.D.N.Y. Bankruptcy feed), and cases the feed never mentions."""
    numbers = ["16-10992-smb", "15-11740"] + [f"19-{9000 + i}" for i in range(extra_cases)]
    cases = "".join(f'[[cases]]\nname = "Case {n}"\ncourt = "nysb"\ndocket_number = "{n}"\nsources = ["pacer_rss"]\n'
                    for n in numbers)
    path = tmp_path / "dw.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n[sources.pacer_rss]\nurl_template = "{url_template}"\n'
                    + cases)
    return bootstrap.load(path)


def statements_of_a_check(config: Config) -> int:
    engine = store.open_engine(config.database.url)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    results = poll.check(config, engine, config.cases)
    assert all(r.ok for r in results)
    return len(seen)


def test_an_unchanged_feed_costs_the_same_statements_for_2_cases_as_for_40(tmp_path, court_feed):
    counts = {}
    for extra in (0, 38):
        folder = tmp_path / str(extra)
        folder.mkdir()
        config = feed_config(folder, f"sqlite:///{folder / 'dw.db'}", court_feed.url_template, extra)
        statements_of_a_check(config)  # the baseline
        court_feed.responses.clear()
        counts[extra] = statements_of_a_check(config)  # 304
        assert court_feed.responses == [304]
        engine = store.open_engine(config.database.url)
        with Session(engine) as session:  # every case's poll is on record, successful
            runs = session.exec(select(CheckRun.case_id, func.count()).where(CheckRun.ok)
                                .group_by(CheckRun.case_id)).all()
            assert len(runs) >= len(config.cases) and all(n >= 2 for _, n in runs)
    assert counts[38] == counts[0], counts


def test_a_feed_with_a_new_item_reports_it_once_and_the_304_after_it_nothing(tmp_path, database_url, court_feed):
    config = feed_config(tmp_path, database_url, court_feed.url_template, extra_cases=3)
    engine = store.open_engine(config.database.url)
    poll.check(config, engine, config.cases)
    court_feed.body = with_new_item(NYSB_FEED)
    results = {r.case.docket_number: r for r in poll.check(config, engine, config.cases)}
    assert [e.number for e in results["16-10992"].new] == ["5238"]
    assert all(not r.new for n, r in results.items() if n != "16-10992")
    again = poll.check(config, engine, config.cases)
    assert court_feed.responses[-1] == 304 and all(not r.new and r.ok for r in again)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Event).where(Event.kind == "new")).one() == 1


class RefusedCase(PacerRssSource):
    """The court feed, except that the second case's snapshot holds an entry the database
    refuses (a date that is not a date), after a valid one: it fails halfway through."""

    def fetch(self, cases: list[Case], ctx: SourceContext) -> Iterator[tuple[Case, Snapshot | Exception]]:
        for i, case in enumerate(cases):
            entries = [ParsedEntry(entry_number="1", date_filed=date(2026, 11, 2), description="Complaint")]
            if i == 1:
                entries.append(ParsedEntry(entry_number="2", date_filed="not a date",  # type: ignore[arg-type]
                                           description="Answer"))
            docket = ParsedDocket(court=case.court, docket_number=case.docket_number, entries=entries)
            yield case, Snapshot(source=self.name, docket=docket, delta=True,
                                 state={case.court: FeedState(fingerprint="read")})


def test_a_case_failing_halfway_in_a_batch_keeps_the_others_work_and_leaves_nothing_of_its_own(
        tmp_path, database_url):
    config = feed_config(tmp_path, database_url, "http://127.0.0.1:9/{court}", extra_cases=1)
    config.source_plugins["pacer_rss"] = RefusedCase(config.source_plugins["pacer_rss"].settings)
    engine = store.open_engine(config.database.url)
    results = poll.check(config, engine, config.cases)
    assert [r.ok for r in results] == [True, False, True]
    with Session(engine) as session:
        ids = [store.find_case(session, c).id for c in config.cases]  # type: ignore[union-attr]
        entries = {i: session.exec(select(Entry.entry_number).where(Entry.case_id == i)).all() for i in ids}
        assert entries == {ids[0]: ["1"], ids[1]: [], ids[2]: ["1"]}
        runs = {r.case_id: r.ok for r in session.exec(select(CheckRun))}
        assert runs == {ids[0]: True, ids[1]: False, ids[2]: True}
        errors = session.exec(select(Event.case_id).where(Event.kind == "error")).all()
        assert errors == [ids[1]]
        assert store.load_state(session, "pacer_rss", "nysb", FeedState).fingerprint == "read"


def test_a_poll_leaves_the_garbage_collector_as_it_found_it_even_when_it_fails(tmp_path, court_feed):
    """A poll holds collections back while it runs (poll._fewer_collections) but freezes
    nothing out of the collector's reach (frozen garbage is kept until a rare full
    collection); afterwards, failed or not, the collector's thresholds are what they were."""
    config = feed_config(tmp_path, f"sqlite:///{tmp_path / 'dw.db'}", court_feed.url_template)
    engine = store.open_engine(config.database.url)
    before = gc.get_threshold(), gc.get_freeze_count()
    during: list[tuple[tuple[int, int, int], int]] = []

    def fail(result: poll.CaseResult) -> None:
        during.append((gc.get_threshold(), gc.get_freeze_count()))
        raise RuntimeError("the caller's progress line failed")

    try:
        poll.check(config, engine, config.cases, on_result=fail)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failure was not raised")
    assert during and during[0][0][0] > before[0][0] and during[0][1] == 0  # held back while it ran
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
    assert all(r.ok for r in poll.check(config, engine, config.cases))
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
