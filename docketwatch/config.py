"""Configuration: one TOML file, checked before anything runs.

The file is found via `--config PATH`, else `$DOCKETWATCH_CONFIG`, else the bundled
AI-copyright watchlist. `${NAME}` in any string value is read from the environment,
so secrets (tokens, SMTP passwords) never have to be written into the file.

Every problem is reported as a ConfigError naming the file, the key and the value.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from docketwatch import docket_numbers

BUNDLED_CONFIG = "ai-copyright.toml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


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
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Section):
    url: str = Field(default_factory=default_database_url)


class CourtListenerConfig(_Section):
    base_url: str = "https://www.courtlistener.com"
    token: str | None = None
    daily_request_budget: int = Field(default=125, ge=0)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")


class HttpConfig(_Section):
    timeout: float = Field(default=60.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: float = Field(default=1.0, ge=0)
    # A 429 asking for a longer wait fails the poll and is remembered instead.
    max_throttle_wait: float = Field(default=30.0, ge=0)


class SourcesConfig(_Section):
    courtlistener: CourtListenerConfig = CourtListenerConfig()


class CaseConfig(_Section):
    name: str = Field(min_length=1)
    court: str
    docket_number: str
    courtlistener_id: int | None = Field(default=None, gt=0)
    sources: list[str] = ["courtlistener"]

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
        except docket_numbers.DocketNumberError as e:
            raise ValueError(str(e)) from None

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, v: list[str]) -> list[str]:
        from docketwatch.sources import REGISTRY  # sources import config: resolve late

        if not v or any(s not in REGISTRY for s in v):
            raise ValueError(f"must be a non-empty list of {', '.join(map(repr, REGISTRY))}")
        return v

    @property
    def label(self) -> str:
        return f"{self.name} ({self.court} {self.docket_number})"

    def matches(self, fragment: str) -> bool:
        """CASE on the command line: a fragment of the name, or the docket number."""
        if fragment.lower() in self.name.lower():
            return True
        return docket_numbers.try_normalize(fragment) == self.docket_number


class _Document(_Section):
    database: DatabaseConfig = DatabaseConfig()
    http: HttpConfig = HttpConfig()
    sources: SourcesConfig = SourcesConfig()
    cases: list[CaseConfig] = []


@dataclass(frozen=True)
class Config:
    """A checked configuration and the file it came from."""

    path: Path
    database: DatabaseConfig
    http: HttpConfig
    sources: SourcesConfig
    cases: list[CaseConfig]

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


def resolve_path(option: str | None) -> Path:
    """--config, else $DOCKETWATCH_CONFIG, else the bundled watchlist."""
    if option:
        return Path(option)
    if env := os.environ.get("DOCKETWATCH_CONFIG"):
        return Path(env)
    return Path(str(resources.files("docketwatch.defaults").joinpath(BUNDLED_CONFIG)))


def load(path: Path) -> Config:
    """Read, substitute ${NAME} and check the file; raise ConfigError on any problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    raw = _substitute(raw, path, ())
    try:
        doc = _Document.model_validate(raw)
    except ValidationError as e:
        raise ConfigError("\n".join(_describe(path, raw, err) for err in e.errors())) from None
    _check_unique(path, doc.cases)
    return Config(path=path, database=doc.database, http=doc.http, sources=doc.sources, cases=doc.cases)


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
            return os.environ[name]

        return _ENV_REF.sub(lookup, value)
    return value


def _key_name(loc: tuple) -> str:
    """('cases', 2, 'court') -> 'cases[2].court' (counting from 1, as people do)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(path: Path, raw: dict, err: dict) -> str:
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        parent = _key_name(loc[:-1]) or "the top level"
        return f"{path}: unknown key {_key_name(loc)!r} in {parent}; check its spelling"
    value: Any = raw
    for part in loc:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            value = None
            break
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        return f"{path}: {_key_name(loc)} is required"
    return f"{path}: {_key_name(loc)} = {value!r}: {message}"


def _check_unique(path: Path, cases: list[CaseConfig]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for case in cases:
        ident = (case.court, case.docket_number)
        if ident in seen:
            raise ConfigError(
                f"{path}: cases {seen[ident]!r} and {case.name!r} are the same docket "
                f"({case.court} {case.docket_number}); keep one"
            )
        seen[ident] = case.name
