"""Webhooks: the digest as JSON in one signed HTTP POST per delivery.

The receiver checks `X-Docketwatch-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw
body keyed with the shared `secret`, and keeps the `Idempotency-Key` of what it has
processed: every retry of a delivery sends the same body under the same key (derived
from the delivery's Message-ID), so a POST whose answer was lost and that is sent again
is processed once. Any 2xx answer is a delivery; anything else is retried by the outbox.
The URL may carry a token: it is stored and shown only as its label (`https://host #1`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Annotated

from pydantic import AfterValidator, SecretStr

from docketwatch import redact
from docketwatch.http import HttpClient, HttpError, describe_status
from docketwatch.notifiers import secret_urls
from docketwatch.notifiers.base import DeliveryError, Notifier
from docketwatch.settings import HttpUrl, Section
from docketwatch.store.models import Delivery, Digest

SIGNATURE_HEADER = "X-Docketwatch-Signature"


def _secret_url(url: str) -> str:
    secret_urls.register(url, public_host=True)
    return url


MIN_SECRET = 16


def _long_enough(secret: SecretStr) -> SecretStr:
    if (length := len(secret.get_secret_value())) < MIN_SECRET:
        raise ValueError(f"is {length} characters long; an HMAC key must have at least {MIN_SECRET}")
    return secret


class WebhookSettings(Section):
    """`url`: where the POST goes; `secret`: the HMAC key, from the environment (`${NAME}`)."""

    url: Annotated[HttpUrl, AfterValidator(_secret_url)]
    secret: Annotated[SecretStr, AfterValidator(_long_enough)]


def signature(secret: str, body: bytes) -> str:
    """The value of X-Docketwatch-Signature for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def idempotency_key(delivery: Delivery) -> str:
    """The same for every attempt of one delivery, different for any other (a UUID)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"docketwatch:{delivery.message_id}"))


class WebhookNotifier(Notifier[WebhookSettings]):
    channel = "webhook"
    formats = ("txt", "json")
    Settings = WebhookSettings

    @classmethod
    def recipients(cls, settings: WebhookSettings) -> list[str]:
        return [secret_urls.label(settings.url, host=True)]

    def body(self, digest: Digest, delivery: Delivery) -> bytes:
        """What is posted: the digest model (render.as_json), its subject, its text and the delivery's key."""
        rendered = digest.rendered()
        document = {"subscription": digest.subscription, "subject": digest.subject, "text": rendered["txt"],
                    "idempotency_key": idempotency_key(delivery), "digest": json.loads(rendered["json"])}
        return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()

    def send(self, digest: Digest, delivery: Delivery) -> str:
        url = self.settings.url
        body = self.body(digest, delivery)
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key(delivery),
                   SIGNATURE_HEADER: signature(self.settings.secret.get_secret_value(), body)}
        try:
            response = HttpClient(self.config.http).post(url, data=body, headers=headers)
        except HttpError as e:  # its message names the URL, masked (a secret): named here instead
            raise DeliveryError(str(e).replace(redact.scrub(url), "the webhook", 1)) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(redact.scrub(f"the webhook answered {describe_status(response)}"))
        return f"{delivery.recipient} (HTTP {response.status_code})"
