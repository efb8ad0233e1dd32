"""Secrets cut out of every message docketwatch prints, logs or stores.

Secrets (the CourtListener token, the SMTP password, a database password) reach
docketwatch only through `${NAME}` references in the configuration; `bootstrap.load`
registers each one here. `scrub` then replaces a secret wherever it appears: as
written, percent-encoded (inside a URL), and base64-encoded at any byte alignment,
which covers what an SMTP server may echo of an AUTH PLAIN or AUTH LOGIN exchange.
"""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote

MASK = "***"
# Shorter values are not treated as secrets: masking "1" everywhere would garble
# every message, and a secret that short protects nothing anyway.
MIN_SECRET_LENGTH = 4

_forms: set[str] = set()


def register(secret: str | None) -> None:
    """Remember `secret` (and its encoded forms) so that `scrub` removes it."""
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return
    _forms.update(forms(secret))


def forms(secret: str) -> set[str]:
    """The ways a secret can show up in text: plain, percent-encoded, base64.

    Base64 of a longer message (AUTH PLAIN sends base64("\\0user\\0password")) contains
    the secret's encoding at one of three alignments; for each, the characters that
    depend on the secret alone are what we look for.
    """
    raw = secret.encode()
    found = {secret, quote(secret, safe=""), base64.b64encode(raw).decode().rstrip("=")}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = -(-8 * offset // 6)  # the first character made only of the secret's bits
        end = 8 * (offset + len(raw)) // 6
        if end - start >= MIN_SECRET_LENGTH:
            found.add(encoded[start:end])
    return {f for f in found if len(f) >= MIN_SECRET_LENGTH}


def scrub(text: str) -> str:
    """`text` with every registered secret, in any known form, replaced by ***."""
    for form in sorted(_forms, key=len, reverse=True):
        if form in text:
            text = text.replace(form, MASK)
    return text


def forget_all() -> None:
    """Drop every registered secret (tests load many configurations in one process)."""
    _forms.clear()


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs the formatted message and any traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _forms:
            record.msg = scrub(record.getMessage())
            record.args = None
            if record.exc_info:
                record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True
