"""Linked dockets in docket text (domain/links.py), measured on real texts: every entry
of every PACER fixture and the AI-copyright entries, against links labelled by hand in
tests/fixtures/links/labelled.json; and the clerks' standard phrasings one by one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docketwatch import parsers
from docketwatch.domain.docket_numbers import try_normalize
from docketwatch.domain.links import links

FIXTURES = Path(__file__).parent / "fixtures"
PACER = FIXTURES / "pacer"
LABELLED = json.loads((FIXTURES / "links" / "labelled.json").read_text())


def real_texts() -> list[tuple[str, str, str, str | None, str]]:
    """(file, court, docket number, entry number, text) for every real docket text."""
    out = []
    for path in sorted(PACER.iterdir()):
        if path.name.endswith((".expected.json", ".tsv", ".md")) or path.name == "SHA256SUMS":
            continue
        court = path.name.split("__")[1]
        try:
            dockets = parsers.parse(path.read_bytes(), court).dockets
        except parsers.ParseError:
            continue  # a page that is no docket (PACER's error pages): no docket text
        for docket in dockets:
            for e in docket.entries:
                for text in dict.fromkeys(t for t in (e.description, e.short_description) if t):
                    out.append((path.name, court, try_normalize(docket.docket_number) or docket.docket_number,
                                e.entry_number, text))
    ai = json.loads((FIXTURES / "links" / "ai-copyright-entries.json").read_text())
    for e in ai["entries"]:
        out.append(("ai-copyright-entries.json", e["court_id"], e["docket_number"], e["entry_number"], e["text"]))
    return out


def test_precision_and_recall_on_real_docket_texts():
    texts = real_texts()
    found = {(f, docket, entry, link.describe()) for f, court, docket, entry, text in texts
             for link in links(text, court, docket)}
    labelled = {(x["file"], x["docket_number"], x["entry"], x["link"]) for x in LABELLED["links"]}
    right = found & labelled
    precision = len(right) / len(found) if found else 1.0
    recall = len(right) / len(labelled)
    print(f"\nlinked dockets in {len(texts)} real docket texts: {len(found)} found, {len(labelled)} labelled, "
          f"precision {precision:.0%}, recall {recall:.0%}")
    assert len(texts) > 1400
    assert found - labelled == set(), "links nobody labelled"
    assert labelled - found == set(), "labelled links not found"


# The clerks' standard phrasings (constructed from CM/ECF's wording; the USCA number is
# the example). Court and docket number are those of the entry's own case.
@pytest.mark.parametrize(("court", "own", "text", "expected"), [
    ("cand", "3:23-cv-03417", "USCA Case Number 25-5410 for 603 Notice of Appeal to the Ninth Circuit filed by "
     "Richard Kadrey. (dt, COURT STAFF) (Filed on 7/25/2025)", [("appeal", "ca9", "25-5410")]),
    ("nysd", "1:23-cv-11195", "Appeal Remark as to 56 Notice of Interlocutory Appeal. USCA Case Number 22-2719.",
     [("appeal", "ca2", "22-2719")]),
    ("bap9", "15-1074", "Received 9TH CIRCUIT COURT OF APPEALS CASE NUMBER: 16-60019.", [("appeal", "ca9", "16-60019")]),
    ("dcd", "1:25-cv-00001", "USCA Case No. 25-5100 for 12 Notice of Appeal", [("appeal", "cadc", "25-5100")]),
    ("cand", "5:24-cv-03811", "Case transferred in from Middle District of Tennessee; Case Number 3:23-cv-01092. "
     "Original file certified copy of transfer order and docket sheet received.",
     [("transfer", "tnmd", "3:23-cv-01092")]),
    ("tnmd", "3:23-cv-01092", "ORDER TRANSFERRING CASE to the Northern District of California. Signed by Judge "
     "Eli J. Richardson on 6/24/2024.", [("transfer", "cand", None)]),
    ("cand", "3:23-cv-03223", "MDL TRANSFER OUT: Case transferred to the Southern District of New York, Case Number "
     "1:25-cv-03291, MDL No. 3143.", [("mdl", "nysd", "1:25-cv-03291")]),
    ("cand", "3:23-cv-03223", "CONDITIONAL TRANSFER ORDER (CTO-1) from the Judicial Panel on Multidistrict "
     "Litigation transferring action to the Southern District of New York for inclusion in MDL No. 3143.",
     [("mdl", "jpml", "MDL No. 3143")]),
    ("cand", "3:25-cv-05643", "ORDER GRANTING MOTION TO REMAND AND REMANDING CASE to the Superior Court of "
     "California, County of San Francisco. Case No. CGC-25-625892.", [("remand", None, "CGC-25-625892")]),
    # Not links: motions, denials, agencies, custody, a notice of appeal before its number.
    ("ded", "1:23-cv-00135", "MOTION to Transfer Case to Northern District of California - filed by Stability AI", []),
    ("ded", "1:23-cv-00135", "ORDER DENYING 16 MOTION to Transfer Case to Northern District of California.", []),
    ("nysd", "1:24-cv-07984", "OPINION AND ORDER denying Perplexity's motion to dismiss or transfer.", []),
    ("nyed", "1:20-cv-00001", "Order AND Stipulation and Order of Remand to SSA", []),
    ("utd", "2:08-cr-00125", "Defendant was remanded to the custody of the USMS.", []),
    ("nysd", "1:23-cv-11195", "NOTICE OF APPEAL from 485 Order. Document filed by OpenAI. Filing fee $ 605.00", []),
    ("nysd", "1:08-md-01963", "CERTIFIED TRUE COPY OF MDL TRANSFER IN ORDER FROM THE MDL PANEL... transferred to the "
     "Southern District of New York", []),
    ("ca9", "22-21", "The U.S. Court of Appeals docket number 22-21 has been assigned to this case.", []),
])
def test_standard_phrasings(court, own, text, expected):
    assert [(link.kind, link.court, link.docket_number) for link in links(text, court, own)] == expected
