"""Secrets never leak: a CourtListener token, an SMTP password and (on PostgreSQL) a
database password, all set through ${NAME}, go through a realistic session of the command
line (in process, each command starting as a new process does: no secret registered yet,
its DEBUG log on its stderr). Then every output and log line, every stored row of every table, every
digest written or mailed is searched for each secret, as written, percent-encoded and
base64-encoded (`redact.forms`). Expected: no hit at all.

The session: a baseline check against the fake CourtListener, an API error whose text
quotes the request (with its Authorization header), a new filing, a configuration
error that puts the token where a number belongs, a digest refused by an SMTP server
that echoes the AUTH exchange, the same digest delivered, `run --once`, and the
status, plan, cases, preview and dry-run commands.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine, create_engine, inspect, text
from werkzeug import Response

from docketwatch import redact
from tests.conftest import KADREY_CASE, KADREY_ID, Ran, run_cli
from tests.servers import SmtpServer, free_port

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

TOKEN = "cl-tok-5f0e9a7c3b21d8e4"
SMTP_USER, SMTP_PASSWORD = "docketwatch", "smtp-pw-Q7x!9zK2m"
DB_PASSWORD = "db-pw-W3n@8r:t/Y5"  # @ : / need percent-encoding in the URL
SECRETS = {"courtlistener token": TOKEN, "smtp password": SMTP_PASSWORD, "database password": DB_PASSWORD}


@dataclass
class EchoingSmtpServer(SmtpServer):
    """The test SMTP server with its own password; when `echo` is on it refuses the login
    with a reply that repeats the AUTH PLAIN exchange, as some servers do."""

    echo: bool = False

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if self.echo:
            exchange = base64.b64encode(b"\0" + auth_data.login + b"\0" + auth_data.password).decode()
            return AuthResult(success=False, handled=False,
                              message=f"535 5.7.8 Authentication failed for AUTH PLAIN {exchange}")
        ok = (auth_data.login, auth_data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[EchoingSmtpServer]:
    server = EchoingSmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(URL as written in the configuration, URL to inspect the database with).

    On PostgreSQL: a role with a password and a database it owns; the configuration
    reads the password from ${DW_DB_PASSWORD}, percent-encoded there by the user.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'dw.db'}"
        yield url, url
        return
    server: Engine = request.getfixturevalue("postgres_server")
    name = f"docketwatch_secret_{uuid.uuid4().hex[:10]}"
    user = name.replace("docketwatch_", "dw_")  # a role of its own: tests may run side by side (xdist)
    with server.connect() as c:
        c.execute(text(f"CREATE ROLE {user} LOGIN PASSWORD '{DB_PASSWORD}'"))
        c.exec_driver_sql(f'CREATE DATABASE "{name}" OWNER {user}')
    host = f"{server.url.host}:{server.url.port or 5432}"
    yield (f"postgresql+psycopg://{user}:${{DW_DB_PASSWORD}}@{host}/{name}",
           server.url.set(database=name).render_as_string(hide_password=False))
    with server.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        c.exec_driver_sql(f"DROP ROLE {user}")


@dataclass
class Session:
    """Runs the command line (each command as a new process would) and keeps everything
    it printed or logged."""

    config: Path
    env: dict[str, str]
    outputs: list[tuple[str, str]] = field(default_factory=list)

    def run(self, *args: str, config: Path | None = None) -> Ran:
        proc = run_cli(config or self.config, "--log-level", "DEBUG", *args, env=self.env)
        name = " ".join(args)
        self.outputs += [(f"`{name}` stdout", proc.stdout), (f"`{name}` stderr", proc.stderr)]
        return proc


def stored_rows(url: str) -> list[tuple[str, str]]:
    """Every row of every table, as text, one item per table."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return [(f"table {table}", "\n".join(map(repr, c.execute(text(f'SELECT * FROM "{table}"')))))
                    for table in inspect(engine).get_table_names()]
    finally:
        engine.dispose()


def hits(sources: list[tuple[str, str]]) -> list[str]:
    """Where any form of any secret appears."""
    found = []
    for secret_name, secret in SECRETS.items():
        for form in redact.forms(secret):
            for source, content in sources:
                if (at := content.find(form)) >= 0:
                    found.append(f"{secret_name} as {form!r} in {source}: ...{content[max(0, at - 80):at + 40]!r}")
    return found


def test_no_secret_in_any_output_log_row_or_digest(tmp_path, fake_cl, smtp, database):
    config_url, inspect_url = database
    fake_cl.token = TOKEN
    fake_cl.load_kadrey()
    archive = tmp_path / "archive"
    config = tmp_path / "docketwatch.toml"
    config.write_text(f'''
[database]
url = "{config_url}"

[http]
retries = 1
backoff = 0.01

[sources.courtlistener]
base_url = "{fake_cl.base_url}"
token = "${{DW_CL_TOKEN}}"

[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
username = "{SMTP_USER}"
password = "${{DW_SMTP_PASSWORD}}"
from = "docketwatch@example.org"

[outbox]
retry_backoff = 0

{KADREY_CASE}
[[digests]]
name = "desk"
channel = "email"
to = ["desk@example.org"]
events = ["new", "changed", "case", "gap", "error"]

[[digests]]
name = "archive"
channel = "markdown"
dir = "{archive}"
events = ["new", "changed", "case", "gap", "error"]
''')
    env = {"DW_CL_TOKEN": TOKEN, "DW_SMTP_PASSWORD": SMTP_PASSWORD,
           "DW_DB_PASSWORD": DB_PASSWORD.replace("@", "%40").replace(":", "%3A").replace("/", "%2F")}
    session = Session(config, env)

    assert session.run("check").returncode == 0  # the baseline, through the API

    # An API error whose text quotes the request, Authorization header included.
    fake_cl.add_entry(KADREY_ID, "602", "2025-07-09", "STIPULATION AND ORDER extending time to answer")
    fake_cl.queued.append(Response(json.dumps({"detail": (
        f"Malformed request: GET /api/rest/v4/dockets/{KADREY_ID}/ with headers "
        f"{{'Authorization': 'Token {TOKEN}', 'Accept': 'application/json'}}")}), status=400,
        content_type="application/json"))
    assert session.run("check").returncode == 3
    assert session.run("check").returncode == 0  # the new filing arrives

    # A configuration error that puts the token where a number belongs.
    broken = tmp_path / "broken.toml"
    broken.write_text(config.read_text().replace('token = "${DW_CL_TOKEN}"',
                                                 'token = "${DW_CL_TOKEN}"\ndaily_request_budget = "${DW_CL_TOKEN}"'))
    assert session.run("check", config=broken).returncode == 2

    smtp.echo = True  # refuses the login, repeating the AUTH exchange
    assert session.run("digest").returncode == 3
    session.run("status", "--json")
    rows_after_failure = [(f"{name} (after the refused login)", rows) for name, rows in stored_rows(inspect_url)]
    smtp.echo = False
    assert session.run("digest").returncode == 0
    assert smtp.received, "the digest was delivered in the end"

    fake_cl.add_entry(KADREY_ID, "603", "2025-07-10", "ORDER granting stipulation")
    session.run("run", "--once")
    for args in (["status"], ["status", "--json"], ["status", "--health"], ["plan"], ["cases"],
                 ["digest", "--dry-run"], ["preview", "--format", "md", "--out", str(tmp_path / "preview.md")]):
        session.run(*args)

    written = [(f"file {p.relative_to(tmp_path)}", p.read_text(errors="replace"))
               for p in sorted(tmp_path.rglob("*")) if p.is_file() and p.suffix in (".md", ".html", ".txt")]
    assert any("archive" in name for name, _ in written), "the Markdown digest was written"
    mailed = [(f"mail to {rcpt}", m.as_string()) for rcpt, m in smtp.received]
    everything = session.outputs + rows_after_failure + stored_rows(inspect_url) + written + mailed
    assert "STIPULATION AND ORDER" in "".join(c for _, c in everything)  # the search does see the session

    found = hits(everything)
    assert not found, f"{len(found)} secret leaks:\n" + "\n".join(found)


def test_a_password_in_a_url_written_with_a_variable_is_kept_out_of_output_and_rows(tmp_path):
    """Not only keys named like a secret: the password of any URL built with ${NAME} (a
    CourtListener base_url behind a proxy) and a secret-named query parameter
    (PostgreSQL's ?password=) are never shown, stored or logged."""
    proxy, query = "proxy-pw-8c1d2e", "pg-query-pw-5e7f"
    config = tmp_path / "dw.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n[http]\nretries = 0\n'
                      '[sources.courtlistener]\nbase_url = "http://user:${PROXY_PW}@127.0.0.1:9"\n'
                      + KADREY_CASE + 'sources = ["courtlistener"]\n')
    env = {"PROXY_PW": proxy}
    ran = [run_cli(config, "check", env=env), run_cli(config, "status", "--json", env=env),
           run_cli(config, "--log-level", "debug", "check", env=env)]
    assert ran[0].returncode == 3 and "http://user:***@127.0.0.1:9/docket/" in ran[0].stdout
    engine = create_engine(f"sqlite:///{tmp_path / 'dw.db'}")
    with engine.connect() as db:
        rows = [str(row) for table in ("checkrun", "event") for row in db.execute(text(f"SELECT * FROM {table}"))]
    engine.dispose()
    pg = tmp_path / "pg.toml"
    pg.write_text('[database]\nurl = "postgresql+psycopg://dw@127.0.0.1:1/dw?password=${PG_QUERY_PW}"\n')
    ran.append(refused := run_cli(pg, "status", env={"PG_QUERY_PW": query}))
    assert refused.returncode == 3 and "password=***" in refused.stderr
    for secret in (proxy, query):
        for form in redact.forms(secret):
            assert not any(form in r.stdout + r.stderr for r in ran) and not any(form in row for row in rows)
