"""The watchlist from the command line (init, add, remove, pause, resume, entries,
test-notify), docket numbers as people write them, and the CLI's conventions: through
the real command line, against the fake CourtListener on loopback and a real SMTP server."""

from __future__ import annotations

import json
import os
import pty
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from docketwatch.domain.docket_numbers import DocketNumberError, written
from tests.conftest import KADREY_CASE, KADREY_ID, check_json, run_cli, today, write_config
from tests.servers import PASSWORD, smtp_table

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

BUNDLED = Path(__file__).parent.parent / "config" / "ai-copyright.toml"
CHATGPT_BLOCK = '''
# lead: Tremblay v. OpenAI; transferred into MDL 3143
[[cases]]
name = "In re OpenAI ChatGPT Litigation"
court = "cand"
docket_number = "3:23-cv-03223"
courtlistener_id = 67538258
'''
TWO_CASES = f'''
[[cases]]
name = "Kadrey v. Meta Platforms, Inc."
court = "cand"
docket_number = "3:23-cv-03417-VC"
courtlistener_id = {KADREY_ID}

[[cases]]
name = "Bartz v. Anthropic PBC"
court = "cand"
docket_number = "3:24-cv-05417"
courtlistener_id = 69058235
'''


def bundled_copy(tmp_path: Path) -> tuple[Path, str]:
    """The bundled watchlist (22 cases, with comments), its database in tmp_path."""
    text = BUNDLED.read_text().replace('# [database]\n# url = "sqlite:////var/lib/docketwatch/docketwatch.db"',
                                       f'[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"')
    path = tmp_path / "watch.toml"
    path.write_text(text)
    return path, text


def one_line_error(ran, code: int = 2) -> str:
    assert ran.returncode == code, (ran.stdout, ran.stderr)
    assert "Traceback" not in ran.stderr and len(ran.stderr.strip().splitlines()) == 1, ran.stderr
    return ran.stderr


# -- editing the file ------------------------------------------------------------------


@pytest.mark.parametrize("left", ["by remove", "by an older remove"])
def test_a_file_whose_last_case_was_removed_takes_an_added_one(tmp_path, left):
    """Removing the last case leaves no `cases = []` (an array `add` cannot extend with a
    [[cases]] table); one that an older version left is taken as no case at all."""
    path = tmp_path / "dw.toml"
    database = f'[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n'
    if left == "by remove":
        path.write_text(database)
        assert run_cli(path, "add", "cand", "3:23-cv-03417").returncode == 0
        assert run_cli(path, "remove", "3:23-cv-03417").returncode == 0
        assert path.read_text() == database
    else:
        path.write_text("cases = []\n\n" + database)
    added = run_cli(path, "add", "nysd", "1:23-cv-11195")
    assert added.returncode == 0, added.stderr
    assert [c["docket_number"] for c in json.loads(run_cli(path, "cases", "--json").stdout)["cases"]] == [
        "1:23-cv-11195"]


def test_remove_pause_resume_and_add_change_only_their_own_lines(tmp_path):
    path, original = bundled_copy(tmp_path)

    ran = run_cli(path, "remove", "chatgpt")
    assert ran.returncode == 0 and "removed In re OpenAI ChatGPT Litigation (cand 3:23-cv-03223)" in ran.stdout
    after_remove = original.replace(CHATGPT_BLOCK, "", 1)
    assert after_remove != original and path.read_text() == after_remove  # its comment line went with it

    ran = run_cli(path, "pause", "kadrey")
    assert ran.returncode == 0 and "paused Kadrey v. Meta Platforms, Inc." in ran.stdout
    assert path.read_text() == after_remove.replace("courtlistener_id = 67569326\n",
                                                    "courtlistener_id = 67569326\npaused = true\n", 1)
    cases = json.loads(run_cli(path, "cases", "--json").stdout)["cases"]
    assert [c["name"] for c in cases if c["paused"]] == ["Kadrey v. Meta Platforms, Inc."]
    jobs = json.loads(run_cli(path, "plan", "--json").stdout)["jobs"]
    assert len(jobs) == 20 and not any(j["case"] == "Kadrey v. Meta Platforms, Inc." for j in jobs)

    assert run_cli(path, "resume", "3:23-cv-03417").returncode == 0
    assert path.read_text() == after_remove

    # The docket number as people write it; the name as given; added after the last case,
    # above the comment that belongs to the [[discover]] table after it.
    ran = run_cli(path, "add", "cand", "3:24cv1451", "--name", "In re Mosaic LLM Litigation")
    assert ran.returncode == 0 and "as given (no lookup)" in ran.stdout
    assert path.read_text() == after_remove.replace("\n# New cases naming", (
        '\n[[cases]]\nname = "In re Mosaic LLM Litigation"\ncourt = "cand"\ndocket_number = "3:24-cv-01451"\n'
        "\n# New cases naming"), 1)


def test_a_file_kept_with_windows_line_ends_keeps_them_through_every_edit(tmp_path):
    """Saved by a Windows editor: each edit changes only its own lines, in CRLF, new ones too."""
    path, original = bundled_copy(tmp_path)
    path.write_bytes(original.replace("\n", "\r\n").encode())
    for command in (["remove", "chatgpt"], ["pause", "kadrey"], ["resume", "kadrey"],
                    ["add", "cand", "3:24cv1451", "--name", "In re Mosaic LLM Litigation"]):
        assert run_cli(path, *command).returncode == 0, command
    after = original.replace(CHATGPT_BLOCK, "", 1).replace("\n# New cases naming", (
        '\n[[cases]]\nname = "In re Mosaic LLM Litigation"\ncourt = "cand"\ndocket_number = "3:24-cv-01451"\n'
        "\n# New cases naming"), 1)
    assert path.read_bytes() == after.replace("\n", "\r\n").encode()


@pytest.mark.parametrize("command", ["remove", "pause", "status", "check"])
def test_a_blank_case_matches_no_case_and_changes_nothing(tmp_path, command):
    """`docketwatch remove "$CASE"` with CASE unset must not empty the watchlist."""
    path, original = bundled_copy(tmp_path)
    for blank in ("", " "):
        ran = run_cli(path, command, blank)
        assert ran.returncode == 2 and f"no configured case matches {blank!r}" in ran.stderr, ran
    assert path.read_text() == original


def test_an_id_or_a_path_no_command_can_use_is_one_line_not_a_traceback(tmp_path):
    path = write_config(tmp_path, "http://127.0.0.1:9", cases=KADREY_CASE)
    for args in (["digest", "--drop", "9" * 23], ["add", "--suggestion", "9" * 23]):
        ran = run_cli(path, *args)
        assert ran.returncode == 2 and "is not in the range 1<=x<=" in ran.stderr and "Traceback" not in ran.stderr
    ran = run_cli(path, "add", "cand", "3:25-cv-00002", "--name", "Doe\av. Roe")
    assert ran.returncode == 2 and ran.stderr == ("docketwatch: the case cannot be added: name = 'Doe\\x07v. Roe': must be "
                                                  "one line of text, without line breaks or control characters\n")
    out = tmp_path / "no such folder" / "preview.html"
    ran = run_cli(path, "preview", "--out", str(out))
    assert ran.returncode == 3 and ran.stderr == f"preview --out {out}: cannot write {out}: No such file or directory\n"


def test_a_read_only_configuration_is_not_edited(tmp_path):
    path, original = bundled_copy(tmp_path)
    path.chmod(0o444)
    ran = run_cli(path, "pause", "kadrey")
    assert ran.returncode == 2 and f"{path}: cannot write it (the file is read-only)" in ran.stderr, ran
    assert path.read_text() == original


def test_edits_made_at_the_same_time_are_all_kept(tmp_path):
    """Eight `add`s at once (processes: the point is that they run together) each read
    the file as the one before left it."""
    path = write_config(tmp_path, "http://127.0.0.1:9", cases="")
    numbers = [f"1:24-cv-0000{i}" for i in range(1, 9)]
    env = {**os.environ, "CL_TEST_TOKEN": "test-token"}
    env.pop("DOCKETWATCH_CONFIG", None)
    adds = [subprocess.Popen([sys.executable, "-m", "docketwatch", "--config", str(path), "add", "nysd", n],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in numbers]
    for add in adds:
        out, err = add.communicate(timeout=120)
        assert add.returncode == 0, out + err
    cases = json.loads(run_cli(path, "cases", "--json").stdout)["cases"]
    assert sorted(c["docket_number"] for c in cases if c["court"] == "nysd") == numbers


def test_an_edit_through_a_symlink_edits_its_target_and_keeps_the_link(tmp_path):
    path, _ = bundled_copy(tmp_path)
    link = tmp_path / "link.toml"
    link.symlink_to(path)
    assert run_cli(link, "pause", "kadrey").returncode == 0
    assert link.is_symlink() and "paused = true" in path.read_text()


def test_the_installed_watchlist_and_inline_case_arrays_are_not_edited(tmp_path, monkeypatch):
    original = BUNDLED.read_text()
    monkeypatch.delenv("DOCKETWATCH_CONFIG", raising=False)
    ran = run_cli(None, "add", "nysd", "1:23-cv-5")
    assert "is the watchlist installed with docketwatch" in one_line_error(ran) and "docketwatch init" in ran.stderr
    assert BUNDLED.read_text() == original

    inline = tmp_path / "inline.toml"
    inline.write_text(f'cases = [{{ name = "A v. B", court = "cand", docket_number = "3:23-cv-03417" }}]\n'
                      f'[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n')
    for command in ("pause", "remove"):
        assert "cases is not a list of [[cases]] tables" in one_line_error(run_cli(inline, command, "A v. B"))


def test_edits_that_cannot_be_made_change_nothing_and_say_why_in_one_line(tmp_path):
    path, original = bundled_copy(tmp_path)
    assert "already watched as 'The New York Times Co. v. Microsoft Corp.'" in one_line_error(
        run_cli(path, "add", "nysd", "1:23-cv-11195 (SHS)"))
    assert "matches 2" not in one_line_error(run_cli(path, "remove", "no such case"))
    assert "watch.toml: 'v.' matches 20 cases" in one_line_error(run_cli(path, "remove", "v."))
    assert "leaves out the court's office number" in one_line_error(run_cli(path, "add", "cand", "23-cv-3417"))
    assert "is not a CourtListener court id" in one_line_error(run_cli(path, "add", "nowhere", "3:23-cv-01111"))
    assert "is not a docket number" in one_line_error(run_cli(path, "add", "cand", "soon"))
    assert path.read_text() == original
    assert [p.name for p in tmp_path.iterdir()] == ["watch.toml"]  # no temporary file left behind


@pytest.mark.parametrize(("court", "number", "said"), [
    ("cand", "16-10992", "a district court's numbers have an office and a case type, like 3:23-cv-03417"),
    ("cand", "8-09-78585-ast", "a district court's numbers have an office and a case type, like 3:23-cv-03417"),
    ("ca9", "3:23-cv-03417", "a court of appeals numbers its cases by year and serial, like 25-2153"),
    ("ca9", "MDL No. 3143", "an MDL number is the Judicial Panel's (jpml); a court of appeals numbers its cases like 25-2153"),
    ("cand", "3:23-cv-999999", "the serial of a district number runs from 1 to 99999, like 3:23-cv-03417"),
    ("cand", "3:23-cv-0", "the serial of a district number runs from 1 to 99999, like 3:23-cv-03417"),
    ("ca9", "25-0", "a serial is never 0; write it like 25-2153"),
])
def test_add_refuses_a_number_the_court_cannot_have_with_an_example_of_one_it_can(tmp_path, court, number, said):
    path, original = bundled_copy(tmp_path)
    error = one_line_error(run_cli(path, "add", court, number))
    assert error == f"docketwatch: {number!r} cannot be a docket number of {court}: {said}\n"
    assert path.read_text() == original


@pytest.mark.parametrize(("court", "number", "stored"), [
    ("cand", "3:24cv1451", "3:24-cv-01451"), ("cand", "Case No. 3:24-CV-1451-VC", "3:24-cv-01451"),
    ("cand", "3:24-cv-001451", "3:24-cv-01451"), ("nysd", "1:23-md-3143 (SHS)", "1:23-md-03143"),
    ("nysb", "16-10992", "16-10992"), ("nyeb", "8-09-78585-ast", "09-78585"), ("txnb", "09-31416-hdh11", "09-31416"),
    ("nysb", "1:23-bk-10992", "23-10992"), ("ca9", "25-2153", "25-2153"), ("jpml", "MDL No. 3143", "MDL No. 3143"),
    # pasted from a document: full-width digits, en dashes, a non-breaking hyphen
    ("cand", "３:２４-cv-０１４５１", "3:24-cv-01451"), ("cand", "3:24\u2013cv\u20131451", "3:24-cv-01451"),
    ("nysb", "16\u201110992-smb", "16-10992"),
])
def test_add_keeps_taking_every_number_people_write(tmp_path, court, number, stored):
    path, _ = bundled_copy(tmp_path)
    ran = run_cli(path, "add", court, number)
    assert ran.returncode == 0, ran.stderr
    assert f'court = "{court}"\ndocket_number = "{stored}"' in path.read_text()


def test_add_with_court_of_text_that_is_no_docket_number_does_not_say_the_office_is_missing(tmp_path):
    path, _ = bundled_copy(tmp_path)
    for text in ("abc", "3:23-cv-99999999"):
        error = one_line_error(run_cli(path, "add", text, "--court", "cand"))
        assert f"{text!r} is not a docket URL or id" in error and "office" not in error


def test_add_takes_the_court_as_an_option_too_but_only_once(tmp_path):
    path, _ = bundled_copy(tmp_path)
    ran = run_cli(path, "add", "--court", "cand", "3:24-cv-01451")  # as `add cand 3:24-cv-01451`: no lookup
    assert ran.returncode == 0, ran.stderr
    assert 'court = "cand"\ndocket_number = "3:24-cv-01451"' in path.read_text()
    before = path.read_text()
    error = one_line_error(run_cli(path, "add", "--court", "nysd", "cand", "3:24-cv-01452"))
    assert error == "docketwatch: the court is given twice, as cand and as --court nysd; give it once\n"
    assert path.read_text() == before


def test_paused_case_is_not_polled_and_says_so(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    fake_cl.add_docket(69058235, "cand", "3:24-cv-05417", "Bartz v. Anthropic PBC")
    path = write_config(tmp_path, fake_cl.base_url, cases=TWO_CASES)
    assert run_cli(path, "pause", "kadrey").returncode == 0

    ran = run_cli(path, "check")
    assert ran.returncode == 0, ran.stderr
    assert "Kadrey v. Meta Platforms, Inc. (cand 3:23-cv-03417): paused, not checked" in ran.stdout
    assert not any(str(KADREY_ID) in request for request, _ in fake_cl.requests)
    assert any("69058235" in request for request, _ in fake_cl.requests)
    status = json.loads(run_cli(path, "status", "--json").stdout)["cases"]
    assert [(s["name"], s["paused"], s["last_checked"] is None) for s in status] == [
        ("Kadrey v. Meta Platforms, Inc.", True, True), ("Bartz v. Anthropic PBC", False, False)]
    assert "paused          not polled until `docketwatch resume`" in run_cli(path, "status", "kadrey").stdout

    assert run_cli(path, "resume", "kadrey").returncode == 0
    code, result = check_json(path, "kadrey")
    assert code == 0 and result["paused"] is False and result["baseline"] is True

    # A digest says so when a case it covers is paused.
    fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", "ORDER re Discovery Letter Brief.")
    assert check_json(path, "kadrey")[1]["new"]
    assert run_cli(path, "pause", "kadrey").returncode == 0
    preview = run_cli(path, "preview", "--format", "txt").stdout
    assert "Kadrey v. Meta Platforms, Inc.: paused, not checked since 20" in preview


def test_init_writes_a_starter_that_loads_and_takes_cases(tmp_path):
    path = tmp_path / "new" / "docketwatch.toml"
    ran = run_cli(None, "init", str(path))
    assert ran.returncode == 0 and f"wrote {path}" in ran.stdout
    starter = path.read_text()
    assert "# token = \"${COURTLISTENER_TOKEN}\"" in starter and "docketwatch add" in starter
    path.write_text(starter.replace("# [database]\n", f'[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n', 1))
    before = path.read_text()
    assert json.loads(run_cli(path, "cases", "--json").stdout)["cases"] == []

    assert "never overwrites" in one_line_error(run_cli(None, "init", str(path)))
    assert path.read_text() == before

    assert run_cli(path, "add", "nysd", "No. 1:23-cv-11195", "--name", "NYT v. Microsoft").returncode == 0
    assert path.read_text() == before + (
        '\n[[cases]]\nname = "NYT v. Microsoft"\ncourt = "nysd"\ndocket_number = "1:23-cv-11195"\n')
    assert [c["name"] for c in json.loads(run_cli(path, "cases", "--json").stdout)["cases"]] == ["NYT v. Microsoft"]


# -- resolving a CourtListener docket ----------------------------------------------------


def test_add_by_docket_url_or_id_through_the_api_with_a_token(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    path = write_config(tmp_path, fake_cl.base_url, cases="\n")
    ran = run_cli(path, "add", f"{fake_cl.base_url}/docket/{KADREY_ID}/kadrey-v-meta-platforms-inc/")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        f"added 'Kadrey v. Meta Platforms, Inc.' (cand 3:23-cv-03417, courtlistener id {KADREY_ID}) to {path}",
        "  looked up through the CourtListener API (1 request)"]
    assert path.read_text().endswith(
        f'[[cases]]\nname = "Kadrey v. Meta Platforms, Inc."\ncourt = "cand"\ndocket_number = "3:23-cv-03417"\n'
        f"courtlistener_id = {KADREY_ID}\n")
    assert [p for p, _ in fake_cl.requests] == [f"/api/rest/v4/dockets/{KADREY_ID}/"]
    # The same docket again, by id this time: refused, nothing more asked of the server.
    assert "already watched" in one_line_error(run_cli(path, "add", str(KADREY_ID)))
    assert "CourtListener has no docket" not in one_line_error(run_cli(path, "add", "999"), code=3)


def test_add_without_a_token_reads_the_free_feed_and_needs_the_court(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    path = write_config(tmp_path, fake_cl.base_url, token=False, cases="\n")
    before = path.read_text()
    url = f"https://www.courtlistener.com/docket/{KADREY_ID}/kadrey-v-meta-platforms-inc/"
    assert "give it with --court" in one_line_error(run_cli(path, "add", url))
    assert path.read_text() == before and fake_cl.requests == []  # said before asking the server

    ran = run_cli(path, "add", url, "--court", "cand", "--name", "Kadrey")
    assert ran.returncode == 0, ran.stderr
    assert "read from CourtListener's free docket feed (no token set)" in ran.stdout
    assert path.read_text() == before + (
        f'[[cases]]\nname = "Kadrey"\ncourt = "cand"\ndocket_number = "3:23-cv-03417"\n'
        f"courtlistener_id = {KADREY_ID}\n")
    assert all(p == f"/docket/{KADREY_ID}/feed/" for p, _ in fake_cl.requests)
    assert "HTTP 404" in one_line_error(run_cli(path, "add", "12345", "--court", "cand"), code=3)


# -- docket numbers as people write them ---------------------------------------------------


@pytest.mark.parametrize(("text", "number"), [
    ("1:23-cv-11195 (SHS)", "1:23-cv-11195"),
    ("No. 3:23-cv-03417", "3:23-cv-03417"),
    ("3:23cv3417", "3:23-cv-03417"),
    ("Case No. 3:23-CV-3417-VC", "3:23-cv-03417"),
    ("25-2153", "25-2153"),
    ("MDL No. 3143", "MDL No. 3143"),
])
def test_written_docket_numbers(text, number):
    assert written(text).number == number


def test_a_number_without_its_office_fits_only_in_a_known_court():
    short = written("23-cv-3417")
    assert short.number is None
    assert short.fits("3:23-cv-03417") and short.fits("1:23-cv-03417")
    assert not short.fits("3:23-cr-03417") and not short.fits("3:24-cv-03417") and not short.fits("23-3417")
    with pytest.raises(DocketNumberError):
        written("next week")


def test_case_arguments_take_numbers_as_people_write_them(fake_cl, tmp_path):
    path = write_config(tmp_path, fake_cl.base_url, cases=TWO_CASES)
    for fragment in ("23-cv-3417", "No. 3:23-cv-03417", "3:23cv3417", "3:23-cv-03417 (VC)"):
        ran = run_cli(path, "status", fragment, "--json")
        assert ran.returncode == 0, (fragment, ran.stderr)
        assert [c["name"] for c in json.loads(ran.stdout)["cases"]] == ["Kadrey v. Meta Platforms, Inc."]


# -- entries and test-notify ---------------------------------------------------------------


def test_entries_shows_what_is_stored_newest_first(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    path = write_config(tmp_path, fake_cl.base_url)
    assert check_json(path)[0] == 0
    with sqlite3.connect(tmp_path / "dw.db") as db:
        stored = db.execute("SELECT count(*) FROM entry").fetchone()[0]
        recent = db.execute("SELECT count(*) FROM entry WHERE date_filed >= '2025-03-01'").fetchone()[0]
    every = json.loads(run_cli(path, "entries", "kadrey", "--json").stdout)["cases"][0]["entries"]
    assert len(every) == stored and 0 < recent < stored
    dated = [e["date_filed"] for e in every if e["date_filed"]]
    assert dated == sorted(dated, reverse=True) and all(e["first_seen"] for e in every)

    since = json.loads(run_cli(path, "entries", "kadrey", "--since", "2025-03-01", "--json").stdout)
    assert [e for e in every if (e["date_filed"] or "") >= "2025-03-01"] == since["cases"][0]["entries"]
    assert len(since["cases"][0]["entries"]) == recent
    text = run_cli(path, "entries", "kadrey", "--since", "2025-03-01").stdout.splitlines()
    assert text[0] == f"Kadrey v. Meta Platforms, Inc. (cand 3:23-cv-03417): {recent} entries stored"
    assert len(text) == recent + 1 and "#598  2025-06-25" in "\n".join(text)
    bad = run_cli(path, "entries", "kadrey", "--since", "June")
    assert bad.returncode == 2 and "Invalid value for '--since'" in bad.stderr and "Traceback" not in bad.stderr


def test_test_notify_reports_what_the_smtp_server_said_and_stores_nothing(fake_cl, tmp_path, smtp_server):
    smtp_server.refuse.add("bob@example.org")
    path = write_config(tmp_path, fake_cl.base_url, cases=(
        '[[digests]]\nname = "lawyers"\nchannel = "email"\nto = ["ann@example.org", "bob@example.org"]\n'
        + smtp_table(smtp_server.port)), database_url=f"sqlite:///{tmp_path / 'dw.db'}")  # none there yet
    ran = run_cli(path, "test-notify", "lawyers", env={"SMTP_TEST_PASSWORD": PASSWORD})
    assert ran.returncode == 3
    assert ran.stdout.splitlines() == [
        f"lawyers (email) to ann@example.org: sent: ann@example.org via 127.0.0.1:{smtp_server.port}: "
        "250 Message accepted for delivery",
        f"lawyers (email) to bob@example.org: FAILED: sending through SMTP server 127.0.0.1:{smtp_server.port} "
        "failed: the recipient was refused: bob@example.org (550 5.1.1 <bob@example.org>: mailbox unavailable)"]
    assert [(to, m["Subject"]) for to, m in smtp_server.received] == [
        (["ann@example.org"], "docketwatch test message (lawyers)")]
    assert not (tmp_path / "dw.db").exists()  # no outbox row: the database was not even opened
    nobody = run_cli(path, "test-notify", "nobody", env={"SMTP_TEST_PASSWORD": PASSWORD})
    assert nobody.returncode == 2 and "no [[digests]] named 'nobody'" in nobody.stderr


def test_an_smtp_server_trickling_its_greeting_is_cut_off_at_the_timeout_for_the_whole_attempt(
        fake_cl, tmp_path, slow_server):
    """Each byte resets a read's timeout: the deadline is the attempt's, so one slow
    server never holds the outbox (and the subscriptions behind it) for long."""
    smtp = slow_server("trickle_greeting", pace=0.2, give_up=60)
    path = write_config(tmp_path, fake_cl.base_url, cases=(
        '[[digests]]\nname = "lawyers"\nchannel = "email"\nto = ["ann@example.org"]\n'
        + smtp_table(smtp.port) + "timeout = 1\n"))
    began = time.monotonic()
    ran = run_cli(path, "test-notify", "lawyers", env={"SMTP_TEST_PASSWORD": PASSWORD})
    assert time.monotonic() - began < 5
    assert ran.returncode == 3 and ran.stdout == (
        f"lawyers (email) to ann@example.org: FAILED: SMTP server 127.0.0.1:{smtp.port} gave no complete answer "
        "within 1 s (smtp.timeout, for the whole attempt)\n")


def test_test_notify_to_a_folder_writes_a_file_named_as_a_test(fake_cl, tmp_path):
    archive = tmp_path / "archive"
    path = write_config(tmp_path, fake_cl.base_url, cases=f'[[digests]]\nname = "archive"\nchannel = "markdown"\ndir = "{archive}"\n')
    ran = run_cli(path, "test-notify", "archive")
    assert ran.returncode == 0 and ran.stdout.startswith("archive (markdown) to "), ran.stdout
    [written] = archive.iterdir()
    assert written.name.startswith("digest-") and written.name.endswith("-test.md")
    assert "This is a test message from docketwatch" in written.read_text()


# -- conventions -----------------------------------------------------------------------------


def test_help_and_global_options_after_the_command(fake_cl, tmp_path):
    path = write_config(tmp_path, fake_cl.base_url, cases=TWO_CASES)
    for args in (["-h"], ["status", "-h"], ["add", "-h"]):
        ran = run_cli(None, *args)
        assert ran.returncode == 0 and ran.stdout.startswith("Usage: docketwatch"), args
    ran = run_cli(None, "cases", "--config", str(path), "--json")
    assert ran.returncode == 0 and json.loads(ran.stdout)["config"] == str(path)
    ran = run_cli(None, "status", "kadrey", "bartz", "--json", "--config", str(path))
    assert [c["name"] for c in json.loads(ran.stdout)["cases"]] == [
        "Kadrey v. Meta Platforms, Inc.", "Bartz v. Anthropic PBC"]


def test_run_once_exits_3_when_a_case_failed_and_logs_each_event(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    path = write_config(tmp_path, fake_cl.base_url)
    assert run_cli(path, "run", "--once").returncode == 0  # the baseline
    day = str(today())  # filed after the watch began: news
    fake_cl.add_entry(KADREY_ID, "600", day, "ORDER re Discovery Letter Brief.")
    fake_cl.add_entry(KADREY_ID, "601", day, "NOTICE of Appearance by A. Lawyer")
    ran = run_cli(path, "run", "--once")
    assert ran.returncode == 0, ran.stderr
    events = [line.split(" INFO docketwatch.ops.service: ")[1] for line in ran.stderr.splitlines()
              if " INFO docketwatch.ops.service: Kadrey" in line]
    assert sorted(events) == [f"Kadrey v. Meta Platforms, Inc.: new #600 {day}: ORDER re Discovery Letter Brief.",
                              f"Kadrey v. Meta Platforms, Inc.: new #601 {day}: NOTICE of Appearance by A. Lawyer"]

    fake_cl.fail_with = 500
    ran = run_cli(path, "run", "--once")
    assert ran.returncode == 3
    assert "docketwatch run --once: 1 case(s) failed: Kadrey v. Meta Platforms, Inc. (cand 3:23-cv-03417)" \
        in ran.stderr


def complete(args: str, cword: int, shell: str = "zsh") -> str:
    env = {"_DOCKETWATCH_COMPLETE": f"{shell}_complete", "COMP_WORDS": args, "COMP_CWORD": str(cword)}
    return run_cli(None, env=env).stdout


def test_shell_completion_offers_case_names(fake_cl, tmp_path):
    path = write_config(tmp_path, fake_cl.base_url, cases=TWO_CASES)
    out = complete(f"docketwatch --config {path} status Kad", 4)
    assert out.splitlines() == ["plain", "Kadrey v. Meta Platforms, Inc.", "cand 3:23-cv-03417"]
    out = complete(f"docketwatch pause ba --config {path}", 2, "bash")
    assert out.splitlines() == [r"plain,Bartz\ v.\ Anthropic\ PBC"]


def test_check_shows_a_line_per_case_on_a_terminal_and_nothing_when_piped(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    fake_cl.add_docket(69058235, "cand", "3:24-cv-05417", "Bartz v. Anthropic PBC")
    path = write_config(tmp_path, fake_cl.base_url, cases=TWO_CASES)
    piped = run_cli(path, "check")
    assert piped.returncode == 0 and piped.stderr == ""

    # A real terminal on stderr: the process itself is the point.
    leader, follower = pty.openpty()
    env = {**os.environ, "CL_TEST_TOKEN": "test-token"}
    env.pop("DOCKETWATCH_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "docketwatch", "--config", str(path), "check"],
                            stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the process closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == 0
    lines = seen.decode().replace("\r\n", "\n").splitlines()
    assert sorted(lines) == ["[1/2] Kadrey v. Meta Platforms, Inc.: nothing new",
                             "[2/2] Bartz v. Anthropic PBC: no entries yet"] or sorted(lines) == [
        "[1/2] Bartz v. Anthropic PBC: no entries yet", "[2/2] Kadrey v. Meta Platforms, Inc.: nothing new"]
    assert b"[1/2]" not in out  # the results on stdout stay as they are


def test_add_a_number_without_its_office_is_completed_from_the_courts_dockets(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    fake_cl.add_docket(70000001, "cand", "3:23-cr-03417", "United States v. Someone")  # another type
    path = write_config(tmp_path, fake_cl.base_url, cases="\n")
    ran = run_cli(path, "add", "cand", "23-cv-3417")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[0] == (
        f"added 'Kadrey v. Meta Platforms, Inc.' (cand 3:23-cv-03417, courtlistener id {KADREY_ID}) to {path}")
    assert [(p, q["docket_number_core"]) for p, q in fake_cl.requests] == [("/api/rest/v4/dockets/", "2303417")]

    fake_cl.add_docket(70000002, "cand", "5:23-cv-03417", "Another v. Party")  # now two offices fit
    before = path.read_text()
    error = one_line_error(run_cli(path, "add", "cand", "23-cv-3417", "--name", "x"))
    assert "CourtListener has several: 3:23-cv-03417, 5:23-cv-03417" in error
    assert path.read_text() == before
