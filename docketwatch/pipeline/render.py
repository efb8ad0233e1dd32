"""Turning a DigestModel into text, HTML, Markdown or JSON, and into a subject line.

Templates are looked up in `templates_dir` first, file by file, then in the package
(`docketwatch.templates`), so a user overrides one format without copying the others.
HTML is autoescaped (docket text with `<script>` or `&` shows as text) and its CSS is
inlined, because many mail clients drop <style> blocks. Markdown has no autoescape, so
its template passes docket text through the `md` filter. JSON (for webhooks) is the model
itself, serialized, not a template.

Templates and `subject` lines come from the configuration, so they run in Jinja2's
immutable sandbox: they can read the digest, never reach Python's internals or change
anything.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from docketwatch.domain.changes import EntryView
from docketwatch.pipeline.digests import CaseSection, DigestModel
from docketwatch.settings import Config, DigestConfig

log = logging.getLogger(__name__)
TEMPLATES = {"txt": "digest.txt.j2", "html": "digest.html.j2", "md": "digest.md.j2"}

# Characters with a meaning anywhere in a Markdown line, and at its start. Only those
# both CommonMark and Python-Markdown (MkDocs) unescape get a backslash; the others
# become character references, which both decode (Python-Markdown would show `\&`).
_MD_BACKSLASH = re.compile(r"([\\`*_\[\]>])")
_MD_ENTITY = {"&": "&amp;", "<": "&lt;", "|": "&#124;", "~": "&#126;"}
_MD_LINE_START = re.compile(r"^(\d+)(?=[.)])|^(?=[#+=-])")


def markdown_escape(text: object) -> str:
    """Docket text as literal Markdown, the same in CommonMark and Python-Markdown, on one line."""
    line = " ".join(str(text).split())
    line = _MD_BACKSLASH.sub(r"\\\1", line)
    line = re.sub(r"[&<|~]", lambda m: _MD_ENTITY[m.group(0)], line)
    return _MD_LINE_START.sub(lambda m: (m.group(1) or "") + "\\", line)


def markdown_url(url: str) -> str:
    """A URL safe inside `(<...>)`: the characters that would end it percent-encoded."""
    return re.sub(r"[<>\s]", lambda m: f"%{ord(m.group(0)):02X}", url)


def environment(config: Config) -> ImmutableSandboxedEnvironment:
    """Jinja2 (sandboxed) with the user's templates first, the package's second."""
    return _environment(config.resolve(config.templates_dir) if config.templates_dir else None)


@cache
def _environment(templates: Path | None) -> ImmutableSandboxedEnvironment:
    """One environment per templates folder: it keeps its compiled templates (and
    recompiles a template whose file changed)."""
    loaders = [FileSystemLoader(templates)] if templates else []
    env = ImmutableSandboxedEnvironment(
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
    """The digest in one format ("txt", "html", "md" or "json")."""
    if fmt == "json":
        return as_json(model)
    out = environment(config).get_template(TEMPLATES[fmt]).render(digest=model)
    if fmt == "html":
        # Remote stylesheets are never fetched: a digest is rendered from local data only.
        out = css_inline.CSSInliner(load_remote_stylesheets=False).inline(out)
    return out


def as_json(model: DigestModel) -> str:
    """The model as a JSON document: what a webhook receiver reads (dates ISO 8601)."""
    counts = subject_variables(model)["counts"]
    document = {**dataclasses.asdict(model), "summary": model.summary, "period": model.period, "counts": counts}
    return json.dumps(document, default=lambda value: value.isoformat(), ensure_ascii=False, sort_keys=True)


def subject(sub: DigestConfig, model: DigestModel) -> str:
    """The subscription's `subject` template, else `digest.summary`; always one line.

    A template that passed the check at load can still fail on a real digest (`cases[0]
    .new[0]` when only changes came in): the digest then goes out under `digest.summary`,
    and the log says why, rather than being held back (and retried) until the template
    is mended."""
    text = model.summary
    if sub.subject is not None:
        try:
            text = _render_subject(sub.subject, model)
        except Exception as e:  # any failure of a user's template
            log.error("%s: the subject template does not render for this digest (%s: %s); sent under the "
                      "default subject instead: mend `subject` in its [[digests]] table", sub.name,
                      type(e).__name__, e)
    return " ".join(text.split())


def _render_subject(template: str, model: DigestModel) -> str:
    return _SUBJECTS.from_string(template).render(subject_variables(model))


_SUBJECTS = ImmutableSandboxedEnvironment(undefined=StrictUndefined)


def subject_variables(model: DigestModel) -> dict[str, Any]:
    """What a `subject` template sees: `digest`, its `cases`, and `counts` per event kind."""
    counts = {"new": model.new_count, "changed": model.changed_count,
              "case": sum(len(c.case_changes) for c in model.cases),
              "gap": sum(len(c.gaps) for c in model.cases), "error": sum(len(c.errors) for c in model.cases),
              "linked": sum(len(c.links) for c in model.cases), "new_case": len(model.new_cases)}
    return {"digest": model, "cases": model.cases, "counts": counts}


def check_subject(template: str) -> None:
    """ValueError when a `subject` template does not render against a sample digest
    (checked with the configuration, so a broken one never holds a digest back)."""
    try:
        _render_subject(template, _SAMPLE)
    except Exception as e:  # any failure of a user's template is a configuration error
        raise ValueError(f"does not render ({type(e).__name__}: {e}); it can use digest, cases and counts") from None


_AT = datetime(2025, 7, 2, 12, 0, tzinfo=UTC)
_SAMPLE = DigestModel(
    title="sample", period_start=_AT - timedelta(days=1), period_end=_AT, timezone="UTC", warnings=[],
    cases=[CaseSection(name="Kadrey v. Meta Platforms, Inc.", court="cand", court_name="N.D. Cal.",
                       docket_number="3:23-cv-03417", url=None,
                       new=[EntryView("600", _AT.date(), "ORDER", None, "sample")],
                       changed=[EntryView("599", _AT.date(), "ORDER", None, "sample", ["text filled in"])],
                       case_changes=["renamed"], gaps=["gap"], errors=["error"])],
)
