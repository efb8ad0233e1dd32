"""The plug-in registry: sources and channels by name, from entry points.

Built-in sources and channels are registered in pyproject.toml under the entry-point
groups `docketwatch.sources` and `docketwatch.notifiers`, exactly as a third-party
package registers its own. A plug-in's module is imported only when its name is used.
"""

from __future__ import annotations

import sys
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docketwatch.notifiers.base import Notifier
    from docketwatch.sources.base import Source

SOURCES = "docketwatch.sources"
NOTIFIERS = "docketwatch.notifiers"


class UnknownPlugin(LookupError):
    """No plug-in of this name is registered; `known` lists those that are."""

    def __init__(self, name: str, known: list[str]):
        super().__init__(name)
        self.name, self.known = name, known


def names(group: str) -> list[str]:
    """The registered names in `group`, sorted."""
    return sorted(_registered(group, tuple(sys.path)))


@cache
def _registered(group: str, path: tuple[str, ...]) -> dict[str, EntryPoint]:
    # Keyed by sys.path: a package put on the path later (a test's) is found too.
    return {ep.name: ep for ep in entry_points(group=group)}


def _load(group: str, name: str) -> type:
    found = _registered(group, tuple(sys.path)).get(name)
    if found is None:
        raise UnknownPlugin(name, names(group))
    plugin: type = found.load()  # the entry point names a class
    return plugin


def source(name: str) -> type[Source]:
    """The source class registered as `name` (imported now); UnknownPlugin when none is."""
    return _load(SOURCES, name)


def notifier(name: str) -> type[Notifier[Any]]:
    """The channel class registered as `name` (imported now); UnknownPlugin when none is."""
    return _load(NOTIFIERS, name)
