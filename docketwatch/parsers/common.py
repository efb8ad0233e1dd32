"""Helpers every PACER parser needs: the error type, safe loading, text and date cleanup.

Kept in one place so that all file kinds clean docket text the same way, which is also
the way CourtListener stores it; otherwise the same entry read from two sources would
look changed to the diff engine.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from datetime import date

import lxml.html
from lxml import etree

HtmlElement = lxml.html.HtmlElement


class ParseError(ValueError):
    """The content is not a PACER file docketwatch can read, or it is damaged."""


_SPACE_BEFORE_COMMA = re.compile(r" ,")
_MDY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
# Lower case only: PACER writes its hosts that way, and a case-blind scan of a large
# page costs more than the rest of the parse.
_ECF_HOST = re.compile(rb"ecf\.([a-z0-9]{2,8})\.uscourts\.gov")
_CAVC_HOST = b"efiling.uscourts.cavc.gov"  # Veterans Claims, the one court outside ecf.<court>
_DOC_ID = re.compile(r"/docs?\d/(\d+)")
# A complete HTML page ends with </body> or </html>; a cut download does not.
_HTML_END = re.compile(rb"</(body|html)\s*>", re.IGNORECASE)
_HTML_TAIL_BYTES = 4096
# PACER ends a docket page with its receipt, a table headed "PACER Service Center", below
# the entries. A page whose download or save stopped in its entries has none, though a
# browser that saved it closed every element (</body></html> included).
_RECEIPT = "//th[contains(normalize-space(), 'PACER Service Center')]"
_JUDGE_TITLE = re.compile(
    r"^(?:(?:Hon\.?|Honorable|Chief|Senior|District|Magistrate|Bankruptcy|U\.\s?S\.|Judge)\s+)+",
    re.IGNORECASE,
)
# Document links name the case: goDLS('/doc1/...','509180',...) in trial courts,
# doDocPostURL('...','289646') or ?caseId=46307 in appellate courts.
# Older bankruptcy pages encode it in the link id: "documentKcaseidV17148Kde_seq_numV...".
_SCRIPT_CASE_ID = re.compile(r"(?:goDLS|doDocPostURL)\('[^']*',\s*'(\d+)'")
_CASE_ID_PARAM = re.compile(r"[?&]caseid=(\d+)", re.IGNORECASE)
_CASE_ID_IN_LINK_ID = re.compile(r"caseidV(\d+)K")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# The clerk's stamp in a docket text: "(Entered: 06/16/1995)" in trial courts,
# "[Entered: 02/24/2016 04:07 PM]" in appellate ones (ACMS may add "[Edited: ...]" after it).
_ENTERED = re.compile(r"[(\[]Entered:\s*(\d{1,2}/\d{1,2}/\d{4})[^)\]]*[)\]]")


def clean_text(text: str) -> str:
    """Collapse whitespace (including no-break spaces) and drop spaces before commas.

    This mirrors the cleanup CourtListener applies, so docket text from a saved PACER
    page compares equal to the same entry fetched from CourtListener.
    """
    text = " ".join(text.split())
    return _SPACE_BEFORE_COMMA.sub(",", text) if " ," in text else text


def parse_mdy(text: str | None) -> date | None:
    """Parse the first MM/DD/YYYY date in `text`, the format every PACER page uses."""
    if not text:
        return None
    m = _MDY.search(text)
    if not m:
        return None
    try:
        return date(int(m[3]), int(m[1]), int(m[2]))
    except ValueError:
        return None


def entered_date(text: str) -> date | None:
    """The day of the last "Entered:" stamp in a docket text, as juriscraper reads it; the
    last, because a text may quote an earlier entry's stamp before its own."""
    stamps = _ENTERED.findall(text)
    return parse_mdy(stamps[-1]) if stamps else None


def court_from_content(content: bytes) -> str | None:
    """The court id of the most frequent `ecf.<court>.uscourts.gov` host in the file.

    The most frequent rather than the first, because docket text sometimes links to
    another court's ECF site.
    """
    hosts: Counter[bytes] = Counter(_ECF_HOST.findall(content))
    hosts[b"cavc"] = content.count(_CAVC_HOST)
    if not hosts.total():
        return None
    return hosts.most_common(1)[0][0].decode("ascii")


def doc_id_from_url(url: str | None) -> str | None:
    """The PACER document id in a /doc1/ (trial courts) or /docs1/ (appellate; the
    Ninth Circuit BAP's /docs4/) link."""
    if not url:
        return None
    m = _DOC_ID.search(url)
    return m[1] if m else None


def absolute_url(href: str | None, court: str | None) -> str | None:
    """Make a site-relative PACER link absolute, when the court (hence host) is known."""
    if not href or href.startswith(("http://", "https://")):
        return href
    if court and href.startswith("/"):
        return f"https://ecf.{court}.uscourts.gov{href}"
    return href


# Never expands entities nor fetches anything (XXE, billion laughs); made once, reused.
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                              remove_comments=True, remove_pis=True)


def load_xml(content: bytes, what: str) -> etree._Element:
    """Parse a feed (`what` names it in errors) with the hardened parser, refusing one cut
    off or one that declares a DTD: its entities are never expanded, so text relying on them
    would be lost silently, and no court or CourtListener feed declares one."""
    try:
        root = etree.fromstring(content, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{what} is not valid XML (a truncated download?): {exc}") from None
    if root.getroottree().docinfo.internalDTD is not None:
        raise ParseError(f"{what} declares a DTD (entities); real feeds never do, so it is refused")
    return root


def _as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Decode the bytes UTF-8 could not read as Windows-1252, and go on reading UTF-8."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("cp1252", errors="replace"), error.end


codecs.register_error("docketwatch-cp1252", _as_cp1252)


def from_utf16(content: bytes) -> bytes:
    """`content` in UTF-8 when it is UTF-16 with a byte-order mark (a "Unicode" save), so
    every reader finds its markup; its XML declaration, which names UTF-16, is dropped.
    UTF-16 without the mark is refused: its byte order would be a guess. Anything else is
    returned as it is: load_html decodes HTML, and XML names its own encoding."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = content.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ParseError(f"the file is not valid UTF-16 ({exc.reason}); download or save it again") from None
        return _XML_DECLARATION.sub("", text, count=1).encode("utf-8")
    head = content[:512]
    for order, high_bytes in (("LE", head[1::2]), ("BE", head[0::2])):
        if len(high_bytes) >= 8 and high_bytes.count(0) * 4 >= len(high_bytes) * 3:  # ASCII markup, 2 bytes each
            raise ParseError(f"the file is UTF-16 text without a byte-order mark; convert it to UTF-8 "
                             f"(iconv -f UTF-16{order} -t UTF-8 FILE > FILE.utf8.html) or save the page again")
    return content


def load_html(content: bytes) -> lxml.html.HtmlElement:
    """Parse a saved PACER HTML page, refusing pages that were cut off.

    Pages are decoded as UTF-8 wherever their bytes are valid UTF-8, whatever their meta
    tag says: browsers re-encode pages they save but keep the original (often ISO-8859-1)
    meta tag, and text pasted from a UTF-8 page into a legacy one is UTF-8. Other bytes
    are Windows-1252, PACER's actual legacy encoding. (UTF-16: see from_utf16.)
    """
    if not _HTML_END.search(content[-_HTML_TAIL_BYTES:]):
        raise ParseError("the page was cut short (no closing </body> or </html>); download or save it again")
    text = content.decode("utf-8", errors="docketwatch-cp1252")
    # lxml refuses str input that still declares a byte encoding.
    text = _XML_DECLARATION.sub("", text, count=1)
    try:
        tree = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError(f"the HTML page cannot be parsed: {exc}") from exc
    # Scripts sit inside table cells (bankruptcy DocLink() calls) and would end up in
    # cell text; styles only add bulk (ad blockers inject hundreds of KB of them).
    etree.strip_elements(tree, "script", "style", with_tail=False)
    return tree


def refuse_cut_short(tree: HtmlElement, entry_rows: list[HtmlElement], *, ended: bool = False) -> None:
    """Raise ParseError when the page lists entries but lacks the receipt that ends a whole
    one, unless `ended` (the kind's own end, where it prints no receipt). A page that lists
    none may lack it: N.D. Cal.'s header-only report does."""
    if entry_rows and not ended and not tree.xpath(_RECEIPT):
        raise ParseError("the page was cut short (no PACER Service Center receipt after its entries), so entries "
                         "may be missing; download or save it again")


def text_of(element: HtmlElement) -> str:
    """All text inside an element (its tail excluded); a faster text_content()."""
    return etree.tostring(element, method="text", encoding=str, with_tail=False)


def row_cells(row: HtmlElement) -> list[HtmlElement]:
    """The row's own td/th cells (comments and nested tables excluded)."""
    return [c for c in row if c.tag in ("td", "th")]


def table_rows(table_or_body: HtmlElement) -> list[HtmlElement]:
    """The table's own rows, whether or not the page has explicit <tbody>s."""
    rows: list[HtmlElement] = table_or_body.xpath("tr|tbody/tr")
    return rows


def judge_name(text: str | None) -> str | None:
    """`Hon. William Alsup` -> `William Alsup`, as CourtListener stores judges."""
    if not text:
        return None
    return _JUDGE_TITLE.sub("", clean_text(text)) or None


def case_id_from_links(tree: HtmlElement, anchors: list[HtmlElement]) -> str | None:
    """PACER's internal case id, read from the entries' document links.

    Only entry links are used: links in a docket header point to *related* cases.
    """
    for a in anchors:
        if m := (
            _SCRIPT_CASE_ID.search(a.get("onclick") or "")
            or _CASE_ID_PARAM.search(a.get("href") or "")
            or _CASE_ID_IN_LINK_ID.search(a.get("id") or "")
        ):
            return m[1]
    values = tree.xpath("//input[@name='caseid']/@value")
    return values[0] if values else None
