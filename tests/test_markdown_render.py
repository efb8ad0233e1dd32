"""The Markdown digest reads the same in CommonMark (markdown-it-py) and in Python-Markdown
(what MkDocs uses): docket text full of Markdown and HTML metacharacters shows exactly as
filed in both, with no stray backslash or entity."""

from __future__ import annotations

from datetime import UTC, date, datetime

import lxml.html
import markdown
import pytest
from markdown_it import MarkdownIt

from docketwatch import bootstrap as config_mod
from docketwatch.domain.changes import EntryView
from docketwatch.pipeline import render
from docketwatch.pipeline.digests import CaseSection, DigestModel
from tests.test_digests import KADREY, make_config

TEXTS = [
    "ORDER re <script>alert(\"x\")</script> & AT&T's [link](http://x) *bold* _under_ `code` # heading",
    "1. not a list: Smith & Wesson v. A|B ~~struck~~ &amp; &copy; 5 > 3 < 4",
    "# STIPULATION + [PROPOSED] ORDER - filed by C:\\Users\\clerk {braces} (parens) !bang",
    "- dash first; __double__ **double** \\*already escaped\\*",
]


def model() -> DigestModel:
    at = datetime(2025, 7, 2, 12, 0, tzinfo=UTC)
    entries = [EntryView(str(600 + i), date(2025, 7, 2), text, "https://example.org/doc?a=1&b=2", "courtlistener")
               for i, text in enumerate(TEXTS)]
    case = CaseSection(name="Smith & Co. v. <Jones> *et al.*", court="cand", court_name="N.D. Cal.",
                       docket_number="3:23-cv-03417", url="https://www.courtlistener.com/docket/1/x/",
                       new=entries[:2], changed=[EntryView("7", None, TEXTS[2], None, "pacer_rss", ["text & <b>"])],
                       case_changes=[TEXTS[3]], gaps=["a gap | with ~ and &"], errors=["error <here>"])
    return DigestModel(title="Daily & <weekly>", period_start=at, period_end=at, timezone="UTC", cases=[case],
                       warnings=["warning * with _ and \\"])


def visible(html: str) -> str:
    """What a reader sees: the text of the rendered page, whitespace normalized."""
    return " ".join(lxml.html.fromstring(f"<div>{html}</div>").text_content().split())


@pytest.fixture
def rendered(tmp_path, cl_token) -> str:
    cfg = config_mod.load(make_config(tmp_path, "http://127.0.0.1:9", KADREY))
    return render.render(cfg, model(), "md")


def test_commonmark_and_python_markdown_show_the_same_text(rendered):
    commonmark = visible(MarkdownIt("commonmark").render(rendered))
    python_markdown = visible(markdown.markdown(rendered))
    assert commonmark == python_markdown


@pytest.mark.parametrize("renderer", ["commonmark", "python-markdown"])
def test_docket_text_shows_exactly_as_filed(rendered, renderer):
    html = MarkdownIt("commonmark").render(rendered) if renderer == "commonmark" else markdown.markdown(rendered)
    seen = visible(html)
    for text in [*TEXTS, "Smith & Co. v. <Jones> *et al.*", "a gap | with ~ and &", "error <here>",
                 "warning * with _ and \\", "text & <b>"]:
        assert text in seen, (renderer, text)
    # No markup from docket text became an element, and no escape is left visible.
    tree = lxml.html.fromstring(f"<div>{html}</div>")
    assert not tree.xpath("//script|//h1[contains(., 'heading')]|//code|//del|//s")
    assert "\\&" not in seen and "\\[" not in seen and "&amp;amp;" not in seen
    assert [a.get("href") for a in tree.xpath("//a")] == [
        "https://www.courtlistener.com/docket/1/x/", "https://example.org/doc?a=1&b=2",
        "https://example.org/doc?a=1&b=2"]
