"""Subscriptions, schedules, filters and the one data model behind all three formats.

Events are made the real way: a fake CourtListener over loopback and a real `check`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from docketwatch import bootstrap as config_mod
from docketwatch import store
from docketwatch.domain import schedule
from docketwatch.pipeline import digests, render
from docketwatch.settings import Config
from tests.conftest import KADREY_ID, poll_cases, run_cli, today, write_config

pytestmark = pytest.mark.usefixtures("cl_token")  # configurations loaded in process

UTC = UTC
LA = ZoneInfo("America/Los_Angeles")
ANDERSEN_ID = 66732129


def case_table(name: str, docket_number: str, courtlistener_id: int) -> str:
    """A [[cases]] table for a N.D. Cal. docket on the fake server."""
    return (f'\n[[cases]]\nname = "{name}"\ncourt = "cand"\ndocket_number = "{docket_number}"\n'
            f"courtlistener_id = {courtlistener_id}\n")


KADREY = case_table("Kadrey v. Meta Platforms, Inc.", "3:23-cv-03417-VC", KADREY_ID)
ANDERSEN = case_table("Andersen v. Stability AI Ltd.", "3:23-cv-00201", ANDERSEN_ID)


def markdown_digest(name: str, **keys: str | list[str]) -> str:
    """A [[digests]] table writing Markdown into a folder named after it, plus `keys`."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in {"name": name, "channel": "markdown", "dir": name,
                                                                 **keys}.items()]
    return "\n[[digests]]\n" + "\n".join(lines) + "\n"


SCRIPT_TEXT = 'ORDER re <script>alert("x")</script> & [link](http://x) *bold* # heading'


def make_config(tmp_path: Path, base_url: str, tables: str, *, top: str = "") -> Path:
    """write_config plus [[digests]] and other tables, and top-level keys (which TOML wants first)."""
    path = write_config(tmp_path, base_url, cases=tables)
    path.write_text(top + "\n" + path.read_text())
    return path


@pytest.fixture
def two_cases(fake_cl):
    """Kadrey and Andersen on the fake server, with a baseline taken; returns a function
    that writes a config with the given [[digests]], polls, and adds new filings."""
    fake_cl.load_kadrey()
    fake_cl.add_docket(ANDERSEN_ID, "cand", "3:23-cv-00201", "Andersen v. Stability AI Ltd.", pacer_case_id="407208")
    fake_cl.add_entry(ANDERSEN_ID, "1", "2023-01-13", "COMPLAINT against Stability AI Ltd.")

    def setup(tmp_path: Path, subscriptions: str, top: str = "") -> Config:
        path = make_config(tmp_path, fake_cl.base_url, KADREY + ANDERSEN + subscriptions, top=top)
        poll_cases(path)  # baseline: quiet
        fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", "ORDER re Discovery Letter Brief. Signed by Judge Chhabria.")
        fake_cl.add_entry(KADREY_ID, "601", "2025-07-03", "NOTICE of Appearance by A. Lawyer")
        fake_cl.add_entry(ANDERSEN_ID, "174", "2024-03-21", "OPPOSITION/RESPONSE re 162 MOTION to Dismiss")
        fake_cl.add_entry(ANDERSEN_ID, "175", "2024-03-22", "PRO HAC VICE application of B. Lawyer")
        poll_cases(path)
        return config_mod.load(path)

    return setup


def drafted(cfg: Config, name: str, now: datetime | None = None) -> digests.Draft | None:
    with Session(store.open_engine(cfg.database.url)) as session:
        return digests.draft(session, cfg, cfg.subscriptions(name)[0], now or datetime.now(UTC))


def numbers(model: digests.DigestModel) -> dict[str, list[str | None]]:
    return {c.name: [e.number for e in c.new + c.changed] for c in model.cases}


# -- schedules ---------------------------------------------------------------

def test_immediate_is_always_due_up_to_now():
    now = datetime(2025, 7, 2, 12, 0, tzinfo=UTC)
    assert schedule.cutoff(schedule.parse_schedule("immediate"), now, now, LA) == now


def test_daily_is_due_once_per_day_at_the_local_time_across_daylight_saving():
    daily = schedule.parse_schedule("daily 07:00")
    # 2025-03-09: clocks in Los Angeles jump from PST (UTC-8) to PDT (UTC-7).
    morning = datetime(2025, 3, 9, 14, 0, tzinfo=UTC)  # 07:00 PDT
    assert schedule.cutoff(daily, None, morning + timedelta(minutes=5), LA) == morning
    assert schedule.cutoff(daily, morning, morning + timedelta(hours=5), LA) is None  # already covered
    before = morning - timedelta(minutes=1)  # 06:59 PDT: the latest slot is yesterday's 07:00 PST
    assert schedule.cutoff(daily, None, before, LA) == datetime(2025, 3, 8, 15, 0, tzinfo=UTC)
    assert schedule.cutoff(daily, datetime(2025, 3, 8, 15, 0, tzinfo=UTC), before, LA) is None


def test_weekly_is_due_after_the_weekday_and_time():
    weekly = schedule.parse_schedule("weekly Mon 07:30")
    monday = datetime(2025, 6, 30, 14, 30, tzinfo=UTC)  # Monday 07:30 PDT
    wednesday = datetime(2025, 7, 2, 12, 0, tzinfo=UTC)
    assert schedule.cutoff(weekly, None, wednesday, LA) == monday
    assert schedule.cutoff(weekly, monday, wednesday, LA) is None
    assert schedule.cutoff(weekly, monday, monday + timedelta(days=7), LA) == monday + timedelta(days=7)
    assert schedule.cutoff(weekly, monday, monday + timedelta(days=7) - timedelta(seconds=1), LA) is None


@pytest.mark.parametrize("text", ["hourly", "daily", "daily 25:00", "weekly 07:00", "weekly someday 07:00",
                                  "weekly mo 07:00"])
def test_bad_schedules_are_rejected(text):
    with pytest.raises(ValueError, match="immediate"):
        schedule.parse_schedule(text)


def test_daily_digest_waits_for_its_time_and_covers_what_came_before_it(two_cases, tmp_path):
    cfg = two_cases(tmp_path, markdown_digest("morning", schedule="daily 07:00"),
                    top='timezone = "America/Los_Angeles"')
    made = datetime.now(UTC)  # the events were just created
    slot = datetime.combine(made.astimezone(LA).date(), datetime.min.time().replace(hour=7), tzinfo=LA)
    next_slot = (slot if slot > made else slot + timedelta(days=1)).astimezone(UTC)
    assert drafted(cfg, "morning", next_slot - timedelta(minutes=1)) is None  # events are younger than the last slot
    due = drafted(cfg, "morning", next_slot + timedelta(minutes=1))
    assert due is not None and due.model.period_end == next_slot
    assert numbers(due.model) == {"Kadrey v. Meta Platforms, Inc.": ["601", "600"],
                                  "Andersen v. Stability AI Ltd.": ["175", "174"]}


# -- selection: cases, kinds, keywords ----------------------------------------

def test_cases_and_keyword_filters_choose_the_events(two_cases, tmp_path):
    cfg = two_cases(tmp_path, markdown_digest("kadrey-no-appearances", cases=["Kadrey"],
                                              exclude=["notice of appearance"])
                    + markdown_digest("orders-everywhere", cases="*", include=["ORDER", "opposition"],
                                      exclude=["Pro Hac Vice"])
                    + markdown_digest("by-docket-number", cases=["3:23-cv-00201"], events=["changed"]))
    assert numbers(drafted(cfg, "kadrey-no-appearances").model) == {"Kadrey v. Meta Platforms, Inc.": ["600"]}
    assert numbers(drafted(cfg, "orders-everywhere").model) == {
        "Kadrey v. Meta Platforms, Inc.": ["600"], "Andersen v. Stability AI Ltd.": ["174"]}
    assert drafted(cfg, "by-docket-number") is None  # nothing changed in Andersen: no empty digest


def test_an_entry_new_and_changed_in_one_digest_is_shown_once_and_newest_first(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    fake_cl.add_entry(KADREY_ID, "599", "2025-06-27", "", short="Order")
    every_kind = ["new", "changed", "case", "gap", "error"]
    path = make_config(tmp_path, fake_cl.base_url, KADREY + markdown_digest("all", events=every_kind))
    poll_cases(path)
    fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", "MOTION to Compel")
    poll_cases(path)
    fake_cl.update_entry(KADREY_ID, "600", description="MOTION to Compel Production. Filed by Plaintiffs.")
    fake_cl.update_entry(KADREY_ID, "599", description="ORDER Denying Motion to Seal.")
    fake_cl.add_entry(KADREY_ID, "602", "2025-07-09", "STIPULATION and ORDER")
    poll_cases(path)
    cfg = config_mod.load(path)
    model = drafted(cfg, "all").model
    (case,) = model.cases
    assert [e.number for e in case.new] == ["602", "600"]
    assert case.new[1].text == "MOTION to Compel Production. Filed by Plaintiffs."  # current text, shown once
    assert [(e.number, e.changes) for e in case.changed] == [("599", ["text filled in"])]
    assert model.summary == "Kadrey v. Meta Platforms, Inc.: 2 new filings, 1 updated"


def test_default_and_custom_subjects(two_cases, tmp_path):
    cfg = two_cases(tmp_path, markdown_digest("all") + markdown_digest(
        "custom", subject="[dockets] {{ digest.new_count }} new: {{ digest.summary }}"))
    model = drafted(cfg, "all").model
    assert model.summary == "docketwatch: 4 new filings in 2 cases"
    custom = cfg.subscriptions("custom")[0]
    expected = "[dockets] 4 new: docketwatch: 4 new filings in 2 cases"
    assert render.subject(custom, drafted(cfg, "custom").model) == expected


def test_warnings_for_a_stale_case_and_a_spent_budget_ride_along(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    for n in range(800, 840):  # with the real entries: three pages of 20, more than the budget allows
        fake_cl.add_entry(KADREY_ID, str(n), "2025-09-01", f"Filing {n}")
    path = write_config(tmp_path, fake_cl.base_url, budget=3, cases=KADREY + markdown_digest("all"))
    poll_cases(path)
    fake_cl.add_entry(KADREY_ID, "900", str(today()), "ORDER")  # filed after the watch began: news
    poll_cases(path)
    cfg = config_mod.load(path)
    now = datetime.now(UTC)
    model = drafted(cfg, "all", now).model
    warnings = model.warnings
    assert any("request budget is spent" in w for w in warnings)
    assert all("request budget is spent" in render.render(cfg, model, fmt) for fmt in render.TEMPLATES)
    assert not any("days ago" in w for w in warnings)
    later = drafted(cfg, "all", now + timedelta(days=3)).model.warnings  # nobody polled for 3 days
    assert any(w.startswith("Kadrey v. Meta Platforms, Inc.: last successful check") and "3 days ago" in w
               for w in later)



def test_warnings_read_each_case_and_sources_latest_poll_in_queries_that_do_not_grow_with_the_cases(tmp_path):
    """Never checked successfully (the latest error), a warning of the latest poll of a
    source (not of an earlier one followed by a failure), nothing for a case never polled;
    and the same number of statements for 4 cases as for 40."""
    from sqlalchemy import event

    from docketwatch.store.models import CheckRun

    def tables(count: int) -> str:
        return "".join(case_table(f"Case {n}", f"3:23-cv-{n:05d}", 1000 + n) for n in range(count))

    statements = {}
    for count in (4, 40):
        folder = tmp_path / str(count)
        folder.mkdir()
        cfg = config_mod.load(write_config(folder, "http://127.0.0.1:9", cases=tables(count)))
        engine = store.open_engine(cfg.database.url)
        now = datetime.now(UTC)
        with Session(engine) as session:
            rows = store.case_rows(session, cfg.cases[:-1])  # the last case was never polled
            for n, row in enumerate(rows):
                history = {0: [(False, "boom 1", None), (False, "boom 2", None)],  # never a success
                           1: [(True, None, "only the latest 30 entries are watched")],
                           2: [(True, None, "an old warning"), (False, "boom 3", None)]}.get(n % 4, [(True, None, None)])
                for minutes, (ok, error, warning) in enumerate(history):
                    session.add(CheckRun(case_id=row.id, source="courtlistener", ok=ok, error=error, warning=warning,
                                         started_at=now - timedelta(minutes=10 - minutes), finished_at=now))
            session.commit()
        seen: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *args, seen=seen: seen.append(args[2]))
        with Session(engine) as session:
            warnings = digests.monitoring_warnings(session, cfg, cfg.cases, now)
        statements[count] = len(seen)
        assert "Case 0: never checked successfully; the latest error: boom 2" in warnings
        assert "Case 1: only the latest 30 entries are watched" in warnings
        assert not any("old warning" in w or w.startswith(("Case 2:", "Case 3:")) for w in warnings)
        assert not any(w.startswith(f"Case {count - 1}:") for w in warnings)  # never polled: nothing to say
    assert statements[4] == statements[40]

# -- rendering ----------------------------------------------------------------

def test_every_format_shows_docket_text_as_text(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    path = make_config(tmp_path, fake_cl.base_url, KADREY + markdown_digest("all"))
    poll_cases(path)
    fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", SCRIPT_TEXT)
    poll_cases(path)
    cfg = config_mod.load(path)
    model = drafted(cfg, "all").model
    html = render.render(cfg, model, "html")
    assert "<script>" not in html and "&lt;script&gt;alert(" in html and "&amp; [link]" in html
    assert "<style" not in html and 'style="' in html  # CSS inlined for mail clients
    md = render.render(cfg, model, "md")
    assert r'ORDER re &lt;script\>alert("x")&lt;/script\> &amp; \[link\](http://x) \*bold\* # heading' in md
    assert SCRIPT_TEXT in render.render(cfg, model, "txt")


def test_templates_dir_overrides_file_by_file(two_cases, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.txt.j2").write_text("MINE {{ digest.new_count }}\n")
    cfg = two_cases(tmp_path, markdown_digest("all"), top='templates_dir = "mine"')
    model = drafted(cfg, "all").model
    assert render.render(cfg, model, "txt") == "MINE 4\n"
    assert "<h2" in render.render(cfg, model, "html")  # not overridden: the package's template


def test_markdown_escape_covers_line_starts():
    assert render.markdown_escape("# not a heading") == r"\# not a heading"
    assert render.markdown_escape("1. not a list") == r"1\. not a list"
    assert render.markdown_escape("- not a list\nsecond line") == r"\- not a list second line"


# -- configuration --------------------------------------------------------------

def config_error(tmp_path: Path, tables: str, top: str = "") -> str:
    path = make_config(tmp_path, "http://127.0.0.1:9", KADREY + tables, top=top)
    with pytest.raises(config_mod.ConfigError) as e:
        config_mod.load(path)
    return str(e.value)


def test_configuration_errors_name_file_key_and_value(tmp_path):
    msg = config_error(tmp_path, '[[digests]]\nname = "x"\nchannel = "markdown"\ndir = "o"\nschedule = "hourly"\n')
    assert str(tmp_path) in msg and "digests[1].schedule = 'hourly'" in msg
    msg = config_error(tmp_path, '[[digests]]\nname = "x"\nchannel = "pigeon"\ndir = "o"\n')
    assert "digests[1].channel = 'pigeon'" in msg and "'email'" in msg
    msg = config_error(tmp_path, '[[digests]]\nname = "x"\nchannel = "markdown"\ndir = "o"\ncases = ["Silverman"]\n')
    assert "digests[1].cases" in msg and "'Silverman'" in msg
    msg = config_error(tmp_path, '[[digests]]\nname = "x"\nchannel = "email"\nto = ["a@example.org"]\n')
    assert "no [smtp] section" in msg
    msg = config_error(tmp_path, '[[digests]]\nname = "x"\nchannel = "markdown"\ndir = "o"\nevents = ["new", "olds"]\n')
    assert "digests[1].events[2] = 'olds'" in msg
    assert "timezone = 'Mars/Olympus'" in config_error(tmp_path, "", top='timezone = "Mars/Olympus"')


def test_the_smtp_password_must_come_from_the_environment_and_is_never_shown(tmp_path, monkeypatch):
    smtp = '[smtp]\nhost = "mail.example.org"\nusername = "me"\nfrom = "me@example.org"\npassword = "{}"\n'
    msg = config_error(tmp_path, smtp.format("hunter2-literal"))
    assert "smtp.password must name an environment variable" in msg and "hunter2-literal" not in msg
    monkeypatch.setenv("SMTP_PW", "hunter2-from-env")
    path = make_config(tmp_path, "http://127.0.0.1:9", KADREY + smtp.format("${SMTP_PW}"))
    cfg = config_mod.load(path)
    assert cfg.smtp.password.get_secret_value() == "hunter2-from-env"
    assert "hunter2" not in repr(cfg) and cfg.smtp.effective_port == 587


# -- preview ----------------------------------------------------------------------

def test_preview_renders_sample_entries_until_there_are_events(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    path = write_config(tmp_path, fake_cl.base_url)
    sample = run_cli(path, "preview", "--format", "txt")
    assert sample.returncode == 0, sample.stderr
    assert "Preview (sample entries)" in sample.stdout and "#598" in sample.stdout

    poll_cases(path)
    fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", SCRIPT_TEXT)
    poll_cases(path)
    out = tmp_path / "preview.html"
    proc = run_cli(path, "preview", "--out", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    html = out.read_text()
    assert "#600" in html and "&lt;script&gt;" in html and "sample entries" not in html
    md = run_cli(path, "preview", "--format", "md").stdout
    assert md.startswith("# Kadrey v. Meta Platforms, Inc.: 1 new filing")


# -- issue 8: links and templates taken from feeds and configuration ---------------------

def test_only_http_links_survive_in_every_format(tmp_path):
    from docketwatch.store.models import Entry, Event, StoredCase

    cfg = config_mod.load(make_config(tmp_path, "http://127.0.0.1:9", KADREY))
    case = StoredCase(id=1, court="cand", docket_number="3:23-cv-03417", name="Kadrey",
                      source_ids={"courtlistener": str(KADREY_ID)})
    urls = {"600": "javascript:alert(document.cookie)", "601": " JaVaScRiPt:alert(1)", "602": "data:text/html,x",
            "603": "java\nscript:alert(1)", "604": "https://storage.courtlistener.com/recap/604.pdf"}
    items = []
    for n, url in urls.items():
        entry = Entry(id=int(n), case_id=1, key=n, content_hash="", entry_number=n, description=f"FILING {n}", url=url)
        items.append((Event(case_id=1, entry_id=entry.id, kind="new", source="pacer_rss", summary=""), entry))
    now = datetime.now(UTC)
    model = digests.build_model(cfg, "links", [case], items, now - timedelta(hours=1), now, [])
    for fmt in render.TEMPLATES:
        out = render.render(cfg, model, fmt)
        assert "https://storage.courtlistener.com/recap/604.pdf" in out
        for bad in ("javascript", "JaVaScRiPt", "data:text", "script:"):
            assert bad not in out, (fmt, bad)


def test_subject_templates_are_sandboxed_and_checked_at_load(tmp_path):
    marker = tmp_path / "pwned"
    attack = "{{ cycler.__init__.__globals__.os.popen('touch " + str(marker) + "').read() }}"
    msg = config_error(tmp_path, markdown_digest("x", subject=attack))
    assert "digests[1].subject" in msg and not marker.exists()
    assert "digests[1].subject" in config_error(tmp_path, markdown_digest("x", subject="{{ digest.nope }}"))
    assert "digests[1].subject" in config_error(tmp_path, markdown_digest("x", subject="{{ 1 / 0 }}"))


def test_templates_from_templates_dir_are_sandboxed(two_cases, tmp_path):
    from jinja2.exceptions import SecurityError

    marker = tmp_path / "pwned"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.txt.j2").write_text(
        "{{ cycler.__init__.__globals__.os.popen('touch " + str(marker) + "').read() }}\n")
    cfg = two_cases(tmp_path, markdown_digest("all"), top='templates_dir = "mine"')
    with pytest.raises(SecurityError):
        render.render(cfg, drafted(cfg, "all").model, "txt")
    assert not marker.exists()


def test_a_subject_template_failing_on_a_real_digest_falls_back_to_the_summary(two_cases, tmp_path, caplog):
    """It renders against the sample at load, which has a gap, but this digest has none:
    the digest is not held back (and retried for ever) over its subject."""
    cfg = two_cases(tmp_path, markdown_digest("all", subject="{{ cases[0].gaps[0] }}"))
    model = drafted(cfg, "all").model
    assert render.subject(cfg.subscriptions("all")[0], model) == "docketwatch: 4 new filings in 2 cases"
    assert "all: the subject template does not render for this digest" in caplog.text


def test_the_readme_subject_example_works(two_cases, tmp_path):
    cfg = two_cases(tmp_path, markdown_digest(
        "all", subject="{{ cases|length }} cases: {{ counts.new }} new, {{ counts.changed }} changed "
                       "({{ digest.summary }})"))
    model = drafted(cfg, "all").model
    assert render.subject(cfg.subscriptions("all")[0], model) == (
        "2 cases: 4 new, 0 changed (docketwatch: 4 new filings in 2 cases)")
