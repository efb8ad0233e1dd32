"""Settings: the TOML file checked by pydantic, core sections only.

The bottom layer: it names no source or channel. A plug-in's part of the file (a
`[sources.NAME]` section, a `[[digests]]` table's channel keys) is kept raw here and
checked by the plug-in's own model in `bootstrap.load` (the bootstrap), which also resolves
source and channel names against the registry.

`${NAME}` in any string value is read from the environment, so secrets (tokens, SMTP
passwords) never have to be written into the file. Every problem is a ConfigError: one
line naming the file, the key and the value as written (a `${NAME}` reference, never the
secret it stands for).
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from datetime import timedelta
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from docketwatch import redact
from docketwatch.domain import docket_numbers
from docketwatch.domain.courts import court_ids
from docketwatch.domain.events import EventKind
from docketwatch.domain.schedule import Schedule, parse_schedule

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Documented defaults (README): a case written without `sources = [...]` is polled by
# those of these sources that serve it by default (`Source.serves_by_default`: court
# feeds where they are complete or add something), and the operator's alerts
# (`[admin] to`) go out through this channel.
DEFAULT_SOURCES = ("courtlistener", "pacer_rss")
ADMIN_CHANNEL = "email"
ADMIN_SUBSCRIPTION = "docketwatch-admin"


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and what to do."""


class Section(BaseModel):
    """A table of the file: unknown keys are errors; inf and nan pass `gt=0`-style bounds,
    and no setting means either."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_truth_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """`retries = true` is a slip, not 1 (which pydantic would read it as)."""
        if isinstance(value, bool) and info.field_name is not None \
                and _is_number(cls.model_fields[info.field_name].annotation):
            raise ValueError("must be a number, not true or false")
        return value


def _is_number(annotation: Any) -> bool:
    """Whether a field holds an int or a float (perhaps None)."""
    if annotation in (int, float):
        return True
    return get_origin(annotation) in (Union, UnionType, Annotated) and any(map(_is_number, get_args(annotation)))


def check_http_url(value: str) -> str:
    """An http(s) URL with a host, or ValueError."""
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("must be an http:// or https:// URL, like https://example.org")
    return value


HttpUrl = Annotated[str, AfterValidator(check_http_url)]

# Addresses are one per list item: no spaces, commas, angle brackets or line breaks.
_EMAIL = re.compile(r"[^@\s<>,;:()\[\]\"]+@[^@\s<>,;:()\[\]\"]+")


def _email(value: str) -> str:
    if not (_EMAIL.fullmatch(value) and value.isprintable()):
        raise ValueError("is not an email address (one address per list item, like ann@example.org)")
    return value


EmailAddress = Annotated[str, AfterValidator(_email)]


def _one_line(value: str) -> str:
    if not value.isprintable():  # it goes into mail headers and one-line logs
        raise ValueError("must be one line of text, without line breaks or control characters")
    return value


OneLine = Annotated[str, AfterValidator(_one_line)]


def default_database_url() -> str:
    """An SQLite file in the user's data directory (created on first use)."""
    import platformdirs  # only when no [database] url is given

    return f"sqlite:///{Path(platformdirs.user_data_dir('docketwatch')) / 'docketwatch.db'}"


class DatabaseConfig(Section):
    url: str = Field(default_factory=default_database_url)


class HttpConfig(Section):
    # Seconds per attempt in all: connecting, the headers and the whole body.
    timeout: float = Field(default=60.0, gt=0, le=3600)
    # A larger response is an error, whatever its Content-Length says.
    max_response_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=1024**3)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: float = Field(default=1.0, ge=0, le=600)
    # A 429 asking for a longer wait fails the poll and is remembered instead.
    max_throttle_wait: float = Field(default=30.0, ge=0, le=3600)
    # Requests in flight to one host at once (a source polls its cases concurrently).
    max_per_host: int = Field(default=4, ge=1, le=32)


MAX_DURATION = timedelta(days=365)
# Public servers are polled at most once a minute.
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
# The 60 s floor for public servers needs the sources' servers: checked by the bootstrap.
PollInterval = Annotated[timedelta, BeforeValidator(_duration), _at_least(timedelta(seconds=1))]


class CaseConfig(Section):
    """A watched case. Its court and docket number are checked and the number normalized
    by its sources (their case-identity rules) in the bootstrap. Other keys belong to its
    sources (`courtlistener_id`, say), are kept raw here and checked by each source's
    `CaseOptions` in the bootstrap."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    name: OneLine = Field(min_length=1)
    court: str = Field(min_length=1)
    docket_number: str = Field(min_length=1)
    sources: list[str] = list(DEFAULT_SOURCES)
    poll_interval: PollInterval | None = None  # default: [schedule] interval
    # `docketwatch pause CASE`: kept in the file and the database, but not polled.
    paused: bool = Field(default=False, strict=True)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.court} {self.docket_number})"

    @property
    def source_keys(self) -> dict[str, Any]:
        """The keys of the case's table that its sources read."""
        return dict(self.model_extra or {})


def _schedule(value: Any) -> Any:
    return parse_schedule(value) if isinstance(value, str) else value


class DigestConfig(Section):
    """A subscription: which events of which cases go where, and when. The channel's own
    keys (`to`, `dir`, ...) are kept raw here and checked by the channel's model."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    name: str = Field(min_length=1)
    channel: str
    cases: list[str] = ["*"]
    events: list[EventKind] = [EventKind.NEW, EventKind.CHANGED, EventKind.CASE, EventKind.GAP, EventKind.LINKED,
                               EventKind.NEW_CASE]
    include: list[str] = []
    exclude: list[str] = []
    schedule: Annotated[Schedule, BeforeValidator(_schedule)] = Schedule("immediate")
    subject: str | None = None
    # A new subscription gets the events from when it is first seen, plus this many days before.
    backfill_days: int = Field(default=0, ge=0, le=3650)
    # The name this subscription had before: its start, cases and digests (what it was
    # sent, what it still owes) carry over to this name.
    renamed_from: str | None = Field(default=None, min_length=1)

    @field_validator("cases", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @property
    def channel_keys(self) -> dict[str, Any]:
        """The keys of the table that belong to its channel."""
        return dict(self.model_extra or {})


class SmtpConfig(Section):
    """The mail server email goes through. The password comes from the environment."""

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, gt=0, lt=65536)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: EmailAddress = Field(alias="from")
    # The display name in From: what a mail client lists as the sender.
    from_name: OneLine = Field(default="docketwatch", min_length=1)
    timeout: float = Field(default=30.0, gt=0, le=600)

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


class OutboxConfig(Section):
    """How often a digest that could not be delivered is tried again, and how long to wait."""

    max_attempts: int = Field(default=5, ge=1, le=100)
    # Seconds before the second attempt; each further wait doubles.
    retry_backoff: float = Field(default=300.0, ge=0, le=86400)


class ScheduleConfig(Section):
    """`docketwatch run`: how often jobs run. Metered APIs are shared out by `docketwatch
    plan`; free feeds are read every `interval`."""

    interval: PollInterval = timedelta(hours=1)
    jitter: Duration = timedelta(seconds=60)
    # APScheduler skips a job that starts later than this; 0 would skip every one.
    misfire_grace: Annotated[Duration, _at_least(timedelta(seconds=1))] = timedelta(minutes=10)
    # A case with a filing in the last active_days gets a bigger share of an API budget.
    active_days: int = Field(default=30, ge=1, le=3650)
    # How often `run` looks at the file for edits (`docketwatch add`, a followed docket).
    reload_check: Annotated[Duration, _at_least(timedelta(seconds=1))] = timedelta(seconds=30)


class AdminConfig(Section):
    """Who hears about a source that keeps failing (email, through [smtp])."""

    to: list[EmailAddress] = []
    failures_before_alert: int = Field(default=3, ge=1, le=1000)


class RetentionConfig(Section):
    """How long history is kept (`docketwatch prune`, and daily inside `run`); entries are kept for ever."""

    days: int = Field(default=180, ge=1, le=36500)
    # Check runs: a row per case and poll (1.4 million a day at 10,000 cases on 10-minute
    # court feeds), read only as each case's latest (retention.py keeps those at any age).
    check_run_days: int = Field(default=7, ge=1, le=36500)


class DiscoverRule(Section):
    """`[[discover]]`: find cases no one watches yet in the court feeds polled anyway.

    `parties` match the case's name (the parties, as the feed's item title gives it),
    `phrases` the filing's text; both whole words, letter case ignored. `courts` and
    `case_types` (the docket number's type: cv, cr, md, ...) narrow it down. Nature of
    suit is not in PACER feeds, so no rule can ask for it. `watch = true` adds each case
    found to the watchlist, as `docketwatch add --suggestion ID` would.
    """

    name: str = Field(min_length=1)
    parties: list[Annotated[str, Field(min_length=2)]] = []
    phrases: list[Annotated[str, Field(min_length=2)]] = []
    courts: list[str] = []
    case_types: list[Annotated[str, Field(pattern=r"^[a-z]{1,4}$")]] = []
    watch: bool = False

    @field_validator("courts")
    @classmethod
    def _court_ids(cls, v: list[str]) -> list[str]:
        if bad := [c for c in v if c not in court_ids()]:
            raise ValueError(f"{', '.join(map(repr, bad))} is not a CourtListener court id (examples: cand, nysd)")
        return v

    @model_validator(mode="after")
    def _something_to_match(self) -> DiscoverRule:
        if not (self.parties or self.phrases):
            raise ValueError("give parties or phrases to match")
        return self


class Document(Section):
    """The whole file as pydantic checks it; `sources` holds each plug-in's raw section."""

    database: DatabaseConfig = DatabaseConfig()
    http: HttpConfig = HttpConfig()
    sources: dict[str, dict[str, Any]] = {}
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
    # What to do with a docket a watched case's text links to (an appeal, a transfer, an
    # MDL): "ask" announces it with a suggestion (`docketwatch add --suggestion ID`), "auto" also
    # adds it to the watchlist, "off" ignores links.
    follow: Literal["ask", "auto", "off"] = "ask"
    discover: list[DiscoverRule] = []

    @field_validator("discover")
    @classmethod
    def _unique_rules(cls, v: list[DiscoverRule]) -> list[DiscoverRule]:
        names = [rule.name for rule in v]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"two [[discover]] rules are named {dupes[0]!r}; names must be unique")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone (examples: UTC, America/Los_Angeles)") from None
        return v


class Config(Document):
    """A checked configuration (built by `bootstrap.load`): the file's settings, where it came
    from, each used source's settings (its own model) and each subscription's channel
    settings and recipients."""

    path: Path
    source_plugins: dict[str, Any] = {}  # name -> the Source, holding its settings
    channel_settings: dict[str, Any] = {}  # subscription name -> the channel's settings
    recipients: dict[str, list[str]] = {}  # subscription name -> where each delivery goes
    admin_subscription: DigestConfig | None = None

    def select(self, fragments: tuple[str, ...] | list[str]) -> list[CaseConfig]:
        """The cases matching any fragment (all cases when none given)."""
        if not fragments:
            return list(self.cases)
        chosen = [c for c in self.cases if any(self.case_matches(c, f) for f in fragments)]
        missing = [f for f in fragments if not any(self.case_matches(c, f) for c in self.cases)]
        if missing:
            raise ConfigError(
                f"{self.path}: no configured case matches {', '.join(map(repr, missing))}; "
                "`docketwatch cases` lists them"
            )
        return chosen

    def pinned_ids(self, case: CaseConfig) -> dict[str, str]:
        """Source -> the docket's id there, for each source whose key in the case's table pins one."""
        return {name: pinned for name in case.sources
                if (pinned := self.source_plugins[name].pinned_id(case)) is not None}

    def case_matches(self, case: CaseConfig, fragment: str) -> bool:
        """CASE on the command line: a fragment of the name, or the docket number (as one
        of the case's sources reads it, or as people write it: `23-cv-3417` in its court),
        after the court's id or not (`cand 3:23-cv-03417`, as `status` shows it). A blank
        one matches none (it is in every name: `remove "$CASE"` with CASE unset)."""
        if not fragment.strip():
            return False
        if fragment.lower() in case.name.lower():
            return True
        court, _, rest = fragment.strip().partition(" ")
        if rest.strip() and court.lower() == case.court:
            fragment = rest.strip()
        try:
            if docket_numbers.written(fragment).fits(case.docket_number):
                return True
        except docket_numbers.DocketNumberError:
            pass
        for name in case.sources:
            try:
                if self.source_plugins[name].normalize_docket_number(fragment) == case.docket_number:
                    return True
            except ValueError:
                continue
        return False

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

    def poll_interval(self, case: CaseConfig) -> timedelta:
        """The case's own poll_interval when set, else [schedule] interval."""
        return case.poll_interval if case.poll_interval is not None else self.schedule.interval


# -- reading the file ----------------------------------------------------------------


def read(path: Path) -> dict[str, Any]:
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
    if content.startswith(b"\xef\xbb\xbf"):  # TOML parsers stop at it: say what it is
        raise ConfigError(f"{path}: starts with a byte-order mark (saved as \"UTF-8 with BOM\"); save it as "
                          "UTF-8 without BOM")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as e:
        line = content[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line} is not UTF-8 text; save the file as UTF-8") from None
    try:
        return tomli.loads(text)  # tomllib's parser, compiled (mypyc): 3-4x faster on a 10,000-case file
    except (tomli.TOMLDecodeError, RecursionError) as e:  # the latter: arrays nested hundreds deep
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def check_secret_refs(path: Path, raw: Any, key: tuple[str | int, ...] = ()) -> None:
    """Every secret (a value under a key like `token`, `password` or `secret`: the SMTP
    password, a CourtListener token, a webhook secret) must be a ${NAME} reference, never
    the secret itself: a file is copied, shared and committed; the environment is not.

    Checked before substitution, and the message never repeats the value.
    """
    if isinstance(raw, dict):
        for name, value in raw.items():
            check_secret_refs(path, value, (*key, name))
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            check_secret_refs(path, value, (*key, i))
    elif _is_secret(key) and not (isinstance(raw, str) and _ENV_REF.fullmatch(raw)):
        variable = "_".join(str(k).upper() for k in key if isinstance(k, str))
        raise ConfigError(
            f"{path}: {key_name(key)} must name an environment variable, like \"${{{variable}}}\"; "
            "do not write the secret itself into the file"
        )


def substitute(value: Any, path: Path, key: tuple[str | int, ...] = ()) -> Any:
    """`${NAME}` replaced from the environment; values under secret keys are registered
    for redaction."""
    if isinstance(value, dict):
        return {k: substitute(v, path, (*key, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, path, (*key, i)) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        def lookup(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise ConfigError(
                    f"{path}: {key_name(key)} = {value!r}: environment variable {name} is not set; "
                    f"export {name}=... or remove the reference"
                )
            found = os.environ[name]
            if _is_secret(key):
                redact.register(found)
            if any(c in found for c in _CONTROL):
                # A line break or tab would end up in a header (a token, a password) and in
                # error messages in an escaped form no redaction recognizes; the value is not shown.
                raise ConfigError(
                    f"{path}: {key_name(key)}: environment variable {name} contains a line break or another "
                    "control character (an env file saved with Windows line endings?); set it to the bare value"
                )
            if _is_secret(key) and 0 < len(found) < redact.MIN_SECRET_LENGTH:
                raise _too_short(path, key, f"environment variable {name}", len(found))
            if _ASCII_ONLY.search(str(key[-1])) and not found.isascii():
                # HTTP headers take Latin-1 at most, and smtplib's AUTH ASCII: each would fail at use
                # with a codec error naming no key (or send a mangled token).
                raise ConfigError(
                    f"{path}: {key_name(key)}: environment variable {name} holds a character that is not ASCII; "
                    "tokens and passwords are sent in HTTP headers and SMTP logins, which take ASCII only: "
                    "check the value (a typographic quote or dash pasted with it?)"
                )
            return found

        substituted = _ENV_REF.sub(lookup, value)
        if substituted != value:  # a URL written with ${NAME}: its password, wherever it sits, is a secret
            for what, secret in _url_secrets(substituted):
                if len(secret) < redact.MIN_SECRET_LENGTH:
                    raise _too_short(path, key, what, len(secret))
                redact.register(secret)
        return substituted
    return value


def _too_short(path: Path, key: tuple[str | int, ...], what: str, length: int) -> ConfigError:
    """A secret too short to mask: messages and logs would show it (redact.py masks only
    longer values, since masking "abc" everywhere garbles them), and it guards little."""
    return ConfigError(f"{path}: {key_name(key)}: {what} is {length} characters long; a secret must have at least "
                       f"{redact.MIN_SECRET_LENGTH}, or docketwatch cannot keep it out of its output: use a longer one")


_SECRET_KEY = re.compile(r"token|password|secret", re.IGNORECASE)
# Secrets sent as they are (a webhook's `secret` only keys an HMAC, so any text will do).
_ASCII_ONLY = re.compile(r"token|password", re.IGNORECASE)
_CONTROL = frozenset(map(chr, [*range(32), 127]))


def _is_secret(key: tuple[str | int, ...]) -> bool:
    """A value under a key like `token`, `password` or `secret` is never shown."""
    return bool(key) and isinstance(key[-1], str) and bool(_SECRET_KEY.search(key[-1]))


def _url_secrets(value: str) -> list[tuple[str, str]]:
    """The secrets in a URL, for redaction: the password in `scheme://user:password@host/...`
    (a CourtListener base_url behind a proxy as well as a database URL) and the values of
    query parameters named like a secret (PostgreSQL's `?password=`). Each with what it is."""
    if "://" not in value:
        return []
    userinfo = value.partition("://")[2].partition("?")[0].rpartition("@")[0]  # a raw "/" in it too
    found = [("the password in it", password)] if (password := userinfo.partition(":")[2]) else []
    return found + [(f"its {name} parameter", secret) for name, secret in parse_qsl(urlsplit(value).query)
                    if secret and _SECRET_KEY.search(name)]


def key_name(loc: tuple[str | int, ...]) -> str:
    """('cases', 2, 'court') -> 'cases[2].court' (counting from 1, as people do)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def shown(raw: dict[str, Any], loc: tuple[str | int, ...]) -> str:
    """The value at `loc` as written in the file (a ${NAME} reference stays one)."""
    value: Any = raw
    for part in loc:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return "?"
    if isinstance(value, str) and _ENV_REF.search(value):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def describe(raw: dict[str, Any], err: ErrorDetails, prefix: tuple[str | int, ...] = ()) -> str:
    """One pydantic error as `key = value: what is wrong`, the value as written; `prefix`
    is where the validated table sits in the file."""
    loc = (*prefix, *err["loc"])
    if err["type"] == "extra_forbidden":
        parent = key_name(loc[:-1]) or "the top level"
        return f"unknown key {key_name(loc)!r} in {parent}; check its spelling"
    if err["type"] == "missing":
        return f"{key_name(loc)} is required"
    message = err["msg"].removeprefix("Value error, ")
    return f"{key_name(loc)} = {shown(raw, loc)}: {message}"


def is_local(url: str) -> bool:
    """A URL of this machine (tests, local mirrors): it may be polled more often."""
    return is_loopback(urlsplit(url).hostname or "")


def is_loopback(host: str) -> bool:
    """A host name or address of this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
