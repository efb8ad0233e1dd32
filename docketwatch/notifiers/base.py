"""The one interface every delivery channel implements.

A notifier gets a stored digest (subject, rendered formats) and one delivery of it (the
recipient and the Message-ID) and either delivers it or raises DeliveryError. It returns
only once delivery is certain (the SMTP server accepted the message, the file is in
place): the outbox records the delivery as sent only after that, so "seen" and
"delivered" stay separate.

A channel owns its settings: the keys of a `[[digests]]` table other than the core ones
(`to` for email, `dir` for Markdown), checked by its `Settings` model, from which it
names the recipients of each digest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from docketwatch.settings import Config, DigestConfig, Section
from docketwatch.store.models import Delivery, Digest


class DeliveryError(Exception):
    """A delivery failed; the message says where and why, and never contains a secret."""


SettingsT = TypeVar("SettingsT", bound=Section)


class Notifier(ABC, Generic[SettingsT]):
    #: The name used in configuration (`channel = "..."`).
    channel: str
    #: The rendered formats the channel sends ("txt", "html", "md"); only these are stored.
    formats: tuple[str, ...]
    #: The model of its keys in a `[[digests]]` table.
    Settings: type[SettingsT]

    def __init__(self, config: Config, subscription: DigestConfig):
        self.config = config
        self.subscription = subscription
        # bootstrap.load checked this subscription's keys with this channel's `Settings`.
        self.settings: SettingsT = config.channel_settings[subscription.name]

    @classmethod
    @abstractmethod
    def recipients(cls, settings: SettingsT) -> list[str]:
        """Where each delivery of a digest goes (one delivery per item)."""

    @classmethod
    def check(cls, config: Config, settings: SettingsT) -> str | None:
        """What else the channel needs from the configuration, when it is missing."""
        return None

    @abstractmethod
    def send(self, digest: Digest, delivery: Delivery) -> str:
        """Deliver `digest` to `delivery.recipient`; return where it went (for the record).
        Raise DeliveryError."""
