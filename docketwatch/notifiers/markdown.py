"""Markdown files in a folder, one per digest, written atomically.

The file is written to a temporary name in the same folder, flushed to disk, then
renamed into place: a reader (or a crash) never sees half a digest. The folder is the
delivery's recipient (a subscription's `dir`, one delivery per digest) and the name comes
from the stored digest, so writing it again after a crash replaces the same file.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from docketwatch.files import replace_atomically
from docketwatch.notifiers.base import DeliveryError, Notifier
from docketwatch.settings import Section
from docketwatch.store.models import Delivery, Digest, as_utc


class MarkdownSettings(Section):
    """`dir`: the folder the files go to (relative to the configuration file's)."""

    dir: Path


class MarkdownNotifier(Notifier[MarkdownSettings]):
    channel = "markdown"
    formats = ("md",)
    Settings = MarkdownSettings

    @classmethod
    def recipients(cls, settings: MarkdownSettings) -> list[str]:
        return [str(settings.dir)]

    def path(self, digest: Digest, delivery: Delivery) -> Path:
        local = as_utc(digest.period_end).astimezone(ZoneInfo(self.config.timezone))
        assert delivery.recipient is not None  # the outbox addresses every delivery before sending it
        folder = self.config.resolve(Path(delivery.recipient))
        # A digest never stored (`test-notify`) is named as the test it is.
        number = digest.id if digest.id is not None else "test"
        return folder / f"digest-{local:%Y-%m-%d-%H%M}-{number}.md"

    def send(self, digest: Digest, delivery: Delivery) -> str:
        target = self.path(digest, delivery)
        try:
            replace_atomically(target, digest.rendered()["md"])
        except OSError as e:
            raise DeliveryError(f"cannot write {target}: {e.strerror or e}") from None
        return str(target)
