"""Email through the configured SMTP server: multipart/alternative, text and HTML.

The Message-ID and Date come from the stored digest, so a resend after a crash is the
same message and mail clients merge it. Errors name the server and the user, and the
password is cut out of anything the server or the library says.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime

from docketwatch.models import Digest, as_utc
from docketwatch.notifiers.base import DeliveryError, Notifier

log = logging.getLogger(__name__)


class EmailNotifier(Notifier):
    channel = "email"
    formats = ("txt", "html")

    def message(self, digest: Digest) -> EmailMessage:
        parts = digest.rendered()
        message = EmailMessage()
        message["Subject"] = digest.subject
        message["From"] = self.config.smtp.from_address
        message["To"] = ", ".join(self.subscription.to)
        message["Date"] = format_datetime(as_utc(digest.created_at))
        message["Message-ID"] = digest.message_id
        message.set_content(parts["txt"])
        message.add_alternative(parts["html"], subtype="html")
        return message

    def send(self, digest: Digest) -> str:
        smtp = self.config.smtp
        server = f"{smtp.host}:{smtp.effective_port}"
        message = self.message(digest)
        try:
            with self._connect() as client:
                if smtp.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if smtp.username:
                    client.login(smtp.username, smtp.password.get_secret_value() if smtp.password else "")
                refused = client.send_message(message)
        except smtplib.SMTPAuthenticationError as e:
            raise DeliveryError(self._scrub(
                f"SMTP server {server} rejected the login of user {smtp.username!r} "
                f"({e.smtp_code} {_text(e.smtp_error)}); check smtp.username and the password variable"
            )) from None
        except (smtplib.SMTPException, OSError) as e:
            raise DeliveryError(self._scrub(f"sending through SMTP server {server} failed: {_describe(e)}")) from None
        if refused:
            # Accepted for the other recipients: a retry would send them a second copy.
            log.warning("%s: %s refused %s", self.subscription.name, server, ", ".join(refused))
        accepted = [a for a in self.subscription.to if a not in refused]
        return f"{', '.join(accepted)} via {server}"

    def _connect(self) -> smtplib.SMTP:
        smtp = self.config.smtp
        if smtp.security == "ssl":
            return smtplib.SMTP_SSL(smtp.host, smtp.effective_port, timeout=smtp.timeout,
                                    context=ssl.create_default_context())
        return smtplib.SMTP(smtp.host, smtp.effective_port, timeout=smtp.timeout)

    def _scrub(self, text: str) -> str:
        password = self.config.smtp.password
        return text.replace(password.get_secret_value(), "***") if password and password.get_secret_value() else text


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "every recipient was refused: " + "; ".join(
            f"{address} ({code} {_text(reply)})" for address, (code, reply) in error.recipients.items())
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return str(error) or type(error).__name__
