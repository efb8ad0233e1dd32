"""Where digests go. A new channel is one module implementing `Notifier`, registered
here under the name users write in `channel = "..."`."""

from docketwatch.notifiers.base import DeliveryError, Notifier
from docketwatch.notifiers.email import EmailNotifier
from docketwatch.notifiers.markdown import MarkdownNotifier

REGISTRY: dict[str, type[Notifier]] = {
    EmailNotifier.channel: EmailNotifier,
    MarkdownNotifier.channel: MarkdownNotifier,
}

__all__ = ["REGISTRY", "DeliveryError", "Notifier"]
