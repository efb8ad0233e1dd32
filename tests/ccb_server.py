"""A local stand-in for eCCB (dockets.ccb.gov), served over real HTTP (pytest-httpserver).

It serves the document search (`/search/documents?max=N&offset=M`, newest first) with
rows written in the markup of the captured excerpt (tests/fixtures/ccb), and document
downloads: a PDF (honouring a one-byte Range request) or, for a restricted document, the
login page. Tests file documents with `file()`; numbers rise across the whole board.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from werkzeug import Request, Response

FIXTURES = Path(__file__).parent / "fixtures" / "ccb"
LOGIN = (FIXTURES / "login.html").read_text()

# One row exactly as eCCB writes it (see document-search-excerpt.html).
ROW = """<tr><td data-cell-heading="Docket" ><a href="/case/detail/{docket}" target="_blank" rel="noopener noreferrer">
				{docket}
			</a></td><td data-cell-heading="Unique doc. #" >{number:,}</td><td data-cell-heading="Title" ><span class="btn-group document-link ">

			<a href="/document/download/{number}" class="btn btn-link" target="_blank" rel="noopener noreferrer">
				<span class="document-link-title">
					<span class="visually-hidden">Download</span>
					{title}
{pad}
					<span class="visually-hidden">(Opens new window)</span>
				</span>
			</a>
		</span></td><td data-cell-heading="Document type" >{kind}</td><td data-cell-heading="Party" >{party}</td><td data-cell-heading="Filed date" >{filed}</td></tr>
"""  # noqa: E501 (the captured markup, as served)


@dataclass
class Document:
    docket: str
    number: int
    title: str
    kind: str
    party: str
    filed: str  # "09/22/2026 05:40 PM EDT"
    restricted: bool = False


def page(documents: list[Document]) -> str:
    # The captured markup has a line of five tabs (kept out of this file's source as `pad`).
    rows = "".join(ROW.format(pad="\t" * 5, **d.__dict__) for d in documents)
    return f'<!DOCTYPE html><html><body><table id="document-search-results"><tbody>\n{rows}</tbody></table></body></html>'


@dataclass
class FakeCcb:
    base_url: str
    documents: list[Document] = field(default_factory=list)  # oldest first
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    ranges: list[str | None] = field(default_factory=list)  # the Range header of each download request
    search_is_login: bool = False
    next_number: int = 21_000

    def file(self, docket: str, title: str, kind: str = "", party: str = "Claimant",
             filed: str = "09/22/2026 05:40 PM EDT", restricted: bool = False, number: int | None = None) -> Document:
        self.next_number = number if number is not None else self.next_number + 1
        document = Document(docket, self.next_number, title, kind or title, party, filed, restricted)
        self.documents.append(document)
        return document

    def handle(self, request: Request) -> Response:
        self.requests.append((request.path, dict(request.args)))
        if request.path == "/search/documents":
            if self.search_is_login:
                return Response(LOGIN, content_type="text/html")
            size, offset = int(request.args.get("max", "25")), int(request.args.get("offset", "0"))
            newest_first = sorted(self.documents, key=lambda d: d.number, reverse=True)
            return Response(page(newest_first[offset:offset + size]), content_type="text/html")
        if request.path.startswith("/document/download/"):
            number = int(request.path.rsplit("/", 1)[1])
            self.ranges.append(request.headers.get("Range"))
            document = next((d for d in self.documents if d.number == number), None)
            if document is None:
                return Response("not found", status=404)
            if document.restricted:
                return Response(LOGIN, content_type="text/html")
            body = b"%PDF-1.7 " + b"x" * 5000
            if request.headers.get("Range") == "bytes=0-0":
                return Response(body[:1], status=206, content_type="application/pdf",
                                headers={"Content-Range": f"bytes 0-0/{len(body)}"})
            return Response(body, content_type="application/pdf")
        return Response("not found", status=404)

    def searches(self) -> list[str]:
        """The offsets of the search pages requested so far."""
        return [args.get("offset", "0") for path, args in self.requests if path == "/search/documents"]
