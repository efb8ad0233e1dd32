"""Where entries come from. A new source is one module implementing `Source`,
registered here under the name users write in `sources = [...]`."""

from docketwatch.sources.base import Source, SourceContext
from docketwatch.sources.courtlistener import CourtListenerSource
from docketwatch.sources.pacer_rss import PacerRssSource

REGISTRY: dict[str, type[Source]] = {
    CourtListenerSource.name: CourtListenerSource,
    PacerRssSource.name: PacerRssSource,
}

__all__ = ["REGISTRY", "Source", "SourceContext"]
