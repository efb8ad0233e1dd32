"""Hearings and deadlines as a calendar: the grammar's rules, resets and vacaturs, the .ics
files `docketwatch calendar` writes from polled and imported entries, and digest lines.

Polled entries come from the fake CourtListener over loopback and a real `check`;
imported ones from a real PACER docket report (D. Utah, USA v. Mitchell).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlmodel import Session

from docketwatch import bootstrap, store
from docketwatch.domain.calendar import Action, Kind, fold, mentions
from docketwatch.ops import web
from docketwatch.pipeline import digests, render
from tests.conftest import KADREY_ID, poll_cases, run_cli, write_config
from tests.test_import import CASES as T_V_OPENAI_AND_KADREY
from tests.test_import import report_with

pytestmark = pytest.mark.usefixtures("cl_token")  # configurations loaded in process

PACER = Path(__file__).parent / "fixtures" / "pacer"
LA = ZoneInfo("America/Los_Angeles")


# -- the grammar ----------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Motion Hearing set for 3/5/2010 at 11:00 AM before Judge Alsup.",
     [(Kind.HEARING, "Motion Hearing", date(2010, 3, 5), time(11, 0), Action.SET)]),
    ("ORDER: hearing set for 3/5/2010 at 11:00 AM.",
     [(Kind.HEARING, "hearing", date(2010, 3, 5), time(11, 0), Action.SET)]),
    ("Response due by 2/26/2010. Reply due by 3/5/2010.",
     [(Kind.DEADLINE, "Response", date(2010, 2, 26), None, Action.SET),
      (Kind.DEADLINE, "Reply", date(2010, 3, 5), None, Action.SET)]),
    ("RESET Motion Hearing set for 3/12/2010 02:00 PM",
     [(Kind.HEARING, "Motion Hearing", date(2010, 3, 12), time(14, 0), Action.RESET)]),
    ("The Motion Hearing set for 3/12/2010 is VACATED.",
     [(Kind.HEARING, "Motion Hearing", date(2010, 3, 12), None, Action.VACATED)]),
    ("TEXT ORDER: the status conference scheduled for July 31, 2023 is adjourned to October 30, 2023, at 3:00 p.m.",
     [(Kind.CONFERENCE, "status conference", date(2023, 10, 30), time(15, 0), Action.RESET)]),
    ("ORDER: A jury trial in this matter will begin on Monday, June 26, 2023, at 9:00 a.m.",
     [(Kind.TRIAL, "jury trial", date(2023, 6, 26), time(9, 0), Action.SET)]),
    # Past events, dates of signing and filing, and a date without an event are not items.
    ("Minute Entry: Status Conference held on 2/27/2009. Signed by Judge Alba on 3/1/2009.", []),
    ("Notice of appeal filed 4/1/2024; the deadline passed on 4/2/2024.", []),
    ("Hearing set for 2/30/2010.", []),  # no such day
    # A time ends a sentence: the next sentence's vacatur is its own, whatever the case of AM or A.M.
    ("MINUTE ORDER: Jury Trial set for 6/1/2027 at 9:00 AM. The Motion Hearing set for 12/20/2026 is VACATED.",
     [(Kind.TRIAL, "Jury Trial", date(2027, 6, 1), time(9, 0), Action.SET),
      (Kind.HEARING, "Motion Hearing", date(2026, 12, 20), None, Action.VACATED)]),
    ("Pretrial Conference set for 5/20/2026 at 2:00 P.M. Hearing on Motion to Dismiss is terminated as moot.",
     [(Kind.CONFERENCE, "Pretrial Conference", date(2026, 5, 20), time(14, 0), Action.SET)]),
])
def test_the_grammar_reads_what_clerks_write(text, expected):
    assert [(m.kind, m.label, m.on, m.at, m.action) for m in mentions(text)] == expected


def _docket(*texts: str) -> list[tuple[str, list]]:
    return [(f"entry-{n}", mentions(t)) for n, t in enumerate(texts, start=1)]


def test_a_reset_moves_the_item_and_a_vacatur_cancels_it_keeping_its_uid():
    set_ = "Motion Hearing set for 3/5/2010 at 11:00 AM."
    reset = "RESET from 3/5/2010: Motion Hearing reset for 3/12/2010 at 2:00 PM."
    vacated = "ORDER: the Motion Hearing set for 3/12/2010 is VACATED."

    [first] = fold("cand:1", _docket(set_))
    [moved] = fold("cand:1", _docket(set_, reset))
    [cancelled] = fold("cand:1", _docket(set_, reset, vacated))
    assert (first.on, first.at, first.sequence, first.cancelled) == (date(2010, 3, 5), time(11), 0, False)
    assert (moved.on, moved.at, moved.sequence, moved.cancelled) == (date(2010, 3, 12), time(14), 1, False)
    assert (cancelled.on, cancelled.sequence, cancelled.cancelled) == (date(2010, 3, 12), 2, True)
    assert first.uid == moved.uid == cancelled.uid
    assert cancelled.sources == ["entry-1", "entry-2", "entry-3"]


def test_the_same_event_named_twice_is_one_item_and_another_date_is_another():
    items = fold("utd:1", _docket("Status Conference set for 2/27/2009 10:00 AM.",
                                  "NOTICE OF HEARING: Status Conference set for 2/27/2009 10:00 AM in Room 230.",
                                  "Status Conference set for 4/30/2009 11:00 AM."))
    assert [(i.on, i.sequence) for i in items] == [(date(2009, 2, 27), 0), (date(2009, 4, 30), 0)]
    assert len({i.uid for i in items}) == 2


# -- polled entries: .ics and digests -----------------------------------------------------


def _events(path: Path) -> list:
    return list(Calendar.from_ical(path.read_bytes()).walk("VEVENT"))


def test_polled_hearings_become_ics_events_that_move_and_cancel_and_digests_list_them(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    digest = '\n[[digests]]\nname = "desk"\nchannel = "markdown"\ndir = "desk"\n'
    path = write_config(tmp_path, fake_cl.base_url, cases=f'''
[[cases]]
name = "Kadrey v. Meta Platforms, Inc."
court = "cand"
docket_number = "3:23-cv-03417-VC"
courtlistener_id = {KADREY_ID}
{digest}''')
    poll_cases(path)  # baseline
    today = datetime.now(LA).date()
    soon, later = today + timedelta(days=5), today + timedelta(days=9)
    fake_cl.add_entry(KADREY_ID, "700", today.isoformat(),
                      f"CLERK'S NOTICE: Motion Hearing set for {soon:%-m/%-d/%Y} 10:00 AM in San Francisco. "
                      f"Opposition due by {soon - timedelta(days=2):%-m/%-d/%Y}.")
    poll_cases(path)
    cfg = bootstrap.load(path)
    out = tmp_path / "cal"
    first = run_cli(path, "calendar", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "cand-3-23-cv-03417.ics: 2 events" in first.stdout and "subscription-desk.ics: 2 events" in first.stdout
    [hearing] = [e for e in _events(out / "cand-3-23-cv-03417.ics") if "Motion Hearing" in e["summary"]]
    start = hearing.decoded("dtstart")
    assert start == datetime.combine(soon, time(10), tzinfo=LA) and hearing["dtstart"].params["TZID"] == \
        "America/Los_Angeles"
    assert (hearing["sequence"], hearing["status"]) == (0, "CONFIRMED")
    [deadline] = [e for e in _events(out / "cand-3-23-cv-03417.ics") if "Opposition" in e["summary"]]
    assert deadline.decoded("dtstart") == soon - timedelta(days=2)  # all day: a date, no time
    assert "VTIMEZONE" in (out / "cand-3-23-cv-03417.ics").read_text()

    fake_cl.add_entry(KADREY_ID, "701", today.isoformat(),
                      f"RESET Motion Hearing reset for {later:%-m/%-d/%Y} 02:00 PM before Judge Vince Chhabria.")
    poll_cases(path)
    cfg = bootstrap.load(path)
    with Session(store.open_engine(cfg.database.url)) as session:
        model = digests.draft(session, cfg, cfg.subscriptions("desk")[0], datetime.now(UTC)).model
    [section] = model.cases
    assert [(c.when.split()[0], c.what, c.cancelled) for c in section.upcoming] == [
        ((soon - timedelta(days=2)).isoformat(), "Opposition", False), (later.isoformat(), "Motion Hearing", False)]
    assert section.upcoming[1].when.endswith(("14:00 PST", "14:00 PDT"))
    for fmt in render.TEMPLATES:
        text = render.render(cfg, model, fmt)
        assert "Coming up (next 14 days)" in text and later.isoformat() in text

    run_cli(path, "calendar", "--out", str(out))
    [moved] = [e for e in _events(out / "cand-3-23-cv-03417.ics") if "Motion Hearing" in e["summary"]]
    assert moved["uid"] == hearing["uid"] and moved["sequence"] == 1
    assert moved.decoded("dtstart") == datetime.combine(later, time(14), tzinfo=LA)

    fake_cl.add_entry(KADREY_ID, "702", today.isoformat(),
                      f"ORDER: The Motion Hearing set for {later:%-m/%-d/%Y} is VACATED.")
    poll_cases(path)
    third = run_cli(path, "calendar", "--out", str(out))
    assert "cand-3-23-cv-03417.ics: 2 events (1 cancelled)" in third.stdout
    [gone] = [e for e in _events(out / "cand-3-23-cv-03417.ics") if "Motion Hearing" in e["summary"]]
    assert (gone["uid"], gone["sequence"], gone["status"]) == (hearing["uid"], 2, "CANCELLED")


def test_imported_entries_make_a_calendar_in_the_courts_zone(tmp_path):
    path = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases='''
[[cases]]
name = "USA v. Mitchell"
court = "utd"
docket_number = "2:08-cr-00125"
courtlistener_id = 1
''')
    imported = run_cli(path, "import", str(PACER / "district_docket__utd__utd.html"))
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "cal"
    result = run_cli(path, "calendar", "--out", str(out))
    assert result.returncode == 0, result.stderr
    events = {(e.decoded("dtstart"), str(e["summary"]).split(":")[0]): e for e in _events(out / "utd-2-08-cr-00125.ics")}
    denver = ZoneInfo("America/Denver")
    trial = events[(datetime(2008, 12, 22, 8, 30, tzinfo=denver), "Fourteen day Jury Trial")]
    assert (trial["status"], trial["sequence"]) == ("CANCELLED", 1)  # "the Jury trial set for 12/22/08 are vacated"
    hearing = events[(datetime(2009, 9, 25, 10, 0, tzinfo=denver), "Motion Hearing")]
    assert hearing["dtstart"].params["TZID"] == "America/Denver" and hearing["status"] == "CONFIRMED"
    assert "#" in str(hearing["description"])  # the entry that set it

    # `serve` serves the same files, byte for byte, under the same names.
    cfg = bootstrap.load(path)
    web_client = web.app(cfg, store.open_engine(cfg.database.url)).test_client()
    served = web_client.get("/calendar/utd-2-08-cr-00125.ics")
    assert served.status_code == 200 and served.content_type.startswith("text/calendar")
    assert served.data == (out / "utd-2-08-cr-00125.ics").read_bytes()
    assert web_client.get("/calendar/no-such-case.ics").status_code == 404


def test_calendar_says_in_one_line_when_the_folder_cannot_be_written(tmp_path):
    path = write_config(tmp_path, "http://127.0.0.1:9", token=False)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_cli(path, "calendar", "--out", str(blocker / "cal"))
    assert result.returncode == 3
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"docketwatch: cannot write calendars to {blocker / 'cal'}")


def test_of_one_days_entries_a_reset_in_a_minute_entry_moves_what_a_numbered_entry_set(tmp_path):
    """A minute entry has no number to place it among the day's numbered entries: a reset
    (or vacatur) of the day applies after the day's settings, not before them."""
    path = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=T_V_OPENAI_AND_KADREY)
    report = report_with(tmp_path, (date(2023, 11, 24), "7", "ORDER: Motion Hearing set for 3/5/2024 at 10:00 AM."),
                         (date(2023, 11, 24), None, "CLERK'S NOTICE: Motion Hearing reset for 3/12/2024 at 10:00 AM."))
    assert run_cli(path, "import", str(report)).returncode == 0
    out = tmp_path / "cal"
    assert run_cli(path, "calendar", "--out", str(out)).returncode == 0
    hearings = [e for e in _events(out / "cand-3-23-cv-04557.ics") if "Motion Hearing" in e["summary"]]
    assert [(e.decoded("dtstart"), e["status"], e["sequence"]) for e in hearings] == [
        (datetime(2024, 3, 12, 10, 0, tzinfo=LA), "CONFIRMED", 1)]


# Characters RFC 5545 allows in no text value (CONTROL: all but HTAB; line breaks are
# escaped as \n). Found in the text of a saved report (lxml keeps \x01, \x1b, \x7f ...).
ICS_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def test_control_characters_of_docket_text_and_names_are_left_out_of_the_ics(tmp_path):
    """A calendar app refuses a file with them, and they are no words of the docket."""
    digest = '\n[[digests]]\nname = "desk\\u0007"\nchannel = "markdown"\ndir = "desk"\n'
    path = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=T_V_OPENAI_AND_KADREY + digest)
    text = "ORDER: Motion Hearing set for 3/5/2024 at 10:00 AM; A\x01B\x08C\x0eD\x1bE\x7fF, before Judge \\Spero."
    assert run_cli(path, "import", str(report_with(tmp_path, (date(2023, 11, 24), "7", text)))).returncode == 0
    out = tmp_path / "cal"
    assert run_cli(path, "calendar", "--out", str(out)).returncode == 0
    for name in ("cand-3-23-cv-04557.ics", "subscription-desk.ics"):
        data = (out / name).read_bytes()
        lines = data.split(b"\r\n")
        assert ICS_CONTROL.search(b"".join(lines)) is None, name
        assert all(len(line) <= 75 for line in lines), name  # folded at 75 octets
        [hearing] = [e for e in _events(out / name) if "Motion Hearing" in e["summary"]]
        assert str(hearing["description"]) == ("#7 ORDER: Motion Hearing set for 3/5/2024 at 10:00 AM; ABCDEF, before "
                                               "Judge \\Spero. (Entered: 11/24/2023)")
    assert str(Calendar.from_ical((out / "subscription-desk.ics").read_bytes())["x-wr-calname"]) == \
        "docketwatch: subscription desk"
