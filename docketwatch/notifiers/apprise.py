"""Chat and push services through apprise (Slack, Discord, Teams, Matrix, ntfy, ...).

Each URL of a subscription is a recipient of its own, so each is its own delivery in
the outbox: one failing service never holds back or duplicates the others. The URLs
carry tokens, so they stay in the configuration: a delivery stores the URL's label
(`slack #2`, or `ntfy://host:port #1` where the host is a server's name; see
secret_urls) and every part that may be a token is cut out of all output.

The title is the digest's subject. A service that renders Markdown (or HTML, which
apprise makes from the Markdown) gets the Markdown digest, any other the text digest.
A digest longer than the service takes is cut at a line, with a line saying how much
is missing and linking to the rest (`more_url`, else each case's docket): one message
per delivery, so a retry never repeats half of one.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Annotated
from urllib.parse import urlsplit

from apprise import Apprise, AppriseAsset, AppriseResult, NotifyFormat
from apprise.plugins.base import NotifyBase
from pydantic import AfterValidator, Field, field_validator

from docketwatch import redact
from docketwatch.notifiers import secret_urls
from docketwatch.notifiers.base import DeliveryError, Notifier
from docketwatch.settings import HttpUrl, Section
from docketwatch.store.models import Delivery, Digest

# Apprise's own log lines stay out of docketwatch's: a failure is logged once, by the
# outbox, with the words apprise collected for that call (its result's logs).
logging.getLogger("apprise").propagate = False


# Apprise waits on a service with a deadline from a shared pool of threads that are not
# daemons: one blocked on a trickling server kept `run --once` from ever exiting. With
# the deadline off, it calls the service on the calling thread; `send` runs that on a
# daemon thread of its own and waits [http] timeout.
_INLINE = AppriseAsset(service_timeout=0)


def service(url: str) -> NotifyBase:
    """The apprise plug-in for `url`, or ValueError."""
    plugin = Apprise.instantiate(url, asset=_INLINE)
    if not isinstance(plugin, NotifyBase):
        raise ValueError("is not a URL apprise can send to (the services and their URLs: "
                         "https://github.com/caronc/apprise/wiki)")
    return plugin


def host_is_a_server(url: str, plugin: NotifyBase) -> bool:
    """Whether the URL's host is a server's name, safe to show: apprise shows it in its
    own privacy-masked form of the URL, and it is not the whole address (json://host,
    ntfy://host/topic; but not slack://TokenA/..., masked, or ntfy://topic)."""
    parts = urlsplit(url)
    masked: str = plugin.url(privacy=True)  # type: ignore[no-untyped-call]  # apprise leaves url() unannotated
    if not parts.hostname or urlsplit(masked).hostname != parts.hostname:
        return False
    templates: tuple[str, ...] = getattr(type(plugin), "templates", ())
    return all("{host}" in t for t in templates) or bool(parts.path.strip("/"))


def _secret_url(url: str) -> str:
    redact.register(url)  # before apprise parses (and may log) it
    secret_urls.register(url, public_host=host_is_a_server(url, service(url)))
    return url


class AppriseSettings(Section):
    """`urls`: apprise URLs, one delivery each; `more_url`: where the whole digest can be
    read, linked when a message has to be cut."""

    urls: list[Annotated[str, AfterValidator(_secret_url)]] = Field(min_length=1)
    more_url: HttpUrl | None = None

    @field_validator("urls")
    @classmethod
    def _once_each(cls, urls: list[str]) -> list[str]:
        """A URL listed twice is one recipient (one label), sent each digest once."""
        if len(set(urls)) < len(urls):
            raise ValueError("lists one URL twice; list each once")
        return urls


def labels(urls: list[str]) -> list[str]:
    """Each URL's label, as stored in its deliveries."""
    return [secret_urls.label(url, host=host_is_a_server(url, service(url))) for url in urls]


def fit(text: str, limit: int, links: list[str]) -> str:
    """`text` whole if it fits in `limit` characters; else cut at a line, with a last line
    saying how many lines are missing and where the rest is: the first link, then as many
    more as there is room for."""
    if len(text) <= limit:
        return text
    lines = text.splitlines(keepends=True)
    shown = links[:1] if _length([], len(lines), links[:1]) <= limit else []
    kept = 0
    while kept < len(lines) and _length(lines[:kept + 1], len(lines) - kept - 1, shown) <= limit:
        kept += 1
    while len(shown) < len(links) and _length(lines[:kept], len(lines) - kept, links[:len(shown) + 1]) <= limit:
        shown = links[:len(shown) + 1]
    return "".join(lines[:kept]) + _footer(len(lines) - kept, shown)


def _footer(missing: int, links: list[str]) -> str:
    where = f" The rest: {' '.join(links)}" if links else ""
    return f"\n… {missing} more line{'' if missing == 1 else 's'} not shown.{where}\n"


def _length(lines: list[str], missing: int, links: list[str]) -> int:
    return sum(map(len, lines)) + len(_footer(missing, links))


class AppriseNotifier(Notifier[AppriseSettings]):
    channel = "apprise"
    formats = ("txt", "md", "json")
    Settings = AppriseSettings

    @classmethod
    def recipients(cls, settings: AppriseSettings) -> list[str]:
        return labels(settings.urls)

    def message(self, digest: Digest, delivery: Delivery) -> tuple[NotifyBase, str, str, NotifyFormat]:
        """The service of the delivery's URL and what it is sent: title, body and format."""
        try:
            url = self.settings.urls[labels(self.settings.urls).index(delivery.recipient or "")]
        except ValueError:
            raise DeliveryError(
                f"{delivery.recipient}: no URL of subscription {digest.subscription!r} has this label any more; "
                f"`docketwatch digest --drop {delivery.id}` gives this delivery up") from None
        plugin = service(url)
        rendered = digest.rendered()
        body_format = plugin.resolve_format(NotifyFormat.MARKDOWN)
        markdown = body_format in (NotifyFormat.MARKDOWN, NotifyFormat.HTML)
        title = digest.subject
        if plugin.title_maxlen > 0 and len(title) > plugin.title_maxlen:
            title = title[:plugin.title_maxlen - 1] + "…"
        # A service without titles gets the title as the body's first line.
        room = plugin.body_maxlen - (len(title) + 2 if plugin.title_maxlen <= 0 else 0)
        links = [self.settings.more_url] if self.settings.more_url else [
            case["url"] for case in json.loads(rendered["json"])["cases"] if case["url"]]
        body = fit(rendered["md" if markdown else "txt"], room, links)
        return plugin, title, body, NotifyFormat.MARKDOWN if markdown else NotifyFormat.TEXT

    def send(self, digest: Digest, delivery: Delivery) -> str:
        plugin, title, body, body_format = self.message(digest, delivery)
        client = Apprise(asset=_INLINE)
        client.add(plugin)
        answer: list[AppriseResult | Exception] = []

        def call() -> None:
            try:
                answer.append(client.notify(body=body, title=title, body_format=body_format))
            except Exception as e:  # raised again on the caller's thread
                answer.append(e)

        worker = threading.Thread(target=call, name=f"apprise {delivery.recipient}", daemon=True)
        worker.start()
        worker.join(self.config.http.timeout)
        if not answer:  # still waiting: the thread ends when the server gives up
            raise DeliveryError(f"{delivery.recipient} ({plugin.service_name}) gave no complete answer within "
                                f"{self.config.http.timeout:g} s ([http] timeout)")
        result = answer[0]
        if isinstance(result, Exception):
            raise result
        if not result:
            said = [str(e.message) for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
            raise DeliveryError(redact.scrub(" ".join(" ".join(said).split()) or "the service refused the message"))
        return f"{delivery.recipient} ({plugin.service_name})"
