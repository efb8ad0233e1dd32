"""The email digest as people get it: its headers (a display name in From, List-Id,
Auto-Submitted) through a real SMTP server on 127.0.0.1, and its HTML as a phone shows
it, measured in headless Chromium (Debian's chromium and chromium-driver, driven by
selenium) at 375 px and at desktop width.

Without Chromium the browser tests skip, saying why, unless CI is set: then they fail.
With DOCKETWATCH_SCREENSHOTS=DIR they also save their screenshots there (docs/ holds
the ones the README shows).
"""

from __future__ import annotations

import base64
import os
from email.headerregistry import Address
from pathlib import Path

import pytest

from tests.conftest import KADREY_ID, poll_cases, run_cli, write_config
from tests.servers import PASSWORD, smtp_table
from tests.test_digests import KADREY, SCRIPT_TEXT
from tests.test_outbox import run

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

LONG_TEXT = ("MOTION for Summary Judgment filed by Richard Kadrey, Sarah Silverman, Christopher Golden. "
             "Responses due by 7/30/2025. Replies due by 8/6/2025. (Attachments: # 1 Declaration of Joseph Saveri, "
             "# 2 Exhibit A, # 3 Proposed Order) https://storage.courtlistener.com/recap/gov.uscourts.cand.415175/"
             "gov.uscourts.cand.415175.600.0_averyveryveryverylongfilenamewithoutanybreakopportunity.pdf")


@pytest.fixture(autouse=True)
def secrets(monkeypatch, cl_token):
    monkeypatch.setenv("SMTP_TEST_PASSWORD", PASSWORD)


@pytest.fixture
def mailed(fake_cl, tmp_path, smtp_server):
    """Kadrey with a baseline, then three filings (one long, one full of markup, one
    filled in), mailed to ann through the loopback SMTP server; returns the config path."""

    def setup(smtp_keys: str = "") -> Path:
        fake_cl.load_kadrey()
        fake_cl.add_entry(KADREY_ID, "599", "2025-06-27", "", short="Order")
        digest = '\n[[digests]]\nname = "Litigation team"\nchannel = "email"\nto = ["ann@example.org"]\n'
        path = write_config(tmp_path, fake_cl.base_url, cases=KADREY + digest + smtp_table(smtp_server.port)
                            + smtp_keys)
        poll_cases(path)
        fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", LONG_TEXT)
        fake_cl.add_entry(KADREY_ID, "601", "2025-07-03", SCRIPT_TEXT)
        fake_cl.update_entry(KADREY_ID, "599", description="ORDER Denying Motion to Seal. Signed by Judge Chhabria.")
        poll_cases(path)
        return path

    return setup


def test_from_has_a_display_name_and_the_list_and_auto_submitted_headers_are_set(mailed, smtp_server):
    path = mailed('from_name = "Docket Wätch, N.D. Cal."\n')
    assert run(path).ok
    [(_, message)] = smtp_server.received
    [sender] = message["From"].addresses
    assert sender == Address("Docket Wätch, N.D. Cal.", addr_spec="docketwatch@example.org")
    assert message["List-Id"] == "Litigation team <litigation-team.docketwatch.example.org>"
    assert message["Auto-Submitted"] == "auto-generated"


def test_the_display_name_defaults_to_docketwatch_and_must_be_one_line(mailed, smtp_server, tmp_path):
    path = mailed()
    assert run(path).ok
    [(_, message)] = smtp_server.received
    assert message["From"] == "docketwatch <docketwatch@example.org>"
    path.write_text(path.read_text() + 'from_name = "two\\nlines"\n')
    proc = run_cli(path, "cases")
    assert proc.returncode == 2 and "smtp.from_name" in proc.stderr and "one line" in proc.stderr


# -- the HTML at 375 px -------------------------------------------------------------

def show(driver, html_file: Path, width: int) -> dict:
    """Load the page at `width` CSS pixels of viewport; measure what a reader sees."""
    driver.get(html_file.as_uri())
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
    return driver.execute_script("""
        const texts = [...document.querySelectorAll('.entry-text')].map(e => e.getBoundingClientRect().width);
        return {viewport: window.innerWidth, scroll: document.documentElement.scrollWidth,
                texts: texts, entries: texts.length};
    """)


def screenshot(driver, name: str, tmp_path: Path) -> None:
    """The whole page at the current width, into DOCKETWATCH_SCREENSHOTS (or tmp_path)."""
    width = driver.execute_script("return window.innerWidth")
    height = driver.execute_script("return Math.ceil(document.body.getBoundingClientRect().bottom)")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    target = Path(os.environ.get("DOCKETWATCH_SCREENSHOTS") or tmp_path) / name
    target.write_bytes(base64.b64decode(shot["data"]))
    assert target.stat().st_size > 10_000


@pytest.mark.parametrize("width", [375, 1024])
def test_the_html_digest_fits_a_phone_without_scrolling_sideways(mailed, smtp_server, browser, tmp_path, width):
    path = mailed()
    assert run(path).ok
    [(_, message)] = smtp_server.received
    html = next(p for p in message.iter_parts() if p.get_content_type() == "text/html").get_content()
    page = tmp_path / "digest.html"
    page.write_text(html)
    seen = show(browser, page, width)
    assert seen["viewport"] == width
    assert seen["scroll"] <= width, f"the page scrolls sideways: {seen['scroll']} px wide in a {width} px viewport"
    assert seen["entries"] == 3
    narrowest = min(seen["texts"])
    assert narrowest >= 0.6 * min(width, 680), f"entry text is {narrowest:.0f} px wide at {width} px"
    screenshot(browser, "digest-375.png" if width == 375 else "digest.png", tmp_path)
