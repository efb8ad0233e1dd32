"""Court RSS feeds on by default where they are complete: coverage read from CourtListener's
court list (a loopback stand-in that checks every parameter against the live API's own
description), cached, with the shipped snapshot as the fallback; and the feeds polled."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from werkzeug import Response

from docketwatch import bootstrap, parsers
from docketwatch.domain.courts import court_ids
from docketwatch.ops import plan
from docketwatch.sources import federal
from tests.conftest import run_cli, write_config
from tests.servers import with_new_item

PACER = Path(__file__).parent / "fixtures" / "pacer"
# Real feeds, and what each one's channel says it carries.
REAL_FEEDS = {"mdb": "rss__mdb__mdb_1.xml", "nysb": "rss__nysb__nysb_1.xml", "wvsd": "rss__wvsd__wvsd.xml",
              "ca2": "rss__ca2__ca2_1.xml", "ca10": "rss__ca10__ca10.xml", "cadc": "rss__cadc__cadc.xml",
              "nyed": "rss__nyed__nyed_1.xml"}


def feed_types(court: str) -> str:
    types = parsers.parse((PACER / REAL_FEEDS[court]).read_bytes(), court).entry_types
    assert types
    return types


def jurisdiction(name: str) -> str:
    if name.startswith("Court of Appeals for the") and "Armed" not in name and "Veterans" not in name:
        return "F"
    if name.startswith("District Court"):
        return "FD"
    return "FB" if "Bankruptcy Court" in name and "Appellate" not in name else "S"


def court_list() -> list[dict]:
    """CourtListener's courts with the fields it describes: ids and names as shipped; the coverage of
    the courts with a real feed in the fixtures as their channel says; built: cand and nysd complete
    ("All", as CourtListener writes it), njd a feed of complaints only, flsd no feed. The other courts
    of other jurisdictions must be filtered out by the server."""
    built = {"cand": (True, "All"), "nysd": (True, "all"), "njd": (True, "Complaints"), "flsd": (False, None)}
    courts = []
    for c in json.loads(federal.resources.files("docketwatch.data").joinpath("courts.json").read_text()):
        has_feed, types = built.get(c["value"], (True, feed_types(c["value"])) if c["value"] in REAL_FEEDS else
                                    (None, None))
        courts.append({"resource_uri": f"/api/rest/v4/courts/{c['value']}/", "id": c["value"],
                       "pacer_court_id": None, "pacer_has_rss_feed": has_feed, "pacer_rss_entry_types": types,
                       "date_modified": "2026-11-01T00:00:00Z", "in_use": True, "position": 1.0,
                       "short_name": c["display_name"], "full_name": c["display_name"],
                       "jurisdiction": jurisdiction(c["display_name"])})
    return courts


def case(name: str, court: str, number: str, sources: str = "") -> str:
    return f'[[cases]]\nname = "{name}"\ncourt = "{court}"\ndocket_number = "{number}"\n{sources}\n'


def coverage_config(tmp_path: Path, base_url: str, cases: str, extra: str = "") -> Path:
    config = write_config(tmp_path, base_url, token=False, cases=cases)
    config.write_text(config.read_text()
                      + f'\n[sources.pacer_rss]\ncoverage_url = "{base_url}/api/rest/v4/courts/"\n{extra}')
    return config


CASES = (case("Complete", "cand", "3:23-cv-03417")
         + case("Orders", "ca2", "25-1234")
         + case("Complaints only", "njd", "2:24-cv-01234")
         + case("No feed", "flsd", "1:24-cv-20001")
         + case("Not known", "nynd", "1:24-cv-00001")
         + case("Opted out", "nysd", "1:23-cv-11195", 'sources = ["courtlistener"]')
         + case("Asked for", "flsd", "1:24-cv-20002", 'sources = ["courtlistener", "pacer_rss"]'))


def sources(config: Path) -> dict[str, list[str]]:
    return {c.name: c.sources for c in bootstrap.load(config).cases}


def test_a_state_court_has_no_court_feed_unless_one_is_given_its_url(tmp_path, fake_cl):
    """The California Supreme Court is a CourtListener court, not a PACER one."""
    state = case("State", "cal", "25-123456")
    assert sources(coverage_config(tmp_path, fake_cl.base_url, state)) == {"State": ["courtlistener"]}
    asked = coverage_config(tmp_path, fake_cl.base_url, state + 'sources = ["pacer_rss"]\n')
    ran = run_cli(asked, "plan")
    assert ran.returncode == 2 and ran.stdout == ""
    assert ran.stderr == (f"Error: {asked}: cases[1].court = 'cal': is not a federal court with PACER, so it "
                          "has no court RSS feed (California Supreme Court); read the case from another source, such "
                          "as courtlistener\n")
    given = coverage_config(tmp_path, fake_cl.base_url, state + 'sources = ["pacer_rss"]\n',
                            'courts = { cal = "https://feeds.example.org/cal.xml" }\n')
    assert sources(given) == {"State": ["pacer_rss"]}


def test_refresh_reads_every_federal_court_page_by_page_and_courts_lists_them(tmp_path, fake_cl):
    fake_cl.courts = court_list()
    federal_courts = [c for c in fake_cl.courts if c["jurisdiction"] in ("F", "FD", "FB")]
    config = coverage_config(tmp_path, fake_cl.base_url, CASES)

    proc = run_cli(config, "courts", "--refresh", "california")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("pacer_rss: court feed coverage from CourtListener, read 20")
    listed = {line.split()[0]: line for line in lines[1:]}
    assert list(listed) == ["cacb", "cacd", "caeb", "caed", "californiad", "canb", "cand", "casb", "casd"]
    assert listed["cand"].startswith("  cand     District Court, N.D. California") and \
        listed["cand"].endswith(" every entry type")
    assert listed["casd"].endswith(" not known")
    # One request a page of 20, each filtered to the federal jurisdictions; state courts never asked for.
    pages = [params for path, params in fake_cl.requests if path == "/api/rest/v4/courts/"]
    assert len(pages) == math.ceil(len(federal_courts) / 20) and len(federal_courts) > 200
    assert pages[0]["jurisdiction"] == "F" and pages[0]["fields"].split(",") == list(federal.COVERAGE_FIELDS)
    stored = json.loads((federal.coverage_cache()).read_text())
    assert {c["id"] for c in stored["courts"]} == {c["id"] for c in federal_courts}

    # Later calls read the cache: no request.
    proc = run_cli(config, "courts", "--json", "ca2")
    assert len([p for p, _ in fake_cl.requests if p == "/api/rest/v4/courts/"]) == len(pages)
    (listed,) = json.loads(proc.stdout)["sources"]
    assert listed["source"] == "pacer_rss" and "from CourtListener" in listed["origin"]
    assert listed["courts"] == [{"court": "ca2", "name": "Court of Appeals for the Second Circuit",
                                 "jurisdiction": "F", "pacer_has_rss_feed": True,
                                 "pacer_rss_entry_types": "orders, opinions", "complete": False}]


def test_a_case_without_sources_is_read_from_its_court_feed_where_that_is_complete_or_adds_something(
        tmp_path, fake_cl):
    fake_cl.courts = court_list()
    config = coverage_config(tmp_path, fake_cl.base_url, CASES)
    # The shipped snapshot knows the feeds of the fixtures' courts only: ca2 (orders, opinions) adds
    # something to a case, cand is not known, so it is not turned on.
    assert sources(config) == {
        "Complete": ["courtlistener"], "Orders": ["courtlistener", "pacer_rss"], "Complaints only": ["courtlistener"],
        "No feed": ["courtlistener"], "Not known": ["courtlistener"], "Opted out": ["courtlistener"],
        "Asked for": ["courtlistener", "pacer_rss"]}
    snapshot_plan = run_cli(config, "plan")  # why cand is not read from its feed, and what to do
    assert snapshot_plan.returncode == 0 and "court RSS feeds: court feed coverage from the snapshot shipped with " \
        "docketwatch knows what 7 court feeds carry" in snapshot_plan.stdout and "courts --refresh" in snapshot_plan.stdout

    assert run_cli(config, "courts", "--refresh").returncode == 0
    assert sources(config) == {
        "Complete": ["courtlistener", "pacer_rss"],  # every entry type
        "Orders": ["courtlistener", "pacer_rss"],  # orders and opinions: sooner than CourtListener
        "Complaints only": ["courtlistener"],  # new cases only: nothing for a case already open
        "No feed": ["courtlistener"],
        "Not known": ["courtlistener"],  # not in the list: not turned on blind
        "Opted out": ["courtlistener"],  # sources given: the case's own list wins
        "Asked for": ["courtlistener", "pacer_rss"]}

    loaded = bootstrap.load(config)
    feeds = {r.court: r for r in plan.make_plan(loaded, set()) if r.source == "pacer_rss"}
    assert sorted(feeds) == ["ca2", "cand", "flsd"]
    assert {r.interval.total_seconds() for r in feeds.values()} == {600.0}  # every 10 minutes
    said = {c.name: [u["text"] for u in plan.unwatched(loaded, c) if u["source"] == "pacer_rss"] for c in loaded.cases}
    assert said["Complete"] == []
    assert said["Orders"] == ["the ca2 court's RSS feed carries only orders, opinions: other filings are seen "
                              "through courtlistener only"]
    assert said["Asked for"] == ["CourtListener lists no RSS feed for flsd: the feed may show nothing"]

    proc = run_cli(config, "plan")
    assert proc.returncode == 0, proc.stderr
    assert "court RSS feeds (court feed coverage from CourtListener, read 20" in proc.stdout
    assert "  ca2      only orders, opinions (partial: other filings are seen through the cases' other sources)" \
        in proc.stdout
    assert "  cand     every entry type\n" in proc.stdout
    assert "knows what" not in proc.stdout  # CourtListener's list is read: nothing to ask for
    summary = next(s for s in json.loads(run_cli(config, "plan", "--json").stdout)["sources"]
                   if s["source"] == "pacer_rss")
    assert [(f["court"], f["complete"], f["cases"]) for f in summary["feeds"]] == [
        ("ca2", False, ["Orders"]), ("cand", True, ["Complete"]), ("flsd", False, ["Asked for"])]


def test_a_default_feed_is_polled_with_the_cases_other_source_and_status_says_what_it_carries(
        tmp_path, fake_cl, court_feed):
    """S.D.N.Y. Bankruptcy's real feed carries every entry type (so says the shipped snapshot):
    a case there written without sources is read from CourtListener and from the feed."""
    fake_cl.add_docket(5001, "nysb", "16-10992", "In re SunEdison, Inc.")
    fake_cl.add_entry(5001, "5200", "2018-04-01", "ORDER granting motion")
    config = coverage_config(tmp_path, fake_cl.base_url,
                             case("In re SunEdison, Inc.", "nysb", "16-10992-smb", "courtlistener_id = 5001"),
                             f'url_template = "{court_feed.url_template}"\n')
    assert sources(config) == {"In re SunEdison, Inc.": ["courtlistener", "pacer_rss"]}

    proc = run_cli(config, "check", "--json")
    assert proc.returncode == 0, proc.stderr
    assert court_feed.responses == [200] and json.loads(proc.stdout)["cases"][0]["baseline"]
    court_feed.body = with_new_item(court_feed.body)
    (result,) = json.loads(run_cli(config, "check", "--json").stdout)["cases"]
    assert [(e["entry_number"], e["date_filed"], e["date_entered"]) for e in result["new"]] == [
        ("5238", None, "2018-04-20")]

    proc = run_cli(config, "status")
    assert f"pacer_rss nysb: {court_feed.url_template.format(court='nysb')}, last success 20" in proc.stdout
    assert "  this feed carries every entry type" in proc.stdout


def test_status_and_digests_say_when_a_default_feed_is_partial(tmp_path, fake_cl):
    config = coverage_config(tmp_path, fake_cl.base_url, case("Orders", "ca2", "25-1234"))
    report = json.loads(run_cli(config, "status", "--json").stdout)
    (feed,) = [s for s in report["sources"] if s["source"] == "pacer_rss"]
    assert (feed["court"], feed["complete"], feed["coverage"], feed["coverage_complete"]) == (
        "ca2", None, "only orders, opinions", False)
    text = run_cli(config, "status").stdout
    assert ("  this feed carries only orders, opinions (court feed coverage from the snapshot shipped with "
            "docketwatch): it cannot see every filing") in text
    assert "not watched     pacer_rss: the ca2 court's RSS feed carries only orders, opinions" in text


@pytest.mark.parametrize("failure, said", [
    (Response("down", status=503), "HTTP 503"),
    (Response("<html>maintenance</html>", status=200, content_type="text/html"), "not a list of courts"),
    (Response(json.dumps({"next": None, "results": []}), content_type="application/json"), "listed no court"),
    (Response(json.dumps({"next": "http://example.org/api/rest/v4/courts/?page=2",
                          "results": [{"id": "cand", "full_name": "N.D. Cal.", "jurisdiction": "FD",
                                       "pacer_has_rss_feed": True, "pacer_rss_entry_types": "All"}]}),
              content_type="application/json"), "another server"),
    (Response(json.dumps({"next": 5, "results": [{"id": "cand", "pacer_has_rss_feed": True}]}),
              content_type="application/json"), "a 'next' that is no URL (5)"),
    (Response(json.dumps({"next": None, "results": [{"id": "cand", "pacer_has_rss_feed": "yes",
                                                     "pacer_rss_entry_types": 7}]}),
              content_type="application/json"), "court 'cand' is malformed"),
])
def test_a_failed_refresh_is_one_line_and_keeps_what_was_known(tmp_path, fake_cl, failure, said):
    config = coverage_config(tmp_path, fake_cl.base_url, case("Orders", "ca2", "25-1234"))
    fake_cl.queued = [failure] * 3  # the client retries a 503
    proc = run_cli(config, "courts", "--refresh")
    assert proc.returncode == 3 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("docketwatch courts: ") and said in line and "Traceback" not in proc.stderr
    assert not federal.coverage_cache().exists()
    assert "from the snapshot shipped with docketwatch" in run_cli(config, "courts", "ca2").stdout


def test_a_damaged_cache_is_passed_over_for_the_snapshot(tmp_path, fake_cl):
    config = coverage_config(tmp_path, fake_cl.base_url, case("Orders", "ca2", "25-1234"))
    federal.coverage_cache().parent.mkdir(parents=True)
    federal.coverage_cache().write_text('{"courts": [{"id": "cand", "pacer_has_rss_feed": "yes"}]}')
    proc = run_cli(config, "courts", "ca2")
    assert proc.returncode == 0 and "from the snapshot shipped with docketwatch" in proc.stdout
    assert "court_coverage.json cannot be read" in proc.stderr and "courts --refresh" in proc.stderr


def test_real_feed_descriptions_read_as_coverage():
    def feed(types: str | None, has_feed: bool | None = True) -> federal.CourtFeed:
        return federal.CourtFeed("x", "X", "FD", has_feed, types)

    for court in ("mdb", "nysb", "wvsd"):
        assert feed(feed_types(court)).complete is True
    for court, types in (("ca2", ["orders", "opinions"]), ("ca10", ["opinions"]),
                         ("cadc", ["orders", "opinions", "judgments"]), ("nyed", ["complaints", "orders", "judgments"])):
        parsed = feed(feed_types(court))
        assert (parsed.complete, federal.feed_types(parsed.entry_types), parsed.adds_to_a_case) == (False, types, True)
    assert feed("All").complete and feed("Docket entries of type: all").complete
    assert (feed("Complaints").complete, feed("Complaints").adds_to_a_case) == (False, False)
    assert feed(None).complete is None and feed("all", None).complete is None and not feed(None).adds_to_a_case
    assert (feed(None, False).complete, feed(None, False).describe()) == (False, "no RSS feed")


def test_the_shipped_snapshot_says_only_what_the_real_feeds_say():
    snapshot = json.loads(federal.resources.files("docketwatch.data").joinpath(federal.COVERAGE_FILE).read_text())
    assert {c["id"] for c in snapshot["courts"]} <= set(court_ids())
    known = {c["id"]: c["pacer_rss_entry_types"] for c in snapshot["courts"] if c["pacer_has_rss_feed"] is not None}
    assert known == {court: feed_types(court) for court in REAL_FEEDS}
    assert {c["jurisdiction"] for c in snapshot["courts"]} == {"F", "FD", "FB"}


def test_the_feed_interval_must_be_polite(tmp_path, fake_cl):
    config = coverage_config(tmp_path, fake_cl.base_url, case("Orders", "ca2", "25-1234"), 'interval = "30s"\n')
    proc = run_cli(config, "plan")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "sources.pacer_rss.interval" in line and "at least 60s" in line


def test_run_reads_the_court_list_when_it_knows_only_the_snapshot_and_polls_the_feeds_it_learns(
        tmp_path, fake_cl, caplog):
    """No one has to know about `courts --refresh`: `run` reads the list at start when only
    the snapshot is known (then when the cache is a week old), and loads the configuration
    again, so a case without `sources` in a complete court gets its court feed."""
    from docketwatch import store
    from docketwatch.ops.service import Service

    fake_cl.courts = court_list()
    path = coverage_config(tmp_path, fake_cl.base_url, CASES)
    config = bootstrap.load(path)
    service = Service(config, store.open_engine(config.database.url), load=lambda: bootstrap.load(path))

    def feeds() -> list[str]:
        return sorted(j.court for j in service.jobs if j.source == "pacer_rss")

    def pages() -> int:
        return len([p for p, _ in fake_cl.requests if p == "/api/rest/v4/courts/"])

    assert feeds() == ["ca2", "flsd"]  # the snapshot knows ca2; flsd's case asks for its feed
    with caplog.at_level("INFO"):
        service.refresh_reference()
    assert feeds() == ["ca2", "cand", "flsd"] and pages() > 10
    assert "pacer_rss: reference data changed" in caplog.text and "added: pacer_rss:cand" in caplog.text
    read = pages()
    service.refresh_reference()  # read minutes ago: not read again
    assert pages() == read and feeds() == ["ca2", "cand", "flsd"]


def test_a_court_list_that_cannot_be_read_by_run_is_a_warning_and_changes_nothing(tmp_path, fake_cl, caplog):
    from docketwatch import store
    from docketwatch.ops.service import Service

    path = coverage_config(tmp_path, "http://127.0.0.1:9", CASES)  # nothing listens there
    config = bootstrap.load(path)
    service = Service(config, store.open_engine(config.database.url), load=lambda: bootstrap.load(path))
    with caplog.at_level("INFO"):
        service.refresh_reference()
    assert "pacer_rss: could not read its reference data again (what it knew stays" in caplog.text
    assert sorted(j.court for j in service.jobs if j.source == "pacer_rss") == ["ca2", "flsd"]
    assert not federal.coverage_cache().exists()


def test_courts_lists_court_ids_before_any_case_reads_a_court_feed(tmp_path, fake_cl):
    """Looking up a court's id comes before adding its case: a configuration whose cases
    are all read from CourtListener (or that has none yet) still lists the courts."""
    config = write_config(tmp_path, fake_cl.base_url, token=False,
                          cases=case("Opted out", "nysd", "1:23-cv-11195", 'sources = ["courtlistener"]'))
    proc = run_cli(config, "courts", "second circuit")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "pacer_rss: court feed coverage from the snapshot shipped with docketwatch",
        "  ca2      Court of Appeals for the Second Circuit                    only orders, opinions"]
    (listed,) = json.loads(run_cli(config, "courts", "--json", "ca2").stdout)["sources"]
    assert [c["court"] for c in listed["courts"]] == ["ca2"]
    assert fake_cl.requests == []  # nothing read: the snapshot and the cache answer
