"""Atom and JSON feeds per case and per subscription, read back with feedparser as a feed
reader would. Events are made the real way: a fake CourtListener over loopback and a real
`check`; the store is SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import feedparser
import pytest

from docketwatch import bootstrap as config_mod
from docketwatch import store
from docketwatch.ops import web
from tests.conftest import KADREY_ID, poll_cases, run_cli, write_config
from tests.test_digests import KADREY, SCRIPT_TEXT, markdown_digest

pytestmark = pytest.mark.usefixtures("cl_token")  # configurations loaded in process

CASE_FEED = "cases/cand-3-23-cv-03417"
SEALED = "ORDER Denying Motion to Seal. Signed by Judge Chhabria."


@pytest.fixture
def kadrey(fake_cl, tmp_path, database_url):
    """Kadrey with a quiet baseline, then #600 and #601 new and #599's text filled in; a
    subscription that excludes notices of appearance."""
    fake_cl.load_kadrey()
    fake_cl.add_entry(KADREY_ID, "599", "2025-06-27", "", short="Order")
    path = write_config(tmp_path, fake_cl.base_url, database_url=database_url,
                        cases=KADREY + markdown_digest("team-news", exclude=["notice of appearance"]))
    poll_cases(path)
    fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", SCRIPT_TEXT)
    fake_cl.add_entry(KADREY_ID, "601", "2025-07-03", "NOTICE of Appearance by A. Lawyer")
    fake_cl.update_entry(KADREY_ID, "599", description=SEALED)
    poll_cases(path)
    return path


def read_atom(path: Path) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def read_json_feed(path: Path) -> dict:
    """A JSON Feed 1.1, its required members checked (jsonfeed.org/version/1.1)."""
    feed = json.loads(path.read_text(encoding="utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1" and isinstance(feed["title"], str)
    for item in feed["items"]:
        assert isinstance(item["id"], str) and ("content_text" in item or "content_html" in item)
        assert datetime.fromisoformat(item["date_published"]).tzinfo is not None
    return feed


def test_case_feeds_show_new_and_changed_entries_with_stable_ids(kadrey, tmp_path):
    ran = run_cli(kadrey, "feeds", "--out", str(tmp_path / "out"))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == f"wrote 4 feeds to {tmp_path / 'out'}"

    atom = read_atom(tmp_path / "out" / f"{CASE_FEED}.atom")
    assert atom.feed.title == "Kadrey v. Meta Platforms, Inc. (cand 3:23-cv-03417)"
    titles = [e.title for e in atom.entries]
    # newest event first; the baseline is quiet, so only the three events of the second check
    assert len(titles) == 3
    assert {t.split(":")[0] for t in titles} == {"New #600 (2025-07-02)", "New #601 (2025-07-03)",
                                                  "Changed #599 (2025-06-27; text filled in)"}
    by_title = {e.title.split(" (")[0]: e for e in atom.entries}
    assert by_title["New #600"].content[0].value == SCRIPT_TEXT  # text, not markup: escaped by the XML
    assert by_title["Changed #599"].content[0].value == f"{SEALED}\n\nWhat changed: text filled in"
    assert by_title["Changed #599"].title == f"Changed #599 (2025-06-27; text filled in): {SEALED}"
    assert by_title["New #600"].id.startswith("urn:docketwatch:case:cand-3-23-cv-03417:entry:")
    assert by_title["Changed #599"].id.startswith("urn:docketwatch:case:cand-3-23-cv-03417:event:")
    assert len({e.id for e in atom.entries}) == 3
    assert [t.term for t in by_title["New #601"].tags] == ["new"]

    # feedparser (6.0) reads no JSON Feed: the JSON must say what the Atom feed says
    feed = read_json_feed(tmp_path / "out" / f"{CASE_FEED}.json")
    assert [i["id"] for i in feed["items"]] == [e.id for e in atom.entries]
    assert [i["title"] for i in feed["items"]] == titles
    assert [i["content_text"] for i in feed["items"]] == [e.content[0].value for e in atom.entries]
    assert [datetime.fromisoformat(i["date_published"]).utctimetuple() for i in feed["items"]] \
        == [e.published_parsed for e in atom.entries]


def test_subscription_feed_applies_its_filters_and_names_the_case(kadrey, tmp_path):
    assert run_cli(kadrey, "feeds", "--out", str(tmp_path / "out")).returncode == 0
    atom = read_atom(tmp_path / "out" / "subscriptions" / "team-news.atom")
    titles = [e.title for e in atom.entries]
    assert len(titles) == 2 and all(t.startswith("Kadrey v. Meta Platforms, Inc.: ") for t in titles)
    assert not any("#601" in t for t in titles)  # a notice of appearance, excluded by the subscription
    items = read_json_feed(tmp_path / "out" / "subscriptions" / "team-news.json")["items"]
    assert [i["title"] for i in items] == titles


def test_ids_stay_and_bytes_match_what_serve_sends(kadrey, fake_cl, tmp_path):
    out = tmp_path / "out"
    published = ("--base-url", "http://localhost/feeds")  # where the test client serves them
    assert run_cli(kadrey, "feeds", "--out", str(out), *published).returncode == 0
    first = (out / f"{CASE_FEED}.atom").read_bytes()
    ids = [e.id for e in read_atom(out / f"{CASE_FEED}.atom").entries]
    assert run_cli(kadrey, "feeds", "--out", str(out), *published).returncode == 0
    assert (out / f"{CASE_FEED}.atom").read_bytes() == first  # nothing new: the same bytes

    cfg = config_mod.load(kadrey)
    client = web.app(cfg, store.open_engine(cfg.database.url)).test_client()
    for name in (f"{CASE_FEED}.atom", f"{CASE_FEED}.json", "subscriptions/team-news.atom",
                 "subscriptions/team-news.json"):
        served = client.get(f"/feeds/{name}")
        assert served.status_code == 200
        assert served.data == (out / name).read_bytes(), name
    assert client.get("/feeds/cases/cand-3-23-cv-03417.atom").content_type == "application/atom+xml; charset=utf-8"
    assert client.get("/feeds/cases/nope.atom").status_code == 404

    fake_cl.add_entry(KADREY_ID, "602", "2025-07-04", "ORDER setting hearing")
    poll_cases(kadrey)
    assert run_cli(kadrey, "feeds", "--out", str(out), *published).returncode == 0
    later = read_atom(out / f"{CASE_FEED}.atom").entries
    assert later[0].title.startswith("New #602") and [e.id for e in later[1:]] == ids


def test_a_feed_names_its_own_url_where_it_is_published(kadrey, tmp_path):
    """Feed readers find a feed again by its self link (Atom) or feed_url (JSON Feed);
    `feeds --out` knows it only when told where the folder is published."""
    out = tmp_path / "out"
    assert run_cli(kadrey, "feeds", "--out", str(out), "--base-url", "https://news.example.org/dw/").returncode == 0
    atom = read_atom(out / f"{CASE_FEED}.atom")
    assert [link.href for link in atom.feed.links if link.rel == "self"] == [
        f"https://news.example.org/dw/{CASE_FEED}.atom"]
    assert read_json_feed(out / f"{CASE_FEED}.json")["feed_url"] == f"https://news.example.org/dw/{CASE_FEED}.json"

    assert run_cli(kadrey, "feeds", "--out", str(out)).returncode == 0
    assert [link.rel for link in read_atom(out / f"{CASE_FEED}.atom").feed.links] == ["alternate"]
    assert "feed_url" not in read_json_feed(out / f"{CASE_FEED}.json")

    refused = run_cli(kadrey, "feeds", "--out", str(out), "--base-url", "news.example.org/dw")
    assert refused.returncode == 2 and "'news.example.org/dw' is not an http:// or https:// URL" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_gap_is_in_the_case_feed(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, token=False)  # the feed: 30 latest entries
    poll_cases(config)
    for n in range(700, 731):
        fake_cl.add_entry(KADREY_ID, str(n), "2025-08-01", f"Filing {n}")
    poll_cases(config)
    assert run_cli(config, "feeds", "--out", str(tmp_path / "out")).returncode == 0
    atom = read_atom(tmp_path / "out" / f"{CASE_FEED}.atom")
    gaps = [e for e in atom.entries if e.title.startswith("Possible gap: ")]
    assert len(gaps) == 1 and "may have been missed" in gaps[0].content[0].value
    assert [t.term for t in gaps[0].tags] == ["gap"]


def test_a_folder_that_cannot_be_written_is_one_line(kadrey, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    ran = run_cli(kadrey, "feeds", "--out", str(blocker / "out"))
    assert ran.returncode == 3
    assert ran.stderr.count("\n") == 1 and ran.stderr.startswith(f"feeds --out {blocker / 'out'}: cannot write")


def test_subscriptions_whose_names_slug_alike_get_feeds_of_their_own(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, cases=KADREY + markdown_digest("Team News")
                          + markdown_digest("team-news", exclude=["order"]))
    assert run_cli(config, "feeds", "--out", str(tmp_path / "out")).returncode == 0
    assert read_atom(tmp_path / "out" / "subscriptions" / "team-news.atom").feed.title == "docketwatch: Team News"
    assert read_atom(tmp_path / "out" / "subscriptions" / "team-news-2.atom").feed.title == "docketwatch: team-news"
