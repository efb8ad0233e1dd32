"""The one interface every delivery channel implements.

A notifier gets a stored digest (subject, rendered formats) and one delivery of it (the
recipient and the Message-ID) and either delivers it or raises DeliveryError. It returns
only once delivery is certain (the SMTP server accepted the message, the file is in
place): the outbox records the delivery as sent only after that, so "seen" and
"delivered" stay separate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from docketwatch.config import Config, DigestConfig
from docketwatch.models import Delivery, Digest


class DeliveryError(Exception):
    """A delivery failed; the message says where and why, and never contains a secret."""


class Notifier(ABC):
    #: The name used in configuration (`channel = "..."`).
    channel: str
    #: The rendered formats the channel sends ("txt", "html", "md"); only these are stored.
    formats: tuple[str, ...]

    def __init__(self, config: Config, subscription: DigestConfig):
        self.config = config
        self.subscription = subscription

    @abstractmethod
    def send(self, digest: Digest, delivery: Delivery) -> str:
        """Deliver `digest` to `delivery.recipient`; return where it went (for the record).
        Raise DeliveryError."""
