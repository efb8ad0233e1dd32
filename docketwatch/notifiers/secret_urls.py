"""URLs that are secrets (a webhook's, a chat service's): the label stored and shown in
their place, and their parts registered for redaction.

A Slack or Discord webhook URL, an ntfy topic or a Telegram bot URL grants whoever
holds it the right to post. So it stays in the configuration only: the outbox stores
the label as the delivery's recipient, and every part of the URL that may be a token
(user, password; the host when it is not a server's name, path segments and query
values, when they look like one: `_may_be_token`) is registered with `redact`, so no message, log line
or stored error shows it.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, unquote, urlsplit

from docketwatch import redact


def register(url: str, *, public_host: bool) -> None:
    """Cut `url` and each of its parts that may be a token out of all output (the host
    too, unless it is a server's name, shown in the label)."""
    redact.register(url)
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]  # as written: `hostname` is lowercased, a token is not
    host = host.rpartition(":")[0] if host.rpartition(":")[2].isdigit() else host
    named = [None if public_host else host, *parts.path.split("/"),
             *(value for _, value in parse_qsl(parts.query))]
    pieces = [parts.username, parts.password, parts.fragment,
              *(piece for piece in named if piece and _may_be_token(unquote(piece)))]
    for piece in pieces:
        if piece and not (piece.isdigit() and len(piece) <= 5):  # a port number is no secret
            redact.register(piece)
            redact.register(unquote(piece))


def _may_be_token(piece: str) -> bool:
    """A path segment or query value that may grant something: long, or with a digit
    (Slack's `T0A1B2C3D` and the 24 characters after it, a Discord token). A word such
    as `hooks`, `docketwatch`, `json` or an ntfy topic `Meta` is not: masked, it would
    mask that word in every message, a case's name too. The whole URL is masked anyway."""
    return len(piece) >= 20 or (len(piece) >= 6 and any(c.isdigit() for c in piece))


def label(url: str, *, host: bool) -> str:
    """`json://127.0.0.1:8080 #1a2b3c4d` (when the host is a server's name) or
    `ntfy #5e6f7a8b`: the scheme and a digest of the whole URL, never a path, user or
    token. The digest, not the URL's place in its list: a delivery stored with a label
    must go to the same URL after the list is edited (a URL removed before it, or the
    list reordered, would hand it to another URL, which may have had the digest)."""
    parts = urlsplit(url)
    where = f"://{parts.hostname}{f':{parts.port}' if parts.port else ''}" if host and parts.hostname else ""
    return f"{parts.scheme}{where} #{hashlib.sha256(url.encode()).hexdigest()[:8]}"
