"""Malformed configurations through the real command line: each exits 2 with exactly one
line naming the file and the key (or the file, when the file itself is the problem), no
traceback, nothing stored, and never the value of an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Ran, run_cli

SECRET = "cl-secret-7f3a9e2b41"
ENV = {"DW_CFG_TOKEN": SECRET, "DW_CFG_SMTP": "smtp-secret-9b8c7d"}

CASE = '''
[[cases]]
name = "Kadrey v. Meta Platforms, Inc."
court = "cand"
docket_number = "3:23-cv-03417-VC"
courtlistener_id = 67569326
'''
SMTP = '''
[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
username = "docketwatch"
password = "${DW_CFG_SMTP}"
from = "docketwatch@example.org"
'''
EMAIL_DIGEST = '''
[[digests]]
name = "desk"
channel = "email"
to = ["desk@example.org"]
'''
MD_DIGEST = '''
[[digests]]
name = "archive"
channel = "markdown"
dir = "."
'''


def digest(**changes: str) -> str:
    """An email digest with some settings replaced (values are TOML)."""
    settings = {"name": '"desk"', "channel": '"email"', "to": '["desk@example.org"]', **changes}
    return "\n[[digests]]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items() if v is not None)


# (test id, TOML text after [database], what the one line must name)
CONFIGS = [
    # -- the file itself ----------------------------------------------------------
    ("toml-syntax", "[[cases]\nname = 1\n", "not valid TOML"),
    ("toml-duplicate-key", "[http]\ntimeout = 1\ntimeout = 2\n" + CASE, "not valid TOML"),
    ("toml-bad-string", 'timezone = "UTC\n' + CASE, "not valid TOML"),
    # -- unknown keys -------------------------------------------------------------
    ("unknown-top-level", 'colour = "blue"\n' + CASE, "'colour'"),
    ("nested-deep", "x = " + "[" * 5000 + "]" * 5000 + "\n" + CASE, "nested more than the allowed"),
    ("admin-without-smtp", '[admin]\nto = ["ops@example.org"]\n' + CASE, "admin.to is set but there is no [smtp]"),
    ("unknown-nested", '[sources.courtlistener]\ntokn = "abc"\n' + CASE, "'sources.courtlistener.tokn'"),
    ("unknown-source-section", '[sources.pacer]\nurl = "https://x.example"\n' + CASE, "'sources.pacer'"),
    ("unknown-case-key", CASE + 'judge = "Chhabria"\n', "'cases[1].judge'"),
    # -- types ----------------------------------------------------------------------
    ("cases-not-tables", 'cases = "Kadrey"\n', "cases"),
    ("schedule-not-table", 'schedule = "hourly"\n' + CASE, "schedule"),
    ("case-name-number", CASE.replace('"Kadrey v. Meta Platforms, Inc."', "5"), "cases[1].name"),
    ("timeout-word", '[http]\ntimeout = "fast"\n' + CASE, "http.timeout"),
    ("token-number", "[sources.courtlistener]\ntoken = 123\n" + CASE, "sources.courtlistener.token"),
    ("budget-word", '[sources.courtlistener]\ndaily_request_budget = "lots"\n' + CASE,
     "sources.courtlistener.daily_request_budget"),
    ("sources-string", CASE + 'sources = "courtlistener"\n', "cases[1].sources"),
    ("admin-to-string", '[admin]\nto = "ops@example.org"\n' + CASE, "admin.to"),
    # true is not 1: every number of every table (a plug-in's too) refuses it
    ("budget-bool", "[sources.courtlistener]\ndaily_request_budget = true\n" + CASE,
     "sources.courtlistener.daily_request_budget = true: must be a number, not true or false"),
    ("timeout-bool", "[http]\ntimeout = true\n" + CASE, "http.timeout = true: must be a number"),
    ("retries-bool", "[http]\nretries = false\n" + CASE, "http.retries = false: must be a number"),
    ("retention-days-bool", "[retention]\ndays = true\n" + CASE, "retention.days = true: must be a number"),
    ("smtp-port-bool", SMTP.replace("2525", "true") + CASE, "smtp.port = true: must be a number"),
    ("cl-id-bool", CASE.replace("67569326", "true"), "cases[1].courtlistener_id = true: must be a number"),
    # -- numbers out of range ---------------------------------------------------------
    ("timeout-negative", "[http]\ntimeout = -1\n" + CASE, "http.timeout"),
    ("timeout-inf", "[http]\ntimeout = inf\n" + CASE, "http.timeout"),
    ("timeout-nan", "[http]\ntimeout = nan\n" + CASE, "http.timeout"),
    ("timeout-absurd", "[http]\ntimeout = 1e12\n" + CASE, "http.timeout"),
    ("retries-negative", "[http]\nretries = -1\n" + CASE, "http.retries"),
    ("retries-absurd", "[http]\nretries = 1000\n" + CASE, "http.retries"),
    ("backoff-negative", "[http]\nbackoff = -1\n" + CASE, "http.backoff"),
    ("throttle-wait-absurd", "[http]\nmax_throttle_wait = 1e300\n" + CASE, "http.max_throttle_wait"),
    ("per-host-zero", "[http]\nmax_per_host = 0\n" + CASE, "http.max_per_host"),
    ("per-host-absurd", "[http]\nmax_per_host = 1000\n" + CASE, "http.max_per_host"),
    ("per-host-word", "[http]\nmax_per_host = \"four\"\n" + CASE, "http.max_per_host"),
    ("budget-negative", "[sources.courtlistener]\ndaily_request_budget = -5\n" + CASE,
     "sources.courtlistener.daily_request_budget"),
    ("window-zero", "[sources.pacer_rss]\nwindow_hours = 0\n" + CASE, "sources.pacer_rss.window_hours"),
    ("window-absurd", "[sources.pacer_rss]\nwindow_hours = 1e9\n" + CASE, "sources.pacer_rss.window_hours"),
    ("cl-id-zero", CASE.replace("67569326", "0"), "cases[1].courtlistener_id"),
    ("cl-id-negative", CASE.replace("67569326", "-5"), "cases[1].courtlistener_id"),
    ("cl-id-word", CASE.replace("67569326", '"abc"'), "cases[1].courtlistener_id"),
    ("cl-id-absurd", CASE.replace("67569326", "99999999999999"), "cases[1].courtlistener_id"),
    ("active-days-zero", "[schedule]\nactive_days = 0\n" + CASE, "schedule.active_days"),
    ("failures-zero", "[admin]\nfailures_before_alert = 0\n" + CASE, "admin.failures_before_alert"),
    ("max-attempts-zero", "[outbox]\nmax_attempts = 0\n" + CASE, "outbox.max_attempts"),
    ("retry-backoff-negative", "[outbox]\nretry_backoff = -1\n" + CASE, "outbox.retry_backoff"),
    ("retry-backoff-absurd", "[outbox]\nretry_backoff = 1e300\n" + CASE, "outbox.retry_backoff"),
    ("smtp-port", SMTP.replace("2525", "70000") + CASE, "smtp.port"),
    ("smtp-timeout-zero", SMTP + "timeout = 0\n" + CASE, "smtp.timeout"),
    # -- durations and poll intervals -----------------------------------------------------
    ("jitter-negative", "[schedule]\njitter = -30\n" + CASE, "schedule.jitter"),
    ("jitter-bool", "[schedule]\njitter = true\n" + CASE, "schedule.jitter"),
    ("jitter-nan", "[schedule]\njitter = nan\n" + CASE, "schedule.jitter"),
    ("misfire-zero", "[schedule]\nmisfire_grace = 0\n" + CASE, "schedule.misfire_grace"),
    ("misfire-zero-string", '[schedule]\nmisfire_grace = "0s"\n' + CASE, "schedule.misfire_grace"),
    ("interval-overflow", '[schedule]\ninterval = "99999999999d"\n' + CASE, "schedule.interval"),
    ("interval-over-a-year", '[schedule]\ninterval = "400d"\n' + CASE, "schedule.interval"),
    ("interval-10s", '[schedule]\ninterval = "10s"\n' + CASE, "schedule.interval"),
    ("interval-words", '[schedule]\ninterval = "every hour"\n' + CASE, "schedule.interval"),
    ("poll-interval-0s", CASE + 'poll_interval = "0s"\n', "cases[1].poll_interval"),
    ("poll-interval-0.1s", CASE + 'poll_interval = "0.1s"\n', "cases[1].poll_interval"),
    ("poll-interval-30s", CASE + 'poll_interval = "30s"\n', "cases[1].poll_interval"),
    ("poll-interval-overflow", CASE + 'poll_interval = "99999999999d"\n', "cases[1].poll_interval"),
    ("poll-interval-unit", CASE + 'poll_interval = "5 minutes"\n', "cases[1].poll_interval"),
    # -- URLs and templates -----------------------------------------------------------------
    ("base-url-words", '[sources.courtlistener]\nbase_url = "not a url"\n' + CASE, "sources.courtlistener.base_url"),
    ("base-url-ftp", '[sources.courtlistener]\nbase_url = "ftp://courtlistener.com"\n' + CASE,
     "sources.courtlistener.base_url"),
    ("url-template-placeholder", '[sources.pacer_rss]\nurl_template = "https://ecf.{cort}.uscourts.gov/rss"\n' + CASE,
     "sources.pacer_rss.url_template"),
    ("url-template-unbalanced", '[sources.pacer_rss]\nurl_template = "https://ecf.{court.uscourts.gov/rss"\n' + CASE,
     "sources.pacer_rss.url_template"),
    ("url-template-attribute", '[sources.pacer_rss]\nurl_template = "https://ecf.{court.x}.uscourts.gov/"\n' + CASE,
     "sources.pacer_rss.url_template"),
    ("url-template-no-court", '[sources.pacer_rss]\nurl_template = "https://ecf.uscourts.gov/rss"\n' + CASE,
     "sources.pacer_rss.url_template"),
    ("appellate-template-index", '[sources.pacer_rss]\nappellate_url_template = "https://ecf.{0}.uscourts.gov/"\n'
     + CASE, "sources.pacer_rss.appellate_url_template"),
    ("feed-court-unknown", '[sources.pacer_rss]\ncourts = { nowhere = "https://x.example/rss" }\n' + CASE,
     "sources.pacer_rss.courts"),
    ("feed-url-words", '[sources.pacer_rss]\ncourts = { nyed = "not a url" }\n' + CASE,
     "sources.pacer_rss.courts.nyed"),
    # -- cases --------------------------------------------------------------------------------
    ("case-no-name", CASE.replace('name = "Kadrey v. Meta Platforms, Inc."\n', ""), "cases[1].name"),
    ("case-no-court", CASE.replace('court = "cand"\n', ""), "cases[1].court"),
    ("case-no-docket", CASE.replace('docket_number = "3:23-cv-03417-VC"\n', ""), "cases[1].docket_number"),
    ("case-empty-name", CASE.replace('"Kadrey v. Meta Platforms, Inc."', '""'), "cases[1].name"),
    ("court-unknown", CASE.replace('"cand"', '"cand9"'), "cases[1].court"),
    ("docket-number-bad", CASE.replace("3:23-cv-03417-VC", "3:23-xx-03417/7"), "cases[1].docket_number"),
    ("docket-number-other-digits", CASE.replace("3:23-cv-03417-VC", "\u0663:\u0662\u0663-cv-03417"),
     "cases[1].docket_number = '\u0663:\u0662\u0663-cv-03417'"),
    ("sources-unknown", CASE + 'sources = ["pacr"]\n', "cases[1].sources"),
    ("sources-empty", CASE + "sources = []\n", "cases[1].sources"),
    ("sources-repeated", CASE + 'sources = ["courtlistener", "courtlistener"]\n', "cases[1].sources"),
    ("cases-duplicate", CASE + CASE.replace("Kadrey v. Meta", "Kadrey again v. Meta"), "cases[2]"),
    # -- time zone, log level -------------------------------------------------------------------
    ("timezone-unknown", 'timezone = "Mars/Olympus_Mons"\n' + CASE, "timezone"),
    ("timezone-path", 'timezone = "../../etc/passwd"\n' + CASE, "timezone"),
    ("log-level", 'log_level = "LOUD"\n' + CASE, "log_level"),
    # -- addresses, SMTP, digests -----------------------------------------------------------------
    ("admin-to-nobody", '[admin]\nto = ["nobody"]\n' + CASE, "admin.to[1]"),
    ("admin-to-two-in-one", '[admin]\nto = ["a@example.org, b@example.org"]\n' + CASE, "admin.to[1]"),
    ("smtp-literal-password", SMTP.replace('"${DW_CFG_SMTP}"', '"hunter2hunter2"') + CASE, "smtp.password"),
    ("smtp-security", SMTP.replace('"none"', '"tls"') + CASE, "smtp.security"),
    ("smtp-from", SMTP.replace('"docketwatch@example.org"', '"nobody"') + CASE, "smtp.from"),
    ("smtp-no-host", SMTP.replace('host = "127.0.0.1"\n', "") + CASE, "smtp.host"),
    ("smtp-password-without-user", SMTP.replace('username = "docketwatch"\n', "") + CASE, "smtp.password"),
    ("digest-channel", CASE + SMTP + digest(channel='"pigeon"'), "digests[1].channel"),
    ("digest-email-no-to", CASE + SMTP + digest(to=None), "digests[1]"),
    ("digest-markdown-no-dir", CASE + digest(channel='"markdown"', to=None), "digests[1]"),
    ("digest-email-no-smtp", CASE + EMAIL_DIGEST, "digests[1]"),
    ("digest-schedule-word", CASE + SMTP + digest(schedule='"hourly"'), "digests[1].schedule"),
    ("digest-schedule-time", CASE + SMTP + digest(schedule='"daily 25:00"'), "digests[1].schedule"),
    ("digest-events", CASE + SMTP + digest(events='["new", "gossip"]'), "digests[1].events"),
    ("digest-to-bad", CASE + SMTP + digest(to='["desk-at-example.org"]'), "digests[1].to[1]"),
    ("digest-names-repeat", CASE + SMTP + EMAIL_DIGEST + EMAIL_DIGEST, "digests[2].name"),
    ("digest-cases-unknown", CASE + SMTP + digest(cases='["Silverman"]'), "digests[1].cases"),
    ("digest-subject", CASE + SMTP + digest(subject='"{{ cases|length "'), "digests[1].subject"),
    ("digest-unknown-key", CASE + MD_DIGEST + 'format = "pdf"\n', "'digests[1].format'"),
    ("templates-dir-missing", 'templates_dir = "no/such/folder"\n' + CASE, "templates_dir"),
    # -- environment references: the variable is named, its value never shown -----------------------
    ("env-unset", '[sources.courtlistener]\ntoken = "${DW_CFG_UNSET}"\n' + CASE, "sources.courtlistener.token"),
    ("env-secret-as-budget", '[sources.courtlistener]\ntoken = "${DW_CFG_TOKEN}"\n'
     'daily_request_budget = "${DW_CFG_TOKEN}"\n' + CASE, "daily_request_budget = ${DW_CFG_TOKEN}"),
    ("env-secret-as-base-url", '[sources.courtlistener]\nbase_url = "${DW_CFG_TOKEN}"\n' + CASE,
     "sources.courtlistener.base_url = ${DW_CFG_TOKEN}"),
    ("env-secret-in-url-template", '[sources.pacer_rss]\nurl_template = "https://${DW_CFG_TOKEN}/{cort}"\n' + CASE,
     "${DW_CFG_TOKEN}"),
    ("env-secret-as-address", '[admin]\nto = ["${DW_CFG_TOKEN}"]\n' + CASE, "admin.to[1] = ${DW_CFG_TOKEN}"),
    ("env-secret-as-court", CASE.replace('"cand"', '"${DW_CFG_TOKEN}"'), "cases[1].court = ${DW_CFG_TOKEN}"),
    ("env-secret-as-docket", CASE.replace('"3:23-cv-03417-VC"', '"${DW_CFG_TOKEN}"'),
     "cases[1].docket_number = ${DW_CFG_TOKEN}"),
    ("env-secret-as-digest-case", CASE + SMTP + digest(cases='["${DW_CFG_TOKEN}"]'), "digests[1].cases"),
]


def one_line(result: Ran) -> str:
    output = result.stdout + result.stderr
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite+pysqlite:///:memory:?x=1"])
def test_a_database_in_memory_is_refused_since_it_keeps_nothing(tmp_path, url):
    """Each command would start empty: every check a baseline again, and nothing said."""
    path = tmp_path / "dw.toml"
    path.write_text(CASE + f'\n[database]\nurl = "{url}"\n')
    result = run_cli(path, "check")
    assert result.returncode == 2 and one_line(result) == (
        f"docketwatch: database {url}: is a SQLite database in memory, which keeps nothing from one "
        "command to the next; set [database] url to a file, like sqlite:///docketwatch.db")
    assert not list(tmp_path.glob("*.db"))


@pytest.fixture
def env(monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DW_CFG_UNSET", raising=False)


@pytest.mark.parametrize("text, key", [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_a_malformed_configuration_gets_one_line_naming_the_key(tmp_path, env, text, key):
    path = tmp_path / "dw.toml"
    path.write_text(text + f'\n[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n')
    result = run_cli(path, "check")
    line = one_line(result)
    assert result.returncode == 2, result.stderr
    assert line.startswith(f"Error: {path}: ") and key in line
    assert "Traceback" not in result.stdout + result.stderr
    assert all(value not in result.stdout + result.stderr for value in ENV.values())
    assert not (tmp_path / "dw.db").exists()  # nothing opened, nothing stored


def test_the_configuration_ids_are_enough():
    assert len(CONFIGS) >= 50 and len({c[0] for c in CONFIGS}) == len(CONFIGS)


def file_problems(tmp_path: Path) -> dict[str, Path]:
    """Configuration paths that cannot be read as a configuration at all."""
    binary = tmp_path / "latin1.toml"
    binary.write_bytes('[[cases]]\nname = "Société Générale"\n'.encode("latin-1"))
    folder = tmp_path / "a-folder"
    folder.mkdir()
    loop = tmp_path / "loop.toml"
    os.symlink(loop, loop)
    below_a_file = tmp_path / "latin1.toml" / "dw.toml"
    return {"not-utf8": binary, "directory": folder, "symlink-loop": loop, "below-a-file": below_a_file,
            "missing": tmp_path / "missing.toml"}


@pytest.mark.parametrize("problem", ["not-utf8", "directory", "symlink-loop", "below-a-file", "missing"])
def test_a_configuration_file_that_cannot_be_read_gets_one_line_naming_it(tmp_path, env, problem):
    path = file_problems(tmp_path)[problem]
    result = run_cli(path, "check")
    line = one_line(result)
    assert result.returncode == 2, result.stderr
    assert line.startswith(f"Error: {path}: ")
    assert "Traceback" not in result.stdout + result.stderr


def test_a_file_saved_with_a_byte_order_mark_is_named_with_what_to_do(tmp_path, env):
    path = tmp_path / "dw.toml"
    path.write_bytes(b"\xef\xbb\xbf" + CASE.encode())  # Notepad's "UTF-8 with BOM"
    result = run_cli(path, "check")
    assert result.returncode == 2
    assert one_line(result) == (f'Error: {path}: starts with a byte-order mark (saved as "UTF-8 with BOM"); '
                                "save it as UTF-8 without BOM")


def test_unreadable_file_is_named(tmp_path, env):
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    path = tmp_path / "dw.toml"
    path.write_text(CASE)
    path.chmod(0)
    result = run_cli(path, "check")
    assert result.returncode == 2 and one_line(result).startswith(f"Error: {path}: ")


def test_config_from_the_environment_variable_gets_the_same_treatment(tmp_path, env):
    result = run_cli(None, "plan", env={"DOCKETWATCH_CONFIG": str(tmp_path)})
    assert result.returncode == 2 and one_line(result).startswith(f"Error: {tmp_path}: ")


def test_local_test_servers_may_be_polled_fast_but_remote_ones_not(tmp_path, env):
    """The 60 s floor protects public servers; a server on this machine may be polled every second."""
    local = ('[sources.courtlistener]\nbase_url = "http://127.0.0.1:9"\n'
             '[sources.pacer_rss]\nurl_template = "http://localhost:9/{court}/rss"\n'
             '[schedule]\ninterval = "1s"\n' + CASE + 'sources = ["courtlistener", "pacer_rss"]\n')
    path = tmp_path / "dw.toml"
    path.write_text(local + f'\n[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n')
    assert run_cli(path, "plan", "--json").returncode == 0
    path.write_text(path.read_text().replace("http://localhost:9/{court}/rss", "https://ecf.{court}.uscourts.gov/rss"))
    result = run_cli(path, "plan")
    assert result.returncode == 2 and "schedule.interval" in one_line(result)


def test_a_valid_poll_interval_is_used_as_written(tmp_path, env):
    path = tmp_path / "dw.toml"
    path.write_text(CASE + f'poll_interval = "90s"\n[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n')
    result = run_cli(path, "plan", "--json")
    assert result.returncode == 0, result.stderr
    assert '"interval_seconds": 90' in result.stdout


@pytest.mark.parametrize("value", ["crlf-secret-1a2b\r", "lf-secret-3c4d\nSECOND-LINE"])
def test_a_line_break_in_a_secret_variable_is_refused_and_not_shown(tmp_path, monkeypatch, value):
    """A token with a line break (an env file saved with Windows line endings) would reach
    an HTTP header, and error messages quote it escaped, a form redaction cannot find."""
    monkeypatch.setenv("DW_CFG_CRLF", value)
    path = tmp_path / "dw.toml"
    path.write_text('[sources.courtlistener]\ntoken = "${DW_CFG_CRLF}"\n' + CASE
                    + f'\n[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n')
    result = run_cli(path, "check")
    line = one_line(result)
    assert result.returncode == 2 and "sources.courtlistener.token" in line and "DW_CFG_CRLF" in line
    assert all(part not in result.stdout + result.stderr for part in value.split())
    assert not (tmp_path / "dw.db").exists()


@pytest.mark.parametrize("table, database, key, what", [
    ('[sources.courtlistener]\ntoken = "${DW_CFG_SHORT}"\n', None, "sources.courtlistener.token",
     "environment variable DW_CFG_SHORT is 3 characters long"),
    (SMTP.replace("DW_CFG_SMTP", "DW_CFG_SHORT") + EMAIL_DIGEST, None, "smtp.password",
     "environment variable DW_CFG_SHORT is 3 characters long"),
    ("", "postgresql+psycopg://dw:${DW_CFG_SHORT}@127.0.0.1:9/dw", "database.url", "the password in it is 3 characters"),
], ids=["token", "smtp-password", "database-password"])
def test_a_secret_too_short_to_mask_is_refused_and_not_shown(tmp_path, monkeypatch, table, database, key, what):
    """redact.py masks no value shorter than 4 characters (masking "x7!" everywhere would
    garble every message), so such a secret would be shown wherever an error quotes it."""
    monkeypatch.setenv("DW_CFG_SHORT", "x7!")
    path = tmp_path / "dw.toml"
    database = database or f"sqlite:///{tmp_path / 'dw.db'}"
    path.write_text(table + CASE + f'\n[database]\nurl = "{database}"\n')
    result = run_cli(path, "check")
    line = one_line(result)
    assert result.returncode == 2 and f"{key}: {what}" in line and "at least 4" in line, line
    assert "x7!" not in result.stdout + result.stderr
    assert not (tmp_path / "dw.db").exists()


@pytest.mark.parametrize("table, key", [
    ('[sources.courtlistener]\ntoken = "${DW_CFG_ACCENT}"\n', "sources.courtlistener.token"),
    (SMTP.replace("DW_CFG_SMTP", "DW_CFG_ACCENT") + EMAIL_DIGEST, "smtp.password"),
], ids=["token", "smtp-password"])
@pytest.mark.parametrize("value", ["pässwort-2024", "tok–en-7f3a9e2b"], ids=["latin-1", "en-dash"])
def test_a_secret_that_is_not_ascii_is_refused_naming_the_key_and_variable(tmp_path, monkeypatch, table, key, value):
    """An HTTP header takes Latin-1 at most and smtplib's AUTH ASCII: at use, such a secret
    was a codec error naming no key (or, for Latin-1, a token sent mangled)."""
    monkeypatch.setenv("DW_CFG_ACCENT", value)
    path = tmp_path / "dw.toml"
    path.write_text(table + CASE + f'\n[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n')
    result = run_cli(path, "check")
    line = one_line(result)
    assert result.returncode == 2 and f"{key}: environment variable DW_CFG_ACCENT" in line and "ASCII" in line
    assert value not in line and "codec" not in line


@pytest.mark.parametrize("table, key", [
    ('[sources.courtlistener]\ntoken = "cl-literal-0123456789"\n', "sources.courtlistener.token"),
    ('[[digests]]\nname = "hook"\nchannel = "webhook"\nurl = "http://127.0.0.1:9/h"\n'
     'secret = "cl-literal-0123456789"\n', "digests[1].secret"),
])
def test_a_secret_written_into_the_file_is_refused_and_not_shown(tmp_path, table, key):
    path = tmp_path / "dw.toml"
    path.write_text(table + CASE + f'\n[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n')
    result = run_cli(path, "check")
    line = one_line(result)
    assert result.returncode == 2 and f"{key} must name an environment variable" in line
    assert "cl-literal" not in result.stdout + result.stderr


def test_a_webhook_secret_too_short_for_an_hmac_key_is_counted_in_characters(tmp_path, monkeypatch):
    monkeypatch.setenv("DW_CFG_HOOK", "short-7f3a")
    path = tmp_path / "dw.toml"
    path.write_text('[[digests]]\nname = "hook"\nchannel = "webhook"\nurl = "http://127.0.0.1:9/h"\n'
                    'secret = "${DW_CFG_HOOK}"\n' + CASE + f'\n[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n')
    result = run_cli(path, "check")
    assert result.returncode == 2
    assert one_line(result) == (f"Error: {path}: digests[1].secret = ${{DW_CFG_HOOK}}: is 10 characters long; "
                                "an HMAC key must have at least 16")
