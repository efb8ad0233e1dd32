"""Configuration: one TOML file, checked before anything runs.

The file is found via `--config PATH`, else `$DOCKETWATCH_CONFIG`, else the bundled
AI-copyright watchlist. `${NAME}` in any string value is read from the environment,
so secrets (tokens, SMTP passwords) never have to be written into the file.

Every problem is reported as a ConfigError: one line naming the file, the key and the
value as written (a `${NAME}` reference, never the secret it stands for).
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import string
import tomllib
from datetime import timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError,
                      field_validator)

from docketwatch import docket_numbers, redact

BUNDLED_CONFIG = "ai-copyright.toml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
EventKind = Literal["new", "changed", "case", "gap", "error"]


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and what to do."""


@cache
def court_ids() -> dict[str, str]:
    """CourtListener court ids and names, from the list shipped with the package."""
    text = resources.files("docketwatch.data").joinpath("courts.json").read_text(encoding="utf-8")
    return {c["value"]: c["display_name"] for c in json.loads(text)}


def default_database_url() -> str:
    """An SQLite file in the user's data directory (created on first use)."""
    return f"sqlite:///{Path(platformdirs.user_data_dir('docketwatch')) / 'docketwatch.db'}"


class _Section(BaseModel):
    # inf and nan pass `gt=0`-style bounds; no setting means either.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _http_url(value: str) -> str:
    """An http(s) URL with a host, or ValueError."""
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("must be an http:// or https:// URL, like https://www.courtlistener.com")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


def _court_template(value: str) -> str:
    """A URL template whose only placeholder is {court}; checked by filling in a sample court."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(value)
                  if name is not None]
    except ValueError:
        fields = None
    if not fields or any(f != ("court", "", None) for f in fields):
        raise ValueError("must be a URL with {court} where the court id goes, and no other {placeholder} "
                         "(write {{ or }} for a literal brace)")
    _http_url(value.format(court="cand"))
    return value


CourtTemplate = Annotated[str, AfterValidator(_court_template)]

# Addresses are one per list item: no spaces, commas, angle brackets or line breaks.
_EMAIL = re.compile(r"[^@\s<>,;:()\[\]\"]+@[^@\s<>,;:()\[\]\"]+")


def _email(value: str) -> str:
    if not (_EMAIL.fullmatch(value) and value.isprintable()):
        raise ValueError("is not an email address (one address per list item, like ann@example.org)")
    return value


EmailAddress = Annotated[str, AfterValidator(_email)]


class DatabaseConfig(_Section):
    url: str = Field(default_factory=default_database_url)


class CourtListenerConfig(_Section):
    base_url: HttpUrl = "https://www.courtlistener.com"
    token: str | None = None
    daily_request_budget: int = Field(default=125, ge=0, le=10_000_000)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")


class HttpConfig(_Section):
    # Seconds per attempt in all: connecting, the headers and the whole body.
    timeout: float = Field(default=60.0, gt=0, le=3600)
    # A larger response is an error, whatever its Content-Length says.
    max_response_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=1024**3)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: float = Field(default=1.0, ge=0, le=600)
    # A 429 asking for a longer wait fails the poll and is remembered instead.
    max_throttle_wait: float = Field(default=30.0, ge=0, le=3600)


APPELLATE_COURTS = frozenset({f"ca{n}" for n in range(1, 12)} | {"cadc", "cafc"})


class PacerRssConfig(_Section):
    """Court RSS feeds. `courts` maps a court id to its feed URL where it differs."""

    url_template: CourtTemplate = "https://ecf.{court}.uscourts.gov/cgi-bin/rss_outside.pl"
    appellate_url_template: CourtTemplate = (
        "https://ecf.{court}.uscourts.gov/n/beam/servlet/TransportRoom?servlet=RSSGenerator")
    courts: dict[str, HttpUrl] = {"nyed": "https://ecf.nyed.uscourts.gov/cgi-bin/readyDockets.pl"}
    # How far back a feed reaches; a longer outage means items may have been missed.
    window_hours: float = Field(default=24.0, gt=0, le=24 * 365)

    @field_validator("courts")
    @classmethod
    def _known_courts(cls, v: dict[str, str]) -> dict[str, str]:
        if unknown := [c for c in v if c not in court_ids()]:
            raise ValueError(f"{', '.join(map(repr, unknown))} is not a CourtListener court id (examples: cand, nysd)")
        return v

    def feed_url(self, court: str) -> str:
        if court in self.courts:
            return self.courts[court]
        template = self.appellate_url_template if court in APPELLATE_COURTS else self.url_template
        return template.format(court=court)


class SourcesConfig(_Section):
    courtlistener: CourtListenerConfig = CourtListenerConfig()
    pacer_rss: PacerRssConfig = PacerRssConfig()


class CaseConfig(_Section):
    name: str = Field(min_length=1)
    court: str
    docket_number: str
    # CourtListener's docket ids are far below 2**31, the database column's limit.
    courtlistener_id: int | None = Field(default=None, gt=0, lt=2**31)
    sources: list[str] = ["courtlistener"]
    poll_interval: PollInterval | None = None  # default: [schedule] interval

    @field_validator("name")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if not v.isprintable():  # it goes into mail headers (Subject) and one-line logs
            raise ValueError("must be one line of text, without line breaks or control characters")
        return v

    @field_validator("court")
    @classmethod
    def _known_court(cls, v: str) -> str:
        if v not in court_ids():
            raise ValueError(
                "is not a CourtListener court id (examples: cand, nysd, ca9; "
                "see docketwatch/data/courts.json)"
            )
        return v

    @field_validator("docket_number")
    @classmethod
    def _docket_number(cls, v: str) -> str:
        try:
            return docket_numbers.normalize(v)
        except docket_numbers.DocketNumberError:
            # The library's message quotes the value; _describe shows it as written.
            raise ValueError("is not a docket number docketwatch understands; write it like 3:23-cv-03417 "
                             "(district), 25-2153 (appellate) or MDL No. 3143") from None

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, v: list[str]) -> list[str]:
        from docketwatch.sources import REGISTRY  # sources import config: resolve late

        if not v or any(s not in REGISTRY for s in v) or len(set(v)) < len(v):
            raise ValueError(f"must be a non-empty list of {', '.join(map(repr, REGISTRY))}, each at most once")
        return v

    @property
    def label(self) -> str:
        return f"{self.name} ({self.court} {self.docket_number})"

    def matches(self, fragment: str) -> bool:
        """CASE on the command line: a fragment of the name, or the docket number."""
        if fragment.lower() in self.name.lower():
            return True
        return docket_numbers.try_normalize(fragment) == self.docket_number


class DigestConfig(_Section):
    """A subscription: which events of which cases go where, and when."""

    name: str = Field(min_length=1)
    channel: str
    to: list[EmailAddress] = []
    dir: Path | None = None
    cases: list[str] = ["*"]
    events: list[EventKind] = ["new", "changed", "case", "gap"]
    include: list[str] = []
    exclude: list[str] = []
    schedule: str = "immediate"
    subject: str | None = None
    # A new subscription gets the events from when it is first seen, plus this many days before.
    backfill_days: int = Field(default=0, ge=0, le=3650)

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, v: str) -> str:
        from docketwatch.notifiers import REGISTRY  # notifiers import config: resolve late

        if v not in REGISTRY:
            raise ValueError(f"must be one of {', '.join(map(repr, REGISTRY))}")
        return v

    @property
    def recipients(self) -> list[str]:
        """Where each delivery of a digest goes: an address each, or the one folder."""
        return list(self.to) if self.channel == "email" else [str(self.dir)]

    @field_validator("cases", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        from docketwatch.digests import parse_schedule  # digests import config: resolve late

        parse_schedule(v)
        return v

    @field_validator("subject")
    @classmethod
    def _subject_template(cls, v: str | None) -> str | None:
        from docketwatch.render import check_subject  # render imports config: resolve late

        if v is not None:
            check_subject(v)
        return v


class SmtpConfig(_Section):
    """The mail server digests go through. The password comes from the environment."""

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, gt=0, lt=65536)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: EmailAddress = Field(alias="from")
    timeout: float = Field(default=30.0, gt=0, le=600)

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


class OutboxConfig(_Section):
    """How often a digest that could not be delivered is tried again, and how long to wait."""

    max_attempts: int = Field(default=5, ge=1, le=100)
    # Seconds before the second attempt; each further wait doubles.
    retry_backoff: float = Field(default=300.0, ge=0, le=86400)


MAX_DURATION = timedelta(days=365)
# Public servers (the courts', CourtListener's) are polled at most once a minute.
MIN_POLL_INTERVAL = timedelta(seconds=60)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: Any) -> timedelta:
    """'90s', '30m', '2h', '1d' (or plain seconds) as a timedelta, from 0 to 365 days."""
    if isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", value)):
        seconds = float(m[1]) * _UNITS[m[2]]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ValueError("is not a duration; write it like 90s, 30m, 2h or 1d")
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_DURATION.total_seconds()):
        raise ValueError("must be between 0s and 365d")
    return timedelta(seconds=seconds)


def _at_least(minimum: timedelta) -> AfterValidator:
    def check(value: timedelta) -> timedelta:
        if value < minimum:
            raise ValueError(f"must be at least {minimum.total_seconds():g}s")
        return value

    return AfterValidator(check)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
# The 60 s floor for public servers needs the case's URLs: checked in _check_intervals.
PollInterval = Annotated[timedelta, BeforeValidator(_duration), _at_least(timedelta(seconds=1))]


class ScheduleConfig(_Section):
    """`docketwatch run`: how often jobs run. The CourtListener API budget is shared out
    by `docketwatch plan`; free feeds are read every `interval`."""

    interval: PollInterval = timedelta(hours=1)
    jitter: Duration = timedelta(seconds=60)
    # APScheduler skips a job that starts later than this; 0 would skip every one.
    misfire_grace: Annotated[Duration, _at_least(timedelta(seconds=1))] = timedelta(minutes=10)
    # A case with a filing in the last active_days gets a bigger share of the API budget.
    active_days: int = Field(default=30, ge=1, le=3650)


class AdminConfig(_Section):
    """Who hears about a source that keeps failing (email, through [smtp])."""

    to: list[EmailAddress] = []
    failures_before_alert: int = Field(default=3, ge=1, le=1000)


class RetentionConfig(_Section):
    """How long history is kept (`docketwatch prune`, and daily inside `run`); entries are kept for ever."""

    # Strict: `days = true` must not mean one day.
    days: int = Field(default=180, ge=1, le=36500, strict=True)


class _Document(_Section):
    database: DatabaseConfig = DatabaseConfig()
    http: HttpConfig = HttpConfig()
    sources: SourcesConfig = SourcesConfig()
    cases: list[CaseConfig] = []
    digests: list[DigestConfig] = []
    smtp: SmtpConfig | None = None
    outbox: OutboxConfig = OutboxConfig()
    timezone: str = "UTC"
    templates_dir: Path | None = None
    schedule: ScheduleConfig = ScheduleConfig()
    admin: AdminConfig = AdminConfig()
    retention: RetentionConfig = RetentionConfig()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone (examples: UTC, America/Los_Angeles)") from None
        return v


class Config(_Document):
    """A checked configuration and the file it came from."""

    path: Path

    def select(self, fragments: tuple[str, ...] | list[str]) -> list[CaseConfig]:
        """The cases matching any fragment (all cases when none given)."""
        if not fragments:
            return list(self.cases)
        chosen = [c for c in self.cases if any(c.matches(f) for f in fragments)]
        missing = [f for f in fragments if not any(c.matches(f) for c in self.cases)]
        if missing:
            raise ConfigError(
                f"{self.path}: no configured case matches {', '.join(map(repr, missing))}; "
                "`docketwatch cases` lists them"
            )
        return chosen

    def resolve(self, path: Path) -> Path:
        """A path from the file, relative to the file's folder (absolute paths stay)."""
        return self.path.parent / path.expanduser()

    def subscriptions(self, name: str | None = None) -> list[DigestConfig]:
        """The `[[digests]]` named `name` (all when None)."""
        chosen = [d for d in self.digests if name is None or d.name == name]
        if not self.digests:
            raise ConfigError(f"{self.path}: no [[digests]] is configured; add one to send digests")
        if not chosen:
            known = ", ".join(repr(d.name) for d in self.digests)
            raise ConfigError(f"{self.path}: no [[digests]] named {name!r}; configured: {known}")
        return chosen

    def subscribed_cases(self, digest: DigestConfig) -> list[CaseConfig]:
        """The configured cases a subscription covers ("*": all of them)."""
        return self.select([] if "*" in digest.cases else digest.cases)


def resolve_path(option: str | None) -> Path:
    """--config, else $DOCKETWATCH_CONFIG, else the bundled watchlist."""
    if option:
        return Path(option)
    if env := os.environ.get("DOCKETWATCH_CONFIG"):
        return Path(env)
    return Path(str(resources.files("docketwatch.defaults").joinpath(BUNDLED_CONFIG)))


def load(path: Path) -> Config:
    """Read, substitute ${NAME} and check the file; raise ConfigError on any problem.

    Messages quote values as written in the file: a `${NAME}` reference, never the
    value the environment gave it.
    """
    raw = _read(path)
    _check_secret_refs(path, raw)
    try:
        doc = _Document.model_validate(_substitute(raw, path, ()))
    except ValidationError as e:
        raise ConfigError(f"{path}: " + "; ".join(_describe(raw, err) for err in e.errors())) from None
    _check_unique(path, raw, doc.cases)
    _check_digests(path, raw, doc)
    _check_intervals(path, raw, doc)
    return Config.model_construct(path=path, **dict(doc))


def _read(path: Path) -> dict:
    """The file's TOML document; ConfigError (naming the file) when it cannot be had."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such configuration file; check the path (--config or $DOCKETWATCH_CONFIG)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; give the path of the configuration file (a .toml file)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e.strerror}); check the path and its permissions") from None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as e:
        line = content[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line} is not UTF-8 text; save the file as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def _substitute(value: Any, path: Path, key: tuple) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, path, (*key, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, path, (*key, i)) for i, v in enumerate(value)]
    if isinstance(value, str):
        def lookup(m: re.Match) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise ConfigError(
                    f"{path}: {_key_name(key)} = {value!r}: environment variable {name} is not set; "
                    f"export {name}=... or remove the reference"
                )
            if _is_secret(key):
                redact.register(os.environ[name])
            return os.environ[name]

        substituted = _ENV_REF.sub(lookup, value)
        if key == ("database", "url") and substituted != value:
            redact.register(_url_password(substituted))
        return substituted
    return value


_SECRET_KEY = re.compile(r"token|password|secret", re.IGNORECASE)


def _is_secret(key: tuple) -> bool:
    """A value under a key like `token`, `password` or `secret` is never shown."""
    return bool(key) and isinstance(key[-1], str) and bool(_SECRET_KEY.search(key[-1]))


def _url_password(url: str) -> str | None:
    """The password in `scheme://user:password@host/...`, for redaction."""
    userinfo = url.partition("://")[2].rpartition("@")[0]
    return userinfo.partition(":")[2] or None


def _key_name(loc: tuple) -> str:
    """('cases', 2, 'court') -> 'cases[2].court' (counting from 1, as people do)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _shown(raw: dict, loc: tuple) -> str:
    """The value at `loc` as written in the file (a ${NAME} reference stays one)."""
    value: Any = raw
    for part in loc:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return "?"
    if isinstance(value, str) and _ENV_REF.search(value):
        return value
    return repr(value)


def _describe(raw: dict, err: dict) -> str:
    """One pydantic error as `key = value: what is wrong`, the value as written."""
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        parent = _key_name(loc[:-1]) or "the top level"
        return f"unknown key {_key_name(loc)!r} in {parent}; check its spelling"
    if err["type"] == "missing":
        return f"{_key_name(loc)} is required"
    message = err["msg"].removeprefix("Value error, ")
    return f"{_key_name(loc)} = {_shown(raw, loc)}: {message}"


def _check_unique(path: Path, raw: dict, cases: list[CaseConfig]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for i, case in enumerate(cases):
        ident = (case.court, case.docket_number)
        if ident in seen:
            first = seen[ident]
            raise ConfigError(
                f"{path}: cases[{i + 1}] ({_shown(raw, ('cases', i, 'name'))}) is the same docket as "
                f"cases[{first + 1}] ({_shown(raw, ('cases', first, 'name'))}): court "
                f"{_shown(raw, ('cases', i, 'court'))}, docket number {_shown(raw, ('cases', i, 'docket_number'))}; "
                "keep one"
            )
        seen[ident] = i


def _check_secret_refs(path: Path, raw: dict) -> None:
    """The SMTP password must be a ${NAME} reference, never the password itself.

    Checked before substitution, and the message never repeats the value.
    """
    smtp = raw.get("smtp")
    password = smtp.get("password") if isinstance(smtp, dict) else None
    if password is not None and not (isinstance(password, str) and _ENV_REF.fullmatch(password)):
        raise ConfigError(
            f"{path}: smtp.password must name an environment variable, like \"${{SMTP_PASSWORD}}\"; "
            "do not write the password into the file"
        )


def _check_digests(path: Path, raw: dict, doc: _Document) -> None:
    """What one `[[digests]]` table cannot check alone: channel settings, case references,
    unique names, the [smtp] section and the templates folder."""
    names: set[str] = set()
    for i, d in enumerate(doc.digests):
        key = f"digests[{i + 1}]"
        shown = _shown(raw, ("digests", i, "name"))
        if d.name in names:
            raise ConfigError(
                f"{path}: {key}.name = {shown}: another [[digests]] has this name; names must be unique")
        names.add(d.name)
        if d.channel == "email" and (not d.to or d.dir is not None):
            raise ConfigError(
                f"{path}: {key} ({shown}): channel \"email\" needs `to` (a list of addresses) and no `dir`")
        if d.channel == "markdown" and (d.dir is None or d.to):
            raise ConfigError(f"{path}: {key} ({shown}): channel \"markdown\" needs `dir` (a folder) and no `to`")
        if d.channel == "email" and doc.smtp is None:
            raise ConfigError(f"{path}: {key} ({shown}) sends email, but there is no [smtp] section")
        missing = [j for j, c in enumerate(d.cases) if c != "*" and not any(case.matches(c) for case in doc.cases)]
        if missing:
            raise ConfigError(
                f"{path}: {key}.cases = {_shown(raw, ('digests', i, 'cases'))}: no configured case matches "
                f"{', '.join(_shown(raw, ('digests', i, 'cases', j)) for j in missing)}; "
                "`docketwatch cases` lists them"
            )
    if doc.smtp and doc.smtp.password is not None and not doc.smtp.username:
        raise ConfigError(f"{path}: smtp.password is set but smtp.username is not; set both or neither")
    if doc.templates_dir is not None and not (path.parent / doc.templates_dir.expanduser()).is_dir():
        raise ConfigError(f"{path}: templates_dir = {_shown(raw, ('templates_dir',))}: no such folder")


def _check_intervals(path: Path, raw: dict, doc: _Document) -> None:
    """No server outside this machine is polled more often than MIN_POLL_INTERVAL.

    Servers on this machine (tests, local mirrors) may be polled as often as every second.
    """
    for i, case in enumerate(doc.cases):
        interval = case.poll_interval if case.poll_interval is not None else doc.schedule.interval
        if interval >= MIN_POLL_INTERVAL:
            continue
        urls = []
        if "courtlistener" in case.sources:
            urls.append(doc.sources.courtlistener.base_url)
        if "pacer_rss" in case.sources:
            urls.append(doc.sources.pacer_rss.feed_url(case.court))
        if all(_is_local(url) for url in urls):
            continue
        loc = ("cases", i, "poll_interval") if case.poll_interval is not None else ("schedule", "interval")
        raise ConfigError(
            f"{path}: {_key_name(loc)} = {_shown(raw, loc)}: must be at least "
            f"{MIN_POLL_INTERVAL.total_seconds():g}s (public court and CourtListener servers are polled "
            "at most once a minute); write it like 90s, 30m or 1h"
        )


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
