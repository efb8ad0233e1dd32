"""URLs that are secrets (a webhook's, a chat service's): the label stored and shown in
their place, and their parts registered for redaction.

A Slack or Discord webhook URL, an ntfy topic or a Telegram bot URL grants whoever
holds it the right to post. So it stays in the configuration only: the outbox stores
the label as the delivery's recipient, and every part of the URL that may be a token
(user, password, host when it is not a server's name, path segments, query values) is
registered with `redact`, so no message, log line or stored error shows it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from docketwatch import redact


def register(url: str, *, public_host: bool) -> None:
    """Cut `url` and each of its parts that may be a token out of all output (the host
    too, unless it is a server's name, shown in the label)."""
    redact.register(url)
    parts = urlsplit(url)
    pieces = [parts.username, parts.password, None if public_host else parts.hostname, parts.fragment,
              *parts.path.split("/"), *(value for _, value in parse_qsl(parts.query))]
    for piece in pieces:
        if piece and not (piece.isdigit() and len(piece) <= 5):  # a port number is no secret
            redact.register(piece)
            redact.register(unquote(piece))


def label(url: str, index: int, *, host: bool) -> str:
    """`json://127.0.0.1:8080 #1` (when the host is a server's name) or `ntfy #2`: the
    scheme and the URL's place in its list, never a path, user or token."""
    parts = urlsplit(url)
    where = f"://{parts.hostname}{f':{parts.port}' if parts.port else ''}" if host and parts.hostname else ""
    return f"{parts.scheme}{where} #{index}"
