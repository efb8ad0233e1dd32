"""The bootstrap: settings + registry -> a checked application configuration.

The one place where the file's settings meet the plug-ins. `load` reads the file
(`settings`), resolves every source and channel name against the registry, has each
plug-in check its own part of the file with its own model, normalizes each case's
docket number by its sources' rules, and checks what needs both (poll intervals against
the sources' servers, channels' requirements). Every problem is a ConfigError: one line
naming the file, the key and the value as written.

The file is found via `--config PATH`, else `$DOCKETWATCH_CONFIG`, else the bundled
AI-copyright watchlist.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from docketwatch import registry, store
from docketwatch.settings import (
    ADMIN_CHANNEL,
    ADMIN_SUBSCRIPTION,
    MIN_POLL_INTERVAL,
    CaseConfig,
    Config,
    ConfigError,
    DigestConfig,
    Document,
    check_secret_refs,
    describe,
    is_local,
    key_name,
    read,
    shown,
    substitute,
)

if TYPE_CHECKING:
    from docketwatch.sources.base import Source

BUNDLED_CONFIG = "ai-copyright.toml"

__all__ = ["BUNDLED_CONFIG", "ConfigError", "every_source", "load", "resolve_path"]


def resolve_path(option: str | None) -> Path:
    """--config, else $DOCKETWATCH_CONFIG, else the bundled watchlist. An empty
    DOCKETWATCH_CONFIG (an unset variable in a unit's environment file) is an error, not
    a quiet fall back to the bundled cases."""
    if option:
        return Path(option)
    if (env := os.environ.get("DOCKETWATCH_CONFIG")) is not None:
        if not env.strip():
            raise ConfigError("DOCKETWATCH_CONFIG is set but empty: set it to the configuration file's path, "
                              "or unset it to use the bundled watchlist")
        return Path(env)
    return Path(str(resources.files("docketwatch.defaults").joinpath(BUNDLED_CONFIG)))


def load(path: Path) -> Config:
    """Read, substitute ${NAME} and check the file; raise ConfigError on any problem.

    Messages quote values as written in the file: a `${NAME}` reference, never the
    value the environment gave it.
    """
    raw = read(path)
    check_secret_refs(path, raw)
    doc = _validate(path, raw, Document, substitute(raw, path), ())
    plugins = _sources(path, raw, doc)
    cases = [_identify(path, raw, i, case, plugins) for i, case in enumerate(doc.cases)]
    folder = Path(os.path.abspath(path)).parent
    database = doc.database.model_copy(update={"url": store.anchored(doc.database.url, folder)})
    doc = doc.model_copy(update={"cases": cases, "database": database})
    _check_unique(path, raw, cases)
    _check_intervals(path, raw, doc, plugins)
    config = Config.model_construct(path=path, source_plugins=plugins, channel_settings={}, recipients={},
                                    admin_subscription=None, **dict(doc))
    return config.model_copy(update={"admin_subscription": _check_digests(path, raw, config)})


def every_source(config: Config) -> dict[str, Source]:
    """Every registered source by name: those of the configuration with its settings, the
    others with their defaults, where they have defaults for every setting (what a source
    can tell before any case uses it: the courts it knows, for `docketwatch courts`)."""
    out = {}
    for name in registry.names(registry.SOURCES):
        if name in config.source_plugins:
            out[name] = config.source_plugins[name]
            continue
        cls = registry.source(name)
        try:
            out[name] = cls(cls.Settings())
        except ValidationError:  # a setting it cannot do without (a third party's)
            continue
    return out


def _validate(path: Path, raw: dict[str, Any], model: type[BaseModel], value: Any,
              prefix: tuple[str | int, ...]) -> Any:
    """`value` checked by `model`; the errors as one ConfigError, keys counted from `prefix`."""
    try:
        return model.model_validate(value)
    except ValidationError as e:
        raise ConfigError(f"{path}: " + "; ".join(describe(raw, err, prefix) for err in e.errors())) from None


def _unknown(path: Path, key: tuple[str | int, ...], raw: dict[str, Any], error: registry.UnknownPlugin,
             what: str) -> ConfigError:
    return ConfigError(f"{path}: {key_name(key)} = {shown(raw, key)}: {error.name!r} is not a registered {what}; "
                       f"registered: {', '.join(map(repr, error.known)) or 'none'}")


def _sources(path: Path, raw: dict[str, Any], doc: Document) -> dict[str, Source]:
    """Every source a case uses or the file configures, with its settings, by name (sorted)."""
    for i, case in enumerate(doc.cases):
        if not case.sources or len(set(case.sources)) < len(case.sources):
            raise ConfigError(f"{path}: cases[{i + 1}].sources = {shown(raw, ('cases', i, 'sources'))}: "
                              f"must be a non-empty list of source names, each at most once; registered: "
                              f"{', '.join(map(repr, registry.names(registry.SOURCES)))}")
    wanted: dict[str, tuple[str | int, ...]] = {name: ("sources", name) for name in doc.sources}
    for i, case in enumerate(doc.cases):
        for name in case.sources:
            wanted.setdefault(name, ("cases", i, "sources"))
    plugins = {}
    for name, key in sorted(wanted.items()):
        try:
            cls = registry.source(name)
        except registry.UnknownPlugin as e:
            if key[0] == "sources":  # a section for no registered source
                raise ConfigError(f"{path}: unknown key 'sources.{name}' in sources: no source of that name is "
                                  f"registered; registered: {', '.join(map(repr, e.known))}") from None
            raise _unknown(path, key, raw, e, "source") from None
        settings = _validate(path, raw, cls.Settings, doc.sources.get(name, {}), ("sources", name))
        plugins[name] = cls(settings)
    return plugins


def _identify(path: Path, raw: dict[str, Any], i: int, case: CaseConfig, plugins: dict[str, Source]) -> CaseConfig:
    """The case with its docket number normalized: each of its sources must accept its
    court and docket number, and read the number the same way. A case written without
    `sources` has the default sources that serve it (`serving_sources`)."""
    case = serving_sources(case, plugins)
    numbers: set[str] = set()
    for name in case.sources:
        for field, check in (("court", plugins[name].check_court),
                             ("docket_number", plugins[name].normalize_docket_number)):
            try:
                result = check(getattr(case, field))
            except ValueError as e:
                key = ("cases", i, field)
                raise ConfigError(f"{path}: {key_name(key)} = {shown(raw, key)}: {e}") from None
            if field == "docket_number" and result is not None:  # check_court returns None
                numbers.add(result)
    if len(numbers) > 1:
        key = ("cases", i, "docket_number")
        raise ConfigError(f"{path}: {key_name(key)} = {shown(raw, key)}: the case's sources read it differently "
                          f"({', '.join(sorted(numbers))}); give the case sources that agree")
    _check_case_keys(path, raw, i, case, plugins)
    return case.model_copy(update={"docket_number": numbers.pop()})


def serving_sources(case: CaseConfig, plugins: dict[str, Source]) -> CaseConfig:
    """The case as written or, written without `sources`, with the default sources that
    serve it (a court feed only where its court has one), before their checks: a source
    that does not serve a court need not accept it. A source not in `plugins` is kept."""
    if "sources" in case.model_fields_set:
        return case
    chosen = [n for n in case.sources if n not in plugins or plugins[n].serves_by_default(case)]
    return case.model_copy(update={"sources": chosen})


def _check_case_keys(path: Path, raw: dict[str, Any], i: int, case: CaseConfig, plugins: dict[str, Source]) -> None:
    """Every other key of the case's table is read by one of its sources, and checked by it."""
    keys = case.source_keys
    for name in case.sources:
        model = plugins[name].CaseOptions
        _validate(path, raw, model, {k: keys[k] for k in model.model_fields if k in keys}, ("cases", i))
    read = {k for name in case.sources for k in plugins[name].CaseOptions.model_fields}
    if not set(keys) - read:
        return
    # A key of a source the case does not use (a pin kept after dropping that source) is
    # checked and kept; only then are the other registered sources loaded.
    for name in registry.names(registry.SOURCES):
        model = registry.source(name).CaseOptions
        _validate(path, raw, model, {k: keys[k] for k in model.model_fields if k in keys}, ("cases", i))
        read |= set(model.model_fields)
    for key in sorted(set(keys) - read):
        raise ConfigError(f"{path}: unknown key 'cases[{i + 1}].{key}' in cases[{i + 1}]: no source reads it; "
                          "check its spelling")


def _check_unique(path: Path, raw: dict[str, Any], cases: list[CaseConfig]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for i, case in enumerate(cases):
        ident = (case.court, case.docket_number)
        if ident in seen:
            first = seen[ident]
            raise ConfigError(
                f"{path}: cases[{i + 1}] ({shown(raw, ('cases', i, 'name'))}) is the same docket as "
                f"cases[{first + 1}] ({shown(raw, ('cases', first, 'name'))}): court "
                f"{shown(raw, ('cases', i, 'court'))}, docket number {shown(raw, ('cases', i, 'docket_number'))}; "
                "keep one"
            )
        seen[ident] = i


def _check_intervals(path: Path, raw: dict[str, Any], doc: Document, plugins: dict[str, Source]) -> None:
    """No server outside this machine is polled more often than MIN_POLL_INTERVAL.

    Servers on this machine (tests, local mirrors) may be polled as often as every second.
    """
    for i, case in enumerate(doc.cases):
        interval = case.poll_interval if case.poll_interval is not None else doc.schedule.interval
        if interval >= MIN_POLL_INTERVAL:
            continue
        urls = [url for name in case.sources for url in plugins[name].servers(case)]
        if urls and all(is_local(url) for url in urls):
            continue
        loc = ("cases", i, "poll_interval") if case.poll_interval is not None else ("schedule", "interval")
        raise ConfigError(
            f"{path}: {key_name(loc)} = {shown(raw, loc)}: must be at least "
            f"{MIN_POLL_INTERVAL.total_seconds():g}s (public servers are polled at most once a minute); "
            "write it like 90s, 30m or 1h"
        )


def _check_digests(path: Path, raw: dict[str, Any], config: Config) -> DigestConfig | None:
    """Each `[[digests]]` table: a registered channel, its keys checked by the channel,
    cases that exist, a unique name; then [smtp] and the templates folder. Fills in each
    subscription's channel settings and recipients; returns the operator's alerts'
    subscription, if there is one."""
    names: set[str] = set()
    for i, d in enumerate(config.digests):
        key = f"digests[{i + 1}]"
        name = shown(raw, ("digests", i, "name"))
        if d.name in names:
            raise ConfigError(
                f"{path}: {key}.name = {name}: another [[digests]] has this name; names must be unique")
        names.add(d.name)
        if d.renamed_from in {other.name for other in config.digests}:
            raise ConfigError(
                f"{path}: {key}.renamed_from = {shown(raw, ('digests', i, 'renamed_from'))}: a [[digests]] of "
                "that name is still configured; remove the key, or rename that subscription")
        _subscribe(path, raw, config, d, ("digests", i), f"{key} ({name})")
        for subject in [d.subject] if d.subject is not None else []:
            from docketwatch.pipeline.render import check_subject  # Jinja2, only for a subject template

            try:
                check_subject(subject)
            except ValueError as e:
                raise ConfigError(f"{path}: {key}.subject = {shown(raw, ('digests', i, 'subject'))}: {e}") from None
        missing = [j for j, c in enumerate(d.cases)
                   if c != "*" and not any(config.case_matches(case, c) for case in config.cases)]
        if missing:
            raise ConfigError(
                f"{path}: {key}.cases = {shown(raw, ('digests', i, 'cases'))}: no configured case matches "
                f"{', '.join(shown(raw, ('digests', i, 'cases', j)) for j in missing)}; "
                "`docketwatch cases` lists them"
            )
    if config.smtp and config.smtp.password is not None and not config.smtp.username:
        raise ConfigError(f"{path}: smtp.password is set but smtp.username is not; set both or neither")
    if config.templates_dir is not None and not (path.parent / config.templates_dir.expanduser()).is_dir():
        raise ConfigError(f"{path}: templates_dir = {shown(raw, ('templates_dir',))}: no such folder")
    if config.admin.to and config.smtp is None:
        raise ConfigError(f"{path}: admin.to is set but there is no [smtp] table to mail its alerts by; "
                          "add an [smtp] table (README: Digests) or remove admin.to")
    if config.admin.to:
        # No event kinds: it carries only the alerts health.py stores for it.
        admin = DigestConfig(name=ADMIN_SUBSCRIPTION, channel=ADMIN_CHANNEL, to=config.admin.to, events=[])
        _subscribe(path, raw, config, admin, ("admin",), "[admin]")
        return admin
    return None


def _subscribe(path: Path, raw: dict[str, Any], config: Config, d: DigestConfig, loc: tuple[str | int, ...],
               label: str) -> None:
    """The channel of `d` checks its keys and names the recipients."""
    try:
        channel = registry.notifier(d.channel)
    except registry.UnknownPlugin as e:
        raise _unknown(path, (*loc, "channel"), raw, e, "channel") from None
    settings = _validate(path, raw, channel.Settings, d.channel_keys, loc)
    if problem := channel.check(config, settings):
        raise ConfigError(f"{path}: {label}: {problem}")
    config.channel_settings[d.name] = settings
    config.recipients[d.name] = channel.recipients(settings)
