"""The Copyright Claims Board source (`ccb`): one document search serves every watched case.

eCCB is played by tests/ccb_server.py over loopback, with pages built in the markup of the
real captured rows (tests/fixtures/ccb). Everything runs through the real command line.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from docketwatch.sources.ccb import normalize, parse_search
from tests.ccb_server import FIXTURES, FakeCcb, page
from tests.conftest import run_cli

CAPTURED = FIXTURES / "document-search-excerpt.html"


@pytest.fixture
def eccb(httpserver) -> FakeCcb:
    fake = FakeCcb(base_url=httpserver.url_for("").rstrip("/"))
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    return fake


def write_config(tmp_path: Path, base_url: str, settings: str = "page_size = 3") -> Path:
    path = tmp_path / "dw.toml"
    path.write_text(textwrap.dedent(f"""\
        [database]
        url = "sqlite:///{tmp_path / 'dw.db'}"

        [sources.ccb]
        base_url = "{base_url}"
        {settings}

        [[cases]]
        name = "Smith v. Jones"
        court = "ccb"
        docket_number = "24-CCB-0180"
        sources = ["ccb"]

        [[cases]]
        name = "Doe v. Roe"
        court = "ccb"
        docket_number = "25-ccb-121"
        sources = ["ccb"]

        [[digests]]
        name = "desk"
        channel = "markdown"
        dir = "desk"
        """))
    return path


def check(path: Path) -> dict[str, dict]:
    result = run_cli(path, "check", "--json")
    assert result.returncode == 0, result.stderr
    return {c["docket_number"]: c for c in json.loads(result.stdout)["cases"]}


def test_the_captured_rows_are_read_and_the_builder_writes_them_the_same_way():
    captured = parse_search(CAPTURED.read_bytes(), "https://dockets.ccb.gov/search/documents")
    assert [(r.docket_number, r.number, r.title, r.party) for r in captured][:2] == [
        ("24-CCB-0180", 21779, "Final Determination", "Copyright Claims Board"),
        ("23-CCB-0332", 21743, "Final Determination", "Copyright Claims Board")]
    first = captured[0]
    assert first.filed_at.isoformat() == "2026-09-22T17:40:00-04:00"
    assert first.url == "https://dockets.ccb.gov/document/download/21779"
    fake = FakeCcb("https://dockets.ccb.gov")
    for r in reversed(captured):
        fake.file(r.docket_number, r.title, r.document_type, r.party, r.filed_at.strftime("%m/%d/%Y %I:%M %p EDT"),
                  number=r.number)
    built = page(sorted(fake.documents, key=lambda d: d.number, reverse=True)).encode()
    assert parse_search(built, "https://dockets.ccb.gov/search/documents") == captured


@pytest.mark.parametrize("written, normal", [("24-CCB-0180", "24-CCB-0180"), ("24-ccb-180", "24-CCB-0180"),
                                             (" 22 - CCB - 15 ", "22-CCB-0015")])
def test_case_numbers_are_read_as_people_write_them(written, normal):
    assert normalize(written) == normal


def test_one_search_serves_every_case_and_pages_back_to_the_known_number(tmp_path, eccb):
    eccb.file("24-CCB-0180", "Claim", party="Smith")
    eccb.file("23-CCB-0332", "Notice")  # a case nobody watches
    path = write_config(tmp_path, eccb.base_url)

    baseline = check(path)
    assert baseline["24-CCB-0180"]["baseline"] and baseline["25-CCB-0121"]["baseline"]
    assert eccb.searches() == ["0"]  # one page when nothing is known yet

    eccb.requests.clear()
    eccb.file("25-CCB-0121", "Response to Claim", party="Roe")
    for n in range(5):
        eccb.file("23-CCB-0332", f"Order {n}", party="Copyright Claims Board")
    eccb.file("24-CCB-0180", "Final Determination", party="Copyright Claims Board")
    eccb.file("24-ccb-0180", "Request for Reconsideration", "Motion", party="Smith")

    cases = check(path)
    assert eccb.searches() == ["0", "3", "6"]  # until the known document came up
    assert [(e["entry_number"], e["description"]) for e in cases["24-CCB-0180"]["new"]] == [
        ("21010", "Request for Reconsideration (Motion), filed by Smith"),
        ("21009", "Final Determination, filed by Copyright Claims Board")]
    assert [e["entry_number"] for e in cases["25-CCB-0121"]["new"]] == ["21003"]
    assert cases["24-CCB-0180"]["new"][0]["date_filed"] == "2026-09-22"
    assert cases["24-CCB-0180"]["new"][0]["url"] == f"{eccb.base_url}/document/download/21010"

    eccb.requests.clear()
    again = check(path)
    assert eccb.searches() == ["0"] and not again["24-CCB-0180"]["new"]

    status = run_cli(path, "status")
    assert f"ccb: document search {eccb.base_url}/search/documents serves 2 case(s)" in status.stdout
    assert "latest document #21,010" in status.stdout
    sent = run_cli(path, "digest")
    assert sent.returncode == 0, sent.stderr
    [md] = (tmp_path / "desk").glob("*.md")
    text = md.read_text()
    assert "Copyright Claims Board" in text and f"{eccb.base_url}/case/detail/24-CCB-0180" in text


def test_a_restricted_document_is_reported_as_restricted_not_as_an_error(tmp_path, eccb):
    eccb.file("24-CCB-0180", "Claim")
    path = write_config(tmp_path, eccb.base_url)
    check(path)
    eccb.file("24-CCB-0180", "Protective Order Materials", restricted=True)
    eccb.file("24-CCB-0180", "Scheduling Order")

    cases = check(path)
    smith = cases["24-CCB-0180"]
    assert smith["ok"] and [e["entry_number"] for e in smith["new"]] == ["21003", "21002"]
    assert smith["warnings"] == [
        "document #21,002 (Protective Order Materials) is restricted: eCCB answers with its login page"]
    assert eccb.ranges == ["bytes=0-0"] * 3  # one byte of each document seen (baseline too), not the file


def test_a_search_answered_by_the_login_page_fails_the_poll_in_one_line(tmp_path, eccb):
    path = write_config(tmp_path, eccb.base_url)
    eccb.search_is_login = True
    result = run_cli(path, "check")
    assert result.returncode == 3
    assert "eCCB answered with its login page: the document search is not public from here" in result.stdout


def test_a_catch_up_longer_than_max_pages_is_a_gap(tmp_path, eccb):
    eccb.file("24-CCB-0180", "Claim")
    path = write_config(tmp_path, eccb.base_url, "page_size = 2\nmax_pages = 2")
    check(path)
    for n in range(6):
        eccb.file("23-CCB-0332", f"Order {n}")
    eccb.requests.clear()
    cases = check(path)
    assert eccb.searches() == ["0", "2"]
    assert cases["24-CCB-0180"]["gaps"] == [
        "more than 4 documents were filed across the board since this case was last read: this poll read that "
        "many, older ones may have been missed"]


def test_a_filing_made_while_its_case_was_paused_is_reported_when_it_is_resumed(tmp_path, eccb):
    """Each case keeps its own watermark: before, the board's one watermark moved past the
    paused case's filing while the other case was read, and the filing was never reported."""
    eccb.file("24-CCB-0180", "Claim")
    path = write_config(tmp_path, eccb.base_url)
    check(path)
    assert run_cli(path, "pause", "25-CCB-0121").returncode == 0
    eccb.file("25-CCB-0121", "Response to Claim", party="Roe")  # 21002, while Doe v. Roe is paused
    eccb.file("24-CCB-0180", "Scheduling Order")
    assert [e["entry_number"] for e in check(path)["24-CCB-0180"]["new"]] == ["21003"]
    for n in range(4):
        eccb.file("23-CCB-0332", f"Order {n}")

    assert run_cli(path, "resume", "25-CCB-0121").returncode == 0
    eccb.requests.clear()
    cases = check(path)
    assert eccb.searches() == ["0", "3", "6"]  # back to what Doe v. Roe last saw (21001), not the board's 21003
    downloads = [path for path, _ in eccb.requests if path.startswith("/document/")]
    assert downloads == ["/document/download/21002"]  # not Smith v. Jones's 21003 again: it saw that one
    assert [e["entry_number"] for e in cases["25-CCB-0121"]["new"]] == ["21002"]
    assert not cases["25-CCB-0121"]["gaps"] and not cases["24-CCB-0180"]["new"]
    eccb.requests.clear()
    assert not any(c["new"] for c in check(path).values()) and eccb.searches() == ["0"]  # both caught up


def test_a_catch_up_longer_than_max_pages_is_a_gap_for_the_case_behind_only(tmp_path, eccb):
    eccb.file("24-CCB-0180", "Claim")
    path = write_config(tmp_path, eccb.base_url, "page_size = 2\nmax_pages = 2")
    check(path)
    assert run_cli(path, "pause", "25-CCB-0121").returncode == 0
    for n in range(5):
        eccb.file("23-CCB-0332", f"Order {n}")
        check(path)  # Smith v. Jones keeps up
    assert run_cli(path, "resume", "25-CCB-0121").returncode == 0
    cases = check(path)
    assert cases["25-CCB-0121"]["gaps"] and not cases["24-CCB-0180"]["gaps"]


def test_plan_has_one_job_for_the_board_at_most_hourly(tmp_path, eccb):
    path = write_config(tmp_path, eccb.base_url)
    plan = json.loads(run_cli(path, "plan", "--json").stdout)
    [job] = plan["jobs"]
    assert (job["job"], job["source"], job["cases"]) == ("ccb:board", "ccb", ["Smith v. Jones", "Doe v. Roe"])
    assert job["interval_seconds"] >= 3600
    assert [u["case"] for u in plan["unwatched"]] == ["Smith v. Jones", "Doe v. Roe"]  # new filings only


@pytest.mark.parametrize("change, message", [
    (('docket_number = "24-CCB-0180"', 'docket_number = "3:23-cv-03417"'),
     "cases[1].docket_number = '3:23-cv-03417': is not a Copyright Claims Board docket number; "
     "write it like 24-CCB-0180"),
    (('court = "ccb"', 'court = "cand"'), "cases[1].court = 'cand': is not the Copyright Claims Board; write ccb"),
    (("page_size = 3", "page_size = 500"), "sources.ccb.page_size"),
])
def test_bad_ccb_settings_name_the_key(tmp_path, eccb, change, message):
    path = write_config(tmp_path, eccb.base_url)
    path.write_text(path.read_text().replace(*change, 1))
    result = run_cli(path, "plan")
    assert result.returncode == 2
    [line] = (result.stdout + result.stderr).strip().splitlines()
    assert message in line
