"""Turning a DigestModel into text, HTML or Markdown, and into a subject line.

Templates are looked up in `templates_dir` first, file by file, then in the package
(`docketwatch.templates`), so a user overrides one format without copying the others.
HTML is autoescaped (docket text with `<script>` or `&` shows as text) and its CSS is
inlined, because many mail clients drop <style> blocks. Markdown has no autoescape, so
its template passes docket text through the `md` filter.
"""

from __future__ import annotations

import re

import css_inline
from jinja2 import (ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, TemplateSyntaxError,
                    select_autoescape)

from docketwatch.config import Config, DigestConfig
from docketwatch.digests import DigestModel

TEMPLATES = {"txt": "digest.txt.j2", "html": "digest.html.j2", "md": "digest.md.j2"}

# Characters with a meaning anywhere in a Markdown line, and at its start.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_LINE_START = re.compile(r"^(\d+)(?=[.)])|^(?=[#+=-])")


def markdown_escape(text: object) -> str:
    """Docket text as literal Markdown: metacharacters backslash-escaped, on one line."""
    line = " ".join(str(text).split())
    line = _MD_INLINE.sub(r"\\\1", line)
    return _MD_LINE_START.sub(lambda m: (m.group(1) or "") + "\\", line)


def markdown_url(url: str) -> str:
    """A URL safe inside `(<...>)`: the characters that would end it percent-encoded."""
    return re.sub(r"[<>\s]", lambda m: f"%{ord(m.group(0)):02X}", url)


def environment(config: Config) -> Environment:
    """Jinja2 with the user's templates first, the package's second."""
    loaders = [FileSystemLoader(config.resolve(config.templates_dir))] if config.templates_dir else []
    env = Environment(
        loader=ChoiceLoader([*loaders, PackageLoader("docketwatch.templates", ".")]),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        undefined=StrictUndefined,  # a typo in an overriding template fails loudly, not as blank text
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_escape
    env.filters["mdurl"] = markdown_url
    return env


def render(config: Config, model: DigestModel, fmt: str) -> str:
    """The digest in one format ("txt", "html" or "md")."""
    out = environment(config).get_template(TEMPLATES[fmt]).render(digest=model)
    if fmt == "html":
        # Remote stylesheets are never fetched: a digest is rendered from local data only.
        out = css_inline.CSSInliner(load_remote_stylesheets=False).inline(out)
    return out


def subject(sub: DigestConfig, model: DigestModel) -> str:
    """The subscription's `subject` template (it sees `digest`), else `digest.summary`; one line."""
    if sub.subject is None:
        return model.summary
    text = Environment(undefined=StrictUndefined).from_string(sub.subject).render(digest=model)
    return " ".join(text.split())


def check_subject(template: str) -> None:
    """ValueError when a `subject` template is not valid Jinja2 (checked with the configuration)."""
    try:
        Environment().parse(template)
    except TemplateSyntaxError as e:
        raise ValueError(f"is not a valid template: {e.message}") from None
