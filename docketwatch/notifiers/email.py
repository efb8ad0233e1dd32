"""Email through the configured SMTP server: multipart/alternative, text and HTML.

One message per recipient (a delivery), addressed to that recipient alone, so no one
sees who else gets the digest. From carries `[smtp] from_name`; `List-Id` names the
subscription (so a mail client can filter and mute it) and `Auto-Submitted:
auto-generated` (RFC 3834) keeps vacation responders from answering. The Message-ID
comes from the delivery and the Date from the digest, so a resend after a crash is the
same message and mail clients merge it. Every header value is one line. Errors name the
server and the user; credentials (plain or base64, as a server may echo the AUTH
exchange) are cut out of anything the server or the library says.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING, Any

from pydantic import Field

from docketwatch import redact
from docketwatch.deadlines import Watchdog
from docketwatch.notifiers.base import DeliveryError, Notifier
from docketwatch.settings import Config, EmailAddress, Section, SmtpConfig
from docketwatch.store.models import Delivery, Digest, as_utc

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12


class EmailSettings(Section):
    """`to`: the addresses, one delivery each."""

    to: list[EmailAddress] = Field(min_length=1)


def header(value: str) -> str:
    """A header value on one line: a line break would end the header (or start another)."""
    return " ".join(value.split())


def list_id(subscription: str, from_address: str) -> str:
    """RFC 2919: `"litigators" <litigators.docketwatch.example.org>`, one per subscription."""
    slug = re.sub(r"[^a-z0-9]+", "-", subscription.lower()).strip("-") or "digest"
    return formataddr((header(subscription), f"{slug}.docketwatch.{from_address.rpartition('@')[2]}"))


class EmailNotifier(Notifier[EmailSettings]):
    channel = "email"
    formats = ("txt", "html")
    Settings = EmailSettings

    @classmethod
    def recipients(cls, settings: EmailSettings) -> list[str]:
        return list(settings.to)

    @classmethod
    def check(cls, config: Config, settings: EmailSettings) -> str | None:
        return "sends email, but there is no [smtp] section" if config.smtp is None else None

    def message(self, digest: Digest, delivery: Delivery) -> EmailMessage:
        assert delivery.recipient is not None  # the outbox addresses every delivery before sending it
        parts = digest.rendered()
        message = EmailMessage()
        message["Subject"] = header(digest.subject)
        smtp = self._smtp()
        message["From"] = Address(header(smtp.from_name), addr_spec=smtp.from_address)
        message["To"] = header(delivery.recipient)
        message["Date"] = format_datetime(as_utc(digest.created_at))
        message["Message-ID"] = header(delivery.message_id)
        message["List-Id"] = list_id(digest.subscription, smtp.from_address)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(parts["txt"])
        message.add_alternative(parts["html"], subtype="html")
        return message

    def send(self, digest: Digest, delivery: Delivery) -> str:
        smtp = self._smtp()
        server = f"{smtp.host}:{smtp.effective_port}"
        message = self.message(digest, delivery)
        assert delivery.recipient is not None  # checked by message()
        # One deadline for the whole exchange: a server trickling bytes resets each read's timeout.
        with Watchdog(smtp.timeout) as watchdog:
            client = _SslClient(smtp.host, watchdog, timeout=smtp.timeout, context=ssl.create_default_context()) \
                if smtp.security == "ssl" else _Client(smtp.host, watchdog, timeout=smtp.timeout)
            try:
                client.connect(smtp.host, smtp.effective_port)
                try:
                    if smtp.security == "starttls":
                        client.starttls(context=ssl.create_default_context())
                    if smtp.username:
                        client.login(smtp.username, smtp.password.get_secret_value() if smtp.password else "")
                    client.send_message(message, to_addrs=[delivery.recipient])
                    reply = client.reply
                finally:
                    _leave(client)
            except (smtplib.SMTPException, OSError) as e:
                raise _failure(e, smtp, server, watchdog) from None
        return f"{delivery.recipient} via {server}: {reply}"

    def _smtp(self) -> SmtpConfig:
        assert self.config.smtp is not None  # check() refuses a configuration without [smtp]
        return self.config.smtp


def _failure(error: Exception, smtp: SmtpConfig, server: str, watchdog: Watchdog) -> DeliveryError:
    """What a failed attempt says: the deadline, a refused login, or the server's words."""
    if watchdog.fired:
        return DeliveryError(f"SMTP server {server} gave no complete answer within {smtp.timeout:g} s "
                             "(smtp.timeout, for the whole attempt)")
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return DeliveryError(redact.scrub(
            f"SMTP server {server} rejected the login of user {smtp.username!r} "
            f"({error.smtp_code} {_text(error.smtp_error)}); check smtp.username and the password variable"))
    return DeliveryError(redact.scrub(f"sending through SMTP server {server} failed: {_describe(error)}"))


def _leave(client: smtplib.SMTP) -> None:
    """Say QUIT and close. The server's answer to QUIT does not count: once it has
    accepted the message (250), a 421 or a dropped line at QUIT must not make the
    delivery a failure to be sent again (smtplib's `with` raises for any reply but 221)."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


class _Client(smtplib.SMTP):
    """Keeps the server's reply to the message itself ("250 2.0.0 Ok: queued as ..."),
    which smtplib's send_message does not return: the record of where a digest went."""

    reply = ""

    def __init__(self, host: str, watchdog: Watchdog, **options: Any):
        super().__init__(**options)  # not connected: `send` connects under the watchdog
        self._host = host  # what smtplib checks the server's certificate against (given to connect, it is not kept)
        self.watchdog = watchdog

    # smtplib's hook for the socket it connects (untyped in typeshed): the one place to see it before the greeting.
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]  # see above
        self.watchdog.register(sock)  # before the greeting is read; STARTTLS wraps the same descriptor
        return sock

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        code, text = super().data(msg)
        self.reply = f"{code} {_text(text)}"
        return code, text


class _SslClient(_Client, smtplib.SMTP_SSL):
    pass


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "the recipient was refused: " + "; ".join(
            f"{address} ({code} {_text(reply)})" for address, (code, reply) in error.recipients.items())
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return str(error) or type(error).__name__
