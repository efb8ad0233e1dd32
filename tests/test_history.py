"""A source's first read of a docket after the watch began: its history is not news.

The first check of a case is a quiet baseline. A source that has its first say later (it
failed at that check, was added to the case since, or its first read of the whole docket
was cut short by the request budget and resumes) shows the docket's history then: what
was filed before the watch began is stored quietly and counted, what was filed in the
week before it or since is news (diff.RECENT). Real `check` runs against the CourtListener
stand-in and the real S.D.N.Y. Bankruptcy feed, over loopback.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from werkzeug import Response

from tests.conftest import KADREY_ID, check_json, run_cli, today, write_config
from tests.test_minute_entries import SUNEDISON
from tests.test_pacer_rss import SUNEDISON_ID, check_all


def stored(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "dw.db") as db:
        return db.execute("SELECT count(*) FROM entry").fetchone()[0]


def new_events(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "dw.db") as db:
        return [row[0] for row in db.execute("SELECT summary FROM event WHERE kind = 'new' ORDER BY id")]


def test_a_first_read_cut_short_by_the_budget_resumes_quietly_and_a_new_filing_is_still_news(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    for n in range(800, 840):  # with the real entries: three pages of 20
        fake_cl.add_entry(KADREY_ID, str(n), "2025-09-01", f"Filing {n}")
    config = write_config(tmp_path, fake_cl.base_url, budget=3)  # the docket and 2 of the 3 pages
    code, first = check_json(config)
    assert code == 0 and first["baseline"] and any("budget exhausted" in w for w in first["warnings"])
    before = stored(tmp_path)

    config.write_text(config.read_text().replace("daily_request_budget = 3", "daily_request_budget = 125"))
    fake_cl.add_entry(KADREY_ID, "900", str(today()), "ORDER setting a case management conference")
    ran = run_cli(config, "check")
    assert ran.returncode == 0, ran.stderr
    earlier = stored(tmp_path) - before - 1
    assert earlier > 0  # the rest of the history came, and only #900 is news
    assert ran.stdout.splitlines()[0] == (
        f"Kadrey v. Meta Platforms, Inc. (cand 3:23-cv-03417): 1 new, 0 changed; {earlier} earlier entries "
        "recorded quietly (filed before docketwatch watched the case)")
    assert new_events(tmp_path) == ["new entry #900"]
    code, third = check_json(config)
    assert (third["new"], third["earlier"]) == ([], 0)


def test_a_source_added_later_brings_its_history_quietly_and_recent_filings_as_news(tmp_path, court_feed, fake_cl):
    fake_cl.add_docket(SUNEDISON_ID, "nysb", "16-10992", "In re SunEdison, Inc.")
    for n in range(5201, 5206):
        fake_cl.add_entry(SUNEDISON_ID, str(n), "2018-04-11", f"Historical filing {n}")
    fake_cl.add_entry(SUNEDISON_ID, "5300", str(today() - timedelta(days=3)), "MOTION to convert the case")
    config = write_config(tmp_path, fake_cl.base_url, cases=SUNEDISON.replace('"pacer_rss", "courtlistener"',
                                                                               '"pacer_rss"'))
    config.write_text(config.read_text() + f'\n[sources.pacer_rss]\nurl_template = "{court_feed.url_template}"\n')
    code, first = check_all(config)
    assert code == 0 and first["In re SunEdison, Inc."]["baseline"]

    config.write_text(config.read_text().replace('sources = ["pacer_rss"]', 'sources = ["pacer_rss", "courtlistener"]'))
    code, second = check_all(config)
    case = second["In re SunEdison, Inc."]
    assert code == 0 and [e["entry_number"] for e in case["new"]] == ["5300"] and case["earlier"] == 5
    assert new_events(tmp_path) == ["new entry #5300"]


def test_a_source_failing_at_the_first_check_brings_its_history_quietly_when_it_works(tmp_path, court_feed, fake_cl):
    fake_cl.add_docket(SUNEDISON_ID, "nysb", "16-10992", "In re SunEdison, Inc.")
    for n in range(5201, 5206):
        fake_cl.add_entry(SUNEDISON_ID, str(n), "2018-04-11", f"Historical filing {n}")
    config = write_config(tmp_path, fake_cl.base_url, cases=SUNEDISON)
    config.write_text(config.read_text() + f'\n[sources.pacer_rss]\nurl_template = "{court_feed.url_template}"\n')
    fake_cl.queued.append(Response("<html><body>Bad Gateway</body></html>", status=200, content_type="text/html"))
    code, first = check_all(config)
    case = first["In re SunEdison, Inc."]
    assert code == 3 and case["baseline"] and "not JSON" in case["error"]  # the court feed's baseline stands

    fake_cl.add_entry(SUNEDISON_ID, "5301", str(today()), "ORDER granting the motion")
    code, second = check_all(config)
    case = second["In re SunEdison, Inc."]
    assert code == 0 and [e["entry_number"] for e in case["new"]] == ["5301"] and case["earlier"] == 5
