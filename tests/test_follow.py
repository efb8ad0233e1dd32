"""Following a case where it goes, and finding new cases: through `check`, `digest`,
`follow` and the configuration file, against the loopback CourtListener and court feed."""

from __future__ import annotations

import difflib
import json
import sqlite3
from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from docketwatch import store
from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry, Snapshot
from docketwatch.pipeline import diff
from docketwatch.store.models import Case, Event, Suggestion
from tests.conftest import KADREY_ID, run_cli, write_config
from tests.servers import NYSB_FEED, with_new_item
from tests.test_pacer_rss import rss_config

USCA_TEXT = ("USCA Case Number 25-5410 for 603 Notice of Appeal to the Ninth Circuit filed by Richard Kadrey. "
             "(dt, COURT STAFF) (Filed on 7/25/2025)")


def with_digest(config, tmp_path, extra: str = "", top: str = ""):
    text = config.read_text()
    config.write_text(f"{top}\n{text}\n[[digests]]\nname = \"all\"\nchannel = \"markdown\"\n"
                      f"dir = \"{tmp_path / 'out'}\"\n{extra}")
    return config


def events(tmp_path, kind: str) -> list[str]:
    with sqlite3.connect(tmp_path / "dw.db") as db:
        return [s for (s,) in db.execute("SELECT summary FROM event WHERE kind = ? ORDER BY id", (kind,))]


def test_an_appeal_is_announced_once_and_follow_adds_it_to_the_file_keeping_it(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    config = with_digest(write_config(tmp_path, fake_cl.base_url), tmp_path)
    assert run_cli(config, "check").returncode == 0  # baseline: history is not news

    # The clerk's entry arrives as a stub; its text, with the USCA number, is filled in later.
    fake_cl.add_entry(KADREY_ID, "603", "2025-07-24", "NOTICE OF APPEAL to the 9th Circuit Court of Appeals "
                      "filed by Richard Kadrey. Filing fee $ 605, receipt number ACANDC-1.")
    fake_cl.add_entry(KADREY_ID, "604", "2025-07-25", "", short="USCA Case Number")
    assert run_cli(config, "check").returncode == 0
    assert events(tmp_path, "linked") == []  # a notice of appeal opens no docket until it has its number
    fake_cl.update_entry(KADREY_ID, "604", description=USCA_TEXT)
    assert run_cli(config, "check").returncode == 0
    fake_cl.add_entry(KADREY_ID, "605", "2025-07-28", "Appeal Record Sent to USCA (Electronic File) for 603 "
                      "Notice of Appeal. USCA Case Number 25-5410.")
    assert run_cli(config, "check").returncode == 0
    assert events(tmp_path, "linked") == [
        "entry #604: appeal: ca9 25-5410 (to watch it: docketwatch add --suggestion 1)"]  # once, though named twice

    listed = run_cli(config, "suggestions")
    assert listed.returncode == 0
    assert listed.stdout.split() == ["1", "suggested", "ca9", "25-5410", "appeal", "Kadrey", "v.", "Meta",
                                     "Platforms,", "Inc.", "(appeal)"]
    digest = run_cli(config, "digest", "--dry-run")
    assert "- **Linked docket:** entry #604: appeal: ca9 25-5410 (to watch it: docketwatch add --suggestion 1)" \
        in digest.stdout
    assert "1 linked docket" in digest.stdout

    before = config.read_text()
    followed = run_cli(config, "add", "--suggestion", "1")
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout == (f"Kadrey v. Meta Platforms, Inc. (appeal) (ca9 25-5410): added to "
                               f"{config}; polled from the next check or start of `run`\n")
    after = config.read_text()
    removed = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line.startswith("- ")]
    assert removed == [] and after.count("[[cases]]") == 2  # every line kept, one case added
    cases = json.loads(run_cli(config, "cases", "--json").stdout)["cases"]
    assert [(c["court"], c["docket_number"]) for c in cases] == [("cand", "3:23-cv-03417"), ("ca9", "25-5410")]
    assert run_cli(config, "add", "--suggestion", "1").stdout.endswith(f"already in {config}; polled from the next check or "
                                                          "start of `run`\n")
    assert config.read_text() == after
    assert run_cli(config, "suggestions").stdout == "no suggestions waiting (--all lists answered ones)\n"
    # A suggestion is added by its id alone; `add` without anything to add says what it takes.
    mixed = run_cli(config, "add", "--suggestion", "1", "cand", "3:23-cv-03417")
    assert mixed.returncode == 2 and "--suggestion ID takes no URL" in mixed.stderr
    empty = run_cli(config, "add")
    assert empty.returncode == 2 and "or --suggestion ID" in empty.stderr
    assert config.read_text() == after
    assert "watched" in run_cli(config, "suggestions", "--all").stdout


@pytest.mark.parametrize("follow", ["off", "auto"])
def test_follow_off_ignores_links_and_auto_adds_them(fake_cl, tmp_path, follow):
    fake_cl.load_kadrey()
    config = with_digest(write_config(tmp_path, fake_cl.base_url), tmp_path, top=f'follow = "{follow}"')
    assert run_cli(config, "check").returncode == 0
    fake_cl.add_entry(KADREY_ID, "604", "2025-07-25", USCA_TEXT)
    assert run_cli(config, "check").returncode == 0
    cases = json.loads(run_cli(config, "cases", "--json").stdout)["cases"]
    if follow == "off":
        assert events(tmp_path, "linked") == [] and len(cases) == 1
    else:
        assert events(tmp_path, "linked") == ["entry #604: appeal: ca9 25-5410 (follow = auto: added to the watchlist)"]
        assert [(c["court"], c["docket_number"]) for c in cases][1] == ("ca9", "25-5410")
        assert "watched" in run_cli(config, "suggestions", "--all").stdout


DISCOVER = '''
[[discover]]
name = "energy"
parties = ["Breitburn Energy"]

[[discover]]
name = "elsewhere"
parties = ["Grim"]
courts = ["cand"]

[[discover]]
name = "grim"
parties = ["grim"]
'''


def test_discover_rules_match_the_court_feed_already_read_and_announce_each_case_once(tmp_path, court_feed):
    config = rss_config(tmp_path, court_feed)
    config.write_text(config.read_text() + DISCOVER)
    config = with_digest(config, tmp_path, extra='\n[[digests]]\nname = "one case"\nchannel = "markdown"\n'
                                               f'dir = "{tmp_path / "one"}"\ncases = ["SunEdison"]\n')
    assert run_cli(config, "check").returncode == 0
    assert court_feed.responses == [200]  # the feed the watched cases need, and nothing more
    assert events(tmp_path, "new_case") == [
        "Breitburn Energy Partners LP, et al., (nysb 16-11390) matches [[discover]] 'energy': Monthly Fee Statement "
        "(to watch it: docketwatch add --suggestion 1)",
        "Steven Jay Grim and Darcy Joan Grim (nysb 18-35641) matches [[discover]] 'grim': Add Judge AND Add Trustee "
        "(to watch it: docketwatch add --suggestion 2)",
    ]
    court_feed.body = with_new_item(NYSB_FEED)  # the same cases, among others, in the next feed
    assert run_cli(config, "check").returncode == 0 and len(events(tmp_path, "new_case")) == 2

    everything = run_cli(config, "digest", "--dry-run", "--name", "all").stdout
    assert "## New cases (2)" in everything and "Steven Jay Grim" in everything
    one_case = run_cli(config, "digest", "--dry-run", "--name", "one case")
    assert one_case.returncode == 0, one_case.stderr
    assert "#5238** entered 2018-04-20: Order Confirming Plan" in one_case.stdout  # its own case's filing
    assert "Steven Jay Grim" not in one_case.stdout
    preview = run_cli(config, "preview", "--format", "txt").stdout
    assert preview.startswith("docketwatch: 1 new filing, 2 new cases in 1 case\n") and "NEW CASES (2)" in preview

    assert run_cli(config, "add", "--suggestion", "2").returncode == 0
    cases = json.loads(run_cli(config, "cases", "--json").stdout)["cases"]
    assert cases[-1]["name"] == "Steven Jay Grim and Darcy Joan Grim" and cases[-1]["docket_number"] == "18-35641"


def test_an_mdl_numbering_its_documents_its_own_way_is_no_gap(tmp_path):
    """recap#406: a member case shows the MDL's filings under the MDL's numbers; the jump
    from 5 to 1250 says nothing about missed entries."""
    engine = store.open_engine(f"sqlite:///{tmp_path / 'dw.db'}")
    with Session(engine) as session:
        case = Case(court="cand", docket_number="3:23-cv-03223", name="Tremblay v. OpenAI")
        session.add(case)
        session.flush()

        def snapshot(numbers):
            entries = [ParsedEntry(str(n), date(2025, 4, 1), f"ORDER {n}") for n in numbers]
            return Snapshot("courtlistener", ParsedDocket("cand", "3:23-cv-03223", entries=entries), window=5)

        diff.apply(session, case, snapshot(range(1, 6)))
        case.baseline_at = datetime(2025, 4, 1, tzinfo=UTC)
        result = diff.apply(session, case, snapshot([4, 5, 1250, 1251, 1252]))
        assert result.gaps == [] and [e.number for e in result.new] == ["1250", "1251", "1252"]
        assert session.exec(select(Event).where(Event.kind == "gap")).all() == []


@pytest.mark.parametrize(("toml", "message"), [
    ('[[discover]]\nname = "x"\ncourts = ["cand"]\n', "discover[1]"),
    ('[[discover]]\nname = "x"\nparties = ["OpenAI"]\ncourts = ["Northern California"]\n', "discover[1].courts"),
    ('[[discover]]\nname = "x"\nparties = ["OpenAI"]\ncourts = ["cnad"]\n',  # a typo of cand: would never match
     "discover[1].courts = ['cnad']: 'cnad' is not a CourtListener court id"),
    ('follow = "sometimes"\n', "follow = 'sometimes'"),
])
def test_bad_follow_and_discover_settings_are_one_line_errors(tmp_path, toml, message):
    config = tmp_path / "docketwatch.toml"
    config.write_text(f'{toml}\n[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n')
    ran = run_cli(config, "cases")
    assert ran.returncode == 2 and message in ran.stderr and len(ran.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("rule", "court", "number", "name", "text", "expected"), [
    ({"parties": ["Meta Platforms"]}, "cand", "3:25-cv-01000", "Doe v. Meta Platforms, Inc.", "COMPLAINT", True),
    ({"parties": ["Meta"]}, "cand", "3:25-cv-01000", "Doe v. Metadata Labs LLC", "COMPLAINT", False),  # whole words
    ({"parties": ["openai"]}, "nysd", "1:25-cv-01000", "Ziff Davis v. OpenAI, Inc.", "COMPLAINT", True),
    ({"parties": ["OpenAI"]}, "nysd", "1:25-cv-01000", "Doe v. Roe", "Letter re OpenAI's outputs", False),
    ({"phrases": ["fair use"]}, "nysd", "1:25-cv-01000", "Doe v. Roe", "MOTION for Summary Judgment on fair  use",
     True),
    ({"parties": ["OpenAI"], "courts": ["cand"]}, "nysd", "1:25-cv-01000", "Doe v. OpenAI", "COMPLAINT", False),
    ({"parties": ["OpenAI"], "case_types": ["cv"]}, "nysd", "1:25-cr-01000", "USA v. OpenAI", "INDICTMENT", False),
    ({"parties": ["OpenAI"], "case_types": ["cv"]}, "nysd", "1:25-cv-01000-ABC", "Doe v. OpenAI", "COMPLAINT", True),
])
def test_discover_rules_match_parties_in_the_case_name_and_phrases_in_the_text(rule, court, number, name, text,
                                                                                expected):
    from docketwatch.pipeline.follow import matches
    from docketwatch.settings import DiscoverRule

    docket = ParsedDocket(court, number, case_name=name, entries=[ParsedEntry("1", None, text)])
    assert matches(DiscoverRule(name="r", **rule), court, docket) is expected


def test_the_watchlist_installed_with_docketwatch_is_never_edited(tmp_path):
    from docketwatch import bootstrap
    from docketwatch.pipeline.follow import FollowError, accept_suggestion

    bundled = bootstrap.resolve_path(None)
    before = bundled.read_bytes()
    engine = store.open_engine(f"sqlite:///{tmp_path / 'dw.db'}")
    with Session(engine) as session:
        session.add(Suggestion(key="nysd:1:25-cv-00001", court="nysd", docket_number="1:25-cv-00001",
                               case_name="A v. B", reason="appeal"))
        session.commit()
    with pytest.raises(FollowError, match="is the watchlist installed with docketwatch.*copy it"):
        accept_suggestion(bootstrap.load(bundled), engine, 1)
    assert bundled.read_bytes() == before
    with Session(engine) as session:
        assert session.get(Suggestion, 1).status == "suggested"  # not marked watched
