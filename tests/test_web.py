"""`docketwatch serve`: the status page, /healthz and the token, on data made the real way
(a fake CourtListener over loopback and a real `check`). Pages through Flask's test
client; the token and the command over real HTTP (waitress on 127.0.0.1)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from html import unescape
from pathlib import Path

import pytest
import requests

from docketwatch import bootstrap as config_mod
from docketwatch import store
from docketwatch.ops import web
from tests.conftest import KADREY_ID, as_from_a_terminal, poll_cases, run_cli, write_config
from tests.servers import PASSWORD, free_port, smtp_table
from tests.test_digests import KADREY, SCRIPT_TEXT, markdown_digest

CASE_URL = "/cases/cand-3-23-cv-03417"
TOKEN = "a-long-random-token-4b1d"
# An email subscription whose SMTP server is not there: its digest fails and stays pending.
UNREACHABLE = '''
[[digests]]
name = "lawyers"
channel = "email"
to = ["ann@example.org"]

[outbox]
max_attempts = 1
'''


@pytest.fixture(autouse=True)
def secrets(monkeypatch, cl_token):
    monkeypatch.setenv("SMTP_TEST_PASSWORD", PASSWORD)


@pytest.fixture
def site(fake_cl, tmp_path, database_url) -> Path:
    """Kadrey: a baseline, then #600 and #601 new and #599 filled in; a Markdown
    subscription (delivered) and an email one whose server is down (failed)."""
    fake_cl.load_kadrey()
    fake_cl.add_entry(KADREY_ID, "599", "2025-06-27", "", short="Order")
    path = write_config(tmp_path, fake_cl.base_url, database_url=database_url,
                        cases=KADREY + markdown_digest("archive") + UNREACHABLE + smtp_table(free_port()))
    poll_cases(path)
    fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", SCRIPT_TEXT)
    fake_cl.add_entry(KADREY_ID, "601", "2025-07-03", "NOTICE of Appearance by A. Lawyer")
    fake_cl.update_entry(KADREY_ID, "599", description="ORDER Denying Motion to Seal. Signed by Judge Chhabria.")
    poll_cases(path)
    assert run_cli(path, "digest").returncode == 3  # the email delivery failed; the Markdown one was written
    return path


def client(path: Path):
    cfg = config_mod.load(path)
    return web.app(cfg, store.open_engine(cfg.database.url)).test_client()


def text_of(html: str) -> str:
    """The page's text, tags dropped and white space folded, as a reader sees it."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html[html.index("<body>"):])).split())


def stored_entries(path: Path) -> int:
    ran = run_cli(path, "status", "--json")
    return json.loads(ran.stdout)["cases"][0]["entries"]


def test_overview_shows_cases_health_and_failed_digests(site):
    page = client(site).get("/")
    assert page.status_code == 200 and page.content_type == "text/html; charset=utf-8"
    text = text_of(page.get_data(as_text=True))
    assert "Kadrey v. Meta Platforms, Inc. cand 3:23-cv-03417" in text
    assert f"Entries {stored_entries(site)}" in text
    assert "Pending events 3" in text  # the three events the email subscription is still owed
    assert "Unhealthy" in text and "no docketwatch run has a fresh heartbeat on this database" in text
    assert "Not delivered after repeated attempts" in text and "'lawyers' to ann@example.org" in text
    assert "Connection refused" in text
    assert f'href="{CASE_URL}"' in page.get_data(as_text=True)


def test_healthz_gives_the_verdict_of_status_health(site):
    ran = run_cli(site, "status", "--health")
    reasons = [line.removeprefix("unhealthy: ") for line in ran.stderr.splitlines()]
    answer = client(site).get("/healthz")
    assert ran.returncode == 1 and answer.status_code == 503
    assert answer.json == {"healthy": False, "unhealthy": reasons}
    assert len(reasons) == 2  # no `run`, and the failed delivery


def test_case_page_filters_and_pages_entries(site, monkeypatch):
    c = client(site)
    total = stored_entries(site)
    text = text_of(c.get(CASE_URL).get_data(as_text=True))
    assert f"{total} entries" in text
    assert "courtlistener:cand:3:23-cv-03417" in text and "Next poll" in text and "Polled every" in text
    # the timeline: the three events of the second check, newest first, escaped
    timeline = text[text.index("Timeline"):]
    assert re.search(r"changed .* #599 .*\[text filled in\].* new .* #601 .* new .* #600", timeline)
    assert "&lt;script&gt;" in c.get(CASE_URL).get_data(as_text=True)

    filtered = text_of(c.get(CASE_URL, query_string={"q": "APPEARANCE"}).get_data(as_text=True))
    assert "1 entry containing “APPEARANCE”" in filtered
    entries = filtered[filtered.index("Entries"):filtered.index("Timeline")]
    assert "#601" in entries and "#600" not in entries
    assert "0 entries containing “100%_”" in text_of(c.get(CASE_URL, query_string={"q": "100%_"}).get_data(as_text=True))

    monkeypatch.setattr(web, "ENTRIES_PAGE", 5)
    numbers = []
    pages = (total + 4) // 5
    for n in range(1, pages + 1):
        html = c.get(CASE_URL, query_string={"page": n}).get_data(as_text=True)
        assert f"page {n} of {pages}" in html
        section = html[html.index('id="entries"'):html.index('id="timeline"')]
        numbers += [text_of("<body>" + li) for li in re.findall(r'<li class="entry">(.*?)</li>', section, re.S)]
    assert len(numbers) == total and len(set(numbers)) == total  # every entry once
    assert numbers[0].startswith("minute 2025-08-01 DISCOVERY ORDER")  # newest first
    assert numbers[1].startswith("#601 2025-07-03") and numbers[2].startswith("#600 2025-07-02")
    assert c.get("/cases/nope").status_code == 404


@pytest.mark.parametrize("args", [{"page": "9" * 25}, {"page": str(2**63 - 1)}, {"before": "9" * 25},
                                  {"before": "-" + "9" * 25}, {"q": "a" * 100_000}])
def test_case_page_takes_any_number_or_filter_a_visitor_types(site, args):
    """A page or event id no integer column holds, and a filter longer than SQLite takes
    in a LIKE, are a page with nothing on it (or the filter cut), not a 500 or a 503."""
    response = client(site).get(CASE_URL, query_string=args)
    assert response.status_code == 200
    if "q" in args:
        assert "0 entries containing" in text_of(response.get_data(as_text=True))


def test_case_page_pages_the_timeline_by_event_and_a_new_event_shifts_nothing(site, fake_cl, monkeypatch):
    monkeypatch.setattr(web, "TIMELINE", 2)
    c = client(site)

    def timeline(html: str) -> str:
        return text_of("<body>" + html[html.index('id="timeline"'):])

    first = c.get(CASE_URL).get_data(as_text=True)
    assert re.search(r"changed .* #599 .* new .* #601", timeline(first)) and "#600" not in timeline(first)
    older = unescape(re.search(r'href="([^"]*before=\d+#timeline)">Older events', first).group(1))

    fake_cl.add_entry(KADREY_ID, "602", "2025-07-04", "ORDER setting a hearing")  # a new event meanwhile
    poll_cases(site)
    second = c.get(CASE_URL + older).get_data(as_text=True)
    assert "#600" in timeline(second) and "#601" not in timeline(second) and "#602" not in timeline(second)
    assert "Older events" not in second and "Latest events" in second
    assert "#602" in timeline(c.get(CASE_URL).get_data(as_text=True))


def test_feeds_page_links_every_feed(site):
    c = client(site)
    html = c.get("/feeds/").get_data(as_text=True)
    links = re.findall(r'href="(/feeds/[^"]+)"', html)
    assert links == ["/feeds/cases/cand-3-23-cv-03417.atom", "/feeds/cases/cand-3-23-cv-03417.json",
                     "/feeds/subscriptions/archive.atom", "/feeds/subscriptions/archive.json",
                     "/feeds/subscriptions/lawyers.atom", "/feeds/subscriptions/lawyers.json"]
    assert all(c.get(link).status_code == 200 for link in links)


@pytest.fixture
def served(site):
    """The page on a real server on 127.0.0.1 with a token; yields its URL."""
    cfg = config_mod.load(site)
    server = web.server(cfg, "127.0.0.1", 0, {web.TOKEN_ENV: TOKEN})
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.url
    server.close()
    thread.join(timeout=10)
    assert not thread.is_alive()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_with_a_token_every_request_must_carry_it(served):
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    for path in ("", "healthz", "feeds/cases/cand-3-23-cv-03417.atom", CASE_URL[1:]):
        refused = requests.get(served + path, timeout=10)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
        assert TOKEN not in refused.text
        assert requests.get(served + path, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
        allowed = (200, 503) if path == "healthz" else (200,)  # only the health check may say unhealthy
        assert requests.get(served + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).status_code \
            in allowed
        assert requests.get(served + path, headers={"Authorization": f"Basic {basic}"}, timeout=10).status_code \
            in allowed


def test_other_addresses_need_a_token(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    ran = run_cli(config, "serve", "--host", "0.0.0.0", env={web.TOKEN_ENV: ""})
    assert ran.returncode == 2
    assert ran.stderr.count("\n") == 1 and "DOCKETWATCH_WEB_TOKEN" in ran.stderr and "0.0.0.0" in ran.stderr


def test_other_addresses_refuse_a_short_token_and_say_how_to_make_one(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    ran = run_cli(config, "serve", "--host", "0.0.0.0", env={web.TOKEN_ENV: "fifteen-chars-x"})
    assert ran.returncode == 2 and ran.stderr.count("\n") == 1, ran.stderr
    assert "DOCKETWATCH_WEB_TOKEN is 15 characters long" in ran.stderr and "at least 16" in ran.stderr
    assert "secrets.token_urlsafe(24)" in ran.stderr and "fifteen-chars-x" not in ran.stderr


def test_a_port_in_use_is_one_line(tmp_path):
    import socket

    config = write_config(tmp_path, "http://127.0.0.1:9")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = run_cli(config, "serve", "--port", str(port))
    assert ran.returncode == 2
    assert ran.stderr.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in ran.stderr


def test_a_host_with_no_address_is_one_line(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    ran = run_cli(config, "serve", "--host", "", env={"DOCKETWATCH_WEB_TOKEN": "t" * 32})
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    assert ran.stderr.count("\n") == 1 and "cannot listen on :8080: Invalid host/port specified" in ran.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_serve_as_a_process_answers_and_stops_on_a_signal(tmp_path, stop):
    """The command itself: it binds, says where, serves, and ends cleanly on Ctrl-C, SIGTERM
    or SIGHUP (its terminal closed)."""
    config = write_config(tmp_path, "http://127.0.0.1:9")
    environment = {**os.environ, "CL_TEST_TOKEN": "test-token"}
    environment.pop(web.TOKEN_ENV, None)
    proc = subprocess.Popen([sys.executable, "-m", "docketwatch", "--config", str(config), "serve", "--port", "0"],
                            stderr=subprocess.PIPE, text=True, env=environment, preexec_fn=as_from_a_terminal)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "serving" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        url = re.search(r"serving (http://\S+)", line).group(1)
        assert url.startswith("http://127.0.0.1:")
        answer = requests.get(url + "healthz", timeout=10)
        assert answer.status_code == 503 and answer.json()["healthy"] is False
        proc.send_signal(stop)
        try:
            code: int | None = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = None
            proc.kill()
        assert code == 0, f"exit status {code}; it said: {proc.stderr.read()}"
    finally:
        proc.kill()
        proc.wait()


# -- in a real browser: headless Chromium from Debian (chromium, chromium-driver) -----------

DESKTOP, PHONE = 1280, 375


def show(driver, url: str, width: int) -> None:
    """Load `url` in a viewport `width` CSS pixels wide (a phone's when narrow), and wait for it."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def screenshot(driver, width: int, path: Path) -> None:
    """The whole page, `width` wide, into `path` (and into $DOCKETWATCH_SCREENSHOTS, for docs/)."""
    height = driver.execute_script("return document.scrollingElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    assert driver.save_screenshot(str(path))
    if folder := os.environ.get("DOCKETWATCH_SCREENSHOTS"):
        shutil.copy(path, Path(folder) / path.name)


@pytest.fixture
def open_page(site):
    """The page on a real server on 127.0.0.1, no token; yields its URL."""
    server = web.server(config_mod.load(site), "127.0.0.1", 0, {})
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.url
    server.close()
    thread.join(timeout=10)


def scroll_width(driver) -> int:
    return driver.execute_script("return document.scrollingElement.scrollWidth")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_in_chromium_pages_fit_a_phone_and_the_filter_works(browser, open_page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    show(browser, open_page, DESKTOP)
    assert "Kadrey v. Meta Platforms, Inc." in browser.find_element(By.ID, "cases").text
    assert "Unhealthy" in browser.find_element(By.ID, "health").text
    screenshot(browser, DESKTOP, tmp_path / "web-overview.png")
    show(browser, open_page, PHONE)
    assert scroll_width(browser) <= PHONE
    screenshot(browser, PHONE, tmp_path / "web-overview-375.png")

    browser.find_element(By.CSS_SELECTOR, "#cases a").click()
    WebDriverWait(browser, 30).until(lambda d: d.current_url.endswith(CASE_URL))
    show(browser, browser.current_url, PHONE)
    assert scroll_width(browser) <= PHONE
    text = browser.find_elements(By.CSS_SELECTOR, "#entries .text")[0]
    assert text.size["width"] >= 0.6 * PHONE  # the docket text gets the width, not the labels
    box = browser.find_element(By.NAME, "q")
    box.send_keys("appearance")
    box.submit()
    WebDriverWait(browser, 30).until(lambda d: "q=appearance" in d.current_url)
    texts = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#entries .text")]
    assert texts == ["NOTICE of Appearance by A. Lawyer"]
    assert scroll_width(browser) <= PHONE
    show(browser, open_page.rstrip("/") + CASE_URL, PHONE)
    assert scroll_width(browser) <= PHONE
    screenshot(browser, PHONE, tmp_path / "web-case-375.png")
    show(browser, open_page.rstrip("/") + CASE_URL, DESKTOP)
    screenshot(browser, DESKTOP, tmp_path / "web-case.png")
