"""The command line: parse arguments, call the core, print. Nothing else lives here.

Exit codes: 0 every case checked, 3 some case failed (the others still stored) or a
database operation failed, 2 usage or configuration error.

Each command imports the core it calls when it runs, so `docketwatch --help` (and
importing this module) loads neither the database layer nor HTTP, parsing or templates.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from docketwatch import __version__

if TYPE_CHECKING:
    import signal
    from datetime import datetime

    from click.shell_completion import CompletionItem
    from sqlalchemy.engine import Engine

    from docketwatch.domain.snapshot import ParsedDocket
    from docketwatch.pipeline.poll import CaseResult
    from docketwatch.settings import CaseConfig, Config

EXIT_FAILED = 3
EXIT_READER_GONE = 141  # 128 + SIGPIPE
# A row's id, as the database can hold it (a larger number is a usage error, not an overflow).
ROW_ID = click.IntRange(1, 2**63 - 1)


class ConfigException(click.ClickException):
    """A configuration error: exit code 2, like any other usage error."""

    exit_code = 2


class _Context:
    def __init__(self, config_path: str | None = None, log_level: str | None = None):
        self.config_path = config_path
        self.log_level = log_level

    def load(self, default_log_level: str = "WARNING") -> Config:
        """The configuration; also sets up logging (--log-level, else the file's, else the default)."""
        from docketwatch import bootstrap as config_mod
        from docketwatch import redact

        try:
            cfg = config_mod.load(config_mod.resolve_path(self.config_path))
        except config_mod.ConfigError as e:
            raise ConfigException(redact.scrub(str(e))) from None
        level = (self.log_level or cfg.log_level or default_log_level).upper()
        logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for handler in logging.getLogger().handlers:
            handler.addFilter(redact.RedactingFilter())
        if level != "DEBUG":  # its retry notices repeat what our own error lines say
            logging.getLogger("urllib3").setLevel(logging.ERROR)
        # The scheduler's and the migrations' own chatter (jobs added, run; plugins set up) is for
        # DEBUG; their warnings stay.
        for chatty in ("apscheduler", "alembic"):
            logging.getLogger(chatty).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
        return cfg

    def reload(self) -> Config:
        """The configuration read again, for `run` (ConfigError, unscrubbed: `run` logs it
        through the redacting filter)."""
        from docketwatch import bootstrap

        return bootstrap.load(bootstrap.resolve_path(self.config_path))

    def select(self, cfg: Config, fragments: tuple[str, ...] | list[str]) -> list[CaseConfig]:
        from docketwatch.settings import ConfigError

        try:
            return cfg.select(fragments)
        except ConfigError as e:
            raise click.UsageError(str(e)) from None


def _config_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The --config value; an empty one (an unset shell variable, `--config "$CFG"`) is an
    error, not a quiet fall back to $DOCKETWATCH_CONFIG or the bundled watchlist."""
    if value == "":
        raise click.BadParameter("is empty; give the configuration file's path", ctx, param)
    return value


def _set_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if _config_path(ctx, param, value) is not None:
        ctx.ensure_object(_Context).config_path = value


def _set_log_level(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(_Context).log_level = value


_LOG_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)
CONTEXT = {"help_option_names": ["-h", "--help"]}


class _Cli(click.Group):
    """The command group; a database that cannot be used ends any command with one line.
    Every command also takes the global options after its name (`check --config X`)."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params += [
            click.Option(["--config", "config_path"], metavar="PATH", expose_value=False, callback=_set_config,
                         help="Configuration file (as before the command)."),
            click.Option(["--log-level"], type=_LOG_LEVELS, expose_value=False, callback=_set_log_level,
                         help="Log level for stderr (as before the command)."),
        ]
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            finally:
                sys.stdout.flush()  # a reader that stopped early (`| head`) is met here, not at exit
        except BrokenPipeError:
            # Quiet, with the status of a writer that SIGPIPE ends (as in `yes | head`); not
            # click's 1, which `status --health` means as "unhealthy".
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_READER_GONE)
        except KeyboardInterrupt:  # Ctrl-C where no command stops on its own (check does): 130, as shells do
            click.echo("interrupted", err=True)
            sys.exit(130)  # 128 + SIGINT
        except Exception as e:
            from docketwatch.store import StoreError  # imported already, if the command opened a database

            if not isinstance(e, StoreError):
                raise
            click.echo(f"docketwatch: {e}", err=True)
            sys.exit(e.exit_code)


@click.group(cls=_Cli, context_settings=CONTEXT)
@click.option("--config", "config_path", metavar="PATH", callback=_config_path,
              help="Configuration file (default: $DOCKETWATCH_CONFIG, else the bundled AI-copyright watchlist).")
@click.option("--log-level", type=_LOG_LEVELS,
              help="Log level for stderr (default: the configuration's log_level; "
                   "else INFO for run, WARNING otherwise).")
@click.version_option(__version__, prog_name="docketwatch")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str | None) -> None:
    """Watch public court dockets and report what is new.

    Shell completion (also of case names): eval "$(_DOCKETWATCH_COMPLETE=bash_source docketwatch)"
    in ~/.bashrc (zsh: zsh_source in ~/.zshrc; fish: fish_source).
    """
    ctx.obj = _Context(config_path, log_level)


def _complete_case(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Case names for shell completion (names with spaces escaped for bash)."""
    from click.shell_completion import CompletionItem

    from docketwatch import bootstrap

    obj = ctx.find_object(_Context)
    path = obj.config_path if obj else None
    while path is None and ctx.parent is not None:  # completion parses without running the group
        ctx = ctx.parent
        path = ctx.params.get("config_path")
    try:
        cfg = bootstrap.load(bootstrap.resolve_path(path))
    except bootstrap.ConfigError:
        return []
    bash = os.environ.get("_DOCKETWATCH_COMPLETE", "").startswith("bash")
    return [CompletionItem(re.sub(r"([^\w.,:@%+=/-])", r"\\\1", c.name) if bash else c.name,
                           help=f"{c.court} {c.docket_number}")
            for c in cfg.cases if incomplete.lower() in c.name.lower()]


def _progress(total: int) -> Callable[[CaseResult], None] | None:
    """A line per case on stderr as it finishes, when stderr is a terminal; else nothing."""
    if not sys.stderr.isatty() or total < 2:
        return None
    done = 0

    def show(r: CaseResult) -> None:
        nonlocal done
        done += 1
        click.echo(f"[{done}/{total}] {r.case.name}: {_summary(r)}", err=True)

    return show


@cli.command()
@click.argument("case", nargs=-1, shell_complete=_complete_case)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--notify-baseline", is_flag=True,
              help="Report a case's first poll as new entries instead of a quiet baseline.")
@click.pass_obj
def check(obj: _Context, case: tuple[str, ...], as_json: bool, notify_baseline: bool) -> None:
    """Poll CASEs (default: all) now, store, and print what is new and changed."""
    from docketwatch import store

    cfg = obj.load()
    chosen = obj.select(cfg, case)
    results, stopped_by = _poll(cfg, store.open_engine(cfg.database.url), chosen, notify_baseline=notify_baseline)
    # A case interrupted after one of its sources stored news is shown: the next check will not report it.
    checked = [r for r in results if not r.cancelled or _has_news(r)]
    if as_json:
        click.echo(json.dumps({"cases": [_result_json(r) for r in checked]}, indent=2))
    else:
        for r in checked:
            _print_result(r)
    if stopped_by is not None:
        _interrupted(results, stopped_by)
    if not all(r.ok for r in results):
        sys.exit(EXIT_FAILED)


def _poll(cfg: Config, engine: Engine, chosen: list[CaseConfig],
          notify_baseline: bool = False) -> tuple[list[CaseResult], signal.Signals | None]:
    """`poll.check`, which Ctrl-C (or SIGTERM) stops within moments by cancelling the requests
    in flight, instead of waiting on them (the default KeyboardInterrupt leaves them to run
    to their timeout); returns the results and the signal that stopped the poll, if one did."""
    import threading

    from docketwatch.ops.signals import stop_on_signals
    from docketwatch.pipeline import poll

    stopping = threading.Event()
    with stop_on_signals(stopping) as stop:
        results = poll.check(cfg, engine, chosen, notify_baseline=notify_baseline, cancel=stopping,
                             on_result=_progress(len(chosen)))
    return results, stop.received


def _interrupted(results: list[CaseResult], signum: signal.Signals) -> None:
    """Say how far a stopped poll got (each case it finished is stored) and exit 128 + the
    signal's number: 130 for Ctrl-C, as shells do."""
    polled = [r for r in results if not r.paused]
    checked = sum(not r.cancelled for r in polled)
    partly = sum(r.cancelled and _has_news(r) for r in polled)
    click.echo(f"interrupted: {checked} of {len(polled)} cases checked"
               + (f", {partly} in part (what they found is shown)" if partly else "") + "; the rest were not", err=True)
    sys.exit(128 + signum)


def _result_json(r: CaseResult) -> dict[str, Any]:
    return {
        "name": r.case.name, "court": r.case.court, "docket_number": r.case.docket_number,
        "ok": r.ok, "error": "; ".join(r.errors) or None, "baseline": r.baseline, "earlier": r.earlier,
        "new": [e.as_json() for e in r.new], "changed": [e.as_json() for e in r.changed],
        "case_changes": r.case_changes,
        "gaps": r.gaps, "warnings": r.warnings, "no_entries": r.no_entries, "paused": r.paused,
    }


def _count(n: int, one: str, many: str) -> str:
    """`1 event`, `2 events`."""
    return f"{n} {one if n == 1 else many}"


def _has_news(r: CaseResult) -> bool:
    return bool(r.new or r.changed or r.case_changes or r.gaps)


def _summary(r: CaseResult) -> str:
    if r.paused:
        return "paused, not checked (docketwatch resume CASE)"
    if r.cancelled:
        news = f"{len(r.new)} new, {len(r.changed)} changed, " if _has_news(r) else ""
        return f"{news}not every source checked (interrupted)"
    if not r.ok:
        return "FAILED"
    if r.no_entries:
        return "no entries yet"
    if r.baseline:
        return f"baseline recorded ({r.baseline_entries} entries)"
    found = f"{len(r.new)} new, {len(r.changed)} changed" if (r.new or r.changed) else "nothing new"
    return found + (f"; {_count(r.earlier, 'earlier entry', 'earlier entries')} recorded quietly (filed before "
                    "docketwatch watched the case)" if r.earlier else "")


def _print_result(r: CaseResult) -> None:
    click.echo(f"{r.case.name} ({r.case.court} {r.case.docket_number}): {_summary(r)}")
    for e in r.new:
        click.echo(f"  new      {_entry_line(e.as_json())}")
    for e in r.changed:
        click.echo(f"  changed  {_entry_line(e.as_json())}  [{'; '.join(e.changes)}]")
    for text in r.case_changes:
        click.echo(f"  case     {text}")
    for text in r.gaps:
        click.echo(f"  GAP      {text}")
    for text in r.warnings:
        click.echo(f"  warning  {text}")
    for text in r.errors:
        click.echo(f"  error    {text}")


def _entry_line(e: dict[str, Any]) -> str:
    number = f"#{e['entry_number']}" if e["entry_number"] else "(minute)"
    text = e["description"]
    text = text if len(text) <= 100 else text[:97] + "..."
    # An entry known only from a court feed has no filing date yet: its date entered shows.
    return f"{number:>8}  {e['date_filed'] or e.get('date_entered') or '????-??-??'}  {text}"


@cli.command()
@click.argument("case", nargs=-1, shell_complete=_complete_case)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--refresh", is_flag=True, help="Poll first.")
@click.option("--health", is_flag=True,
              help="Exit 1 unless `docketwatch run` is alive, not stuck, no source keeps failing, and every "
                   "digest can be built and delivered (for HEALTHCHECK).")
@click.pass_obj
def status(obj: _Context, case: tuple[str, ...], as_json: bool, refresh: bool, health: bool) -> None:
    """Per CASE (default: all): entries stored, latest entry, last check and success, last error, events pending."""
    from docketwatch import store
    from docketwatch.ops import status as status_mod

    cfg = obj.load()
    chosen = obj.select(cfg, case)
    engine = store.open_engine(cfg.database.url)
    results, stopped_by = _poll(cfg, engine, chosen) if refresh else ([], None)
    # A refresh cut short (Ctrl-C) still shows what is stored, then says how far it got.
    if health:
        reasons = status_mod.unhealthy(cfg, engine)
        if as_json:
            click.echo(json.dumps({"healthy": not reasons, "unhealthy": reasons}, indent=2))
        else:
            for reason in reasons:
                click.echo(f"unhealthy: {reason}", err=True)
            if not reasons:
                click.echo("healthy")
    else:
        reasons = []
        _print_status(cfg, status_mod.status(cfg, engine, chosen), as_json)
    if stopped_by is not None:
        _interrupted(results, stopped_by)
    if reasons:
        sys.exit(1)


def _print_status(cfg: Config, report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"database: {report['database']}")
    for s in report["cases"]:
        click.echo("\n".join(["", *_case_status_lines(s)]))  # one write per case: 10,000 cases print quickly
    for d in report["failed_digests"]:
        click.echo(f"\n{d['what']}: not delivered after {d['attempts']} attempts: {d['subject']}")
        click.echo(f"  last error      {d['last_error']}")
        click.echo(f"  next attempt    {d['next_attempt']} (or now: docketwatch digest --retry-failed; "
                   f"give it up: docketwatch digest --drop {d['id']})")
    for f in report["failing_subscriptions"]:
        click.echo(f"\nthe digest for {f['subscription']!r} cannot be built (since {f['since']}): {f['error']}")
    for u in report["unconfigured_subscriptions"]:
        pending = f", {_count(u['pending'], 'pending delivery', 'pending deliveries')} of its digests"
        click.echo(f"\nsubscription {u['name']!r} is no longer configured; not sent to it: "
                   f"{_count(u['events'], 'event', 'events')} of its cases since its last digest"
                   f"{pending if u['pending'] else ''}; if it was renamed, add renamed_from = {json.dumps(u['name'])} "
                   f"to its [[digests]] table; if it was removed: docketwatch digest --forget {shlex.quote(u['name'])}")
    if report["jobs"]:
        click.echo("\npoll jobs (last success, failures in a row, next run):")
        for j in report["jobs"]:
            click.echo(f"  {j['job']:<40} {j['last_success'] or 'never':<26} "
                       f"{j['consecutive_failures']:>3}  {j['next_run']}")
    for record in report["sources"]:
        click.echo()
        for line in cfg.source_plugins[record["source"]].status_lines(record):
            click.echo(line)


def _case_status_lines(s: dict[str, Any]) -> list[str]:
    """One case of `status`, as lines."""
    ids = "  ".join(f"{source} id {known}" for source, known in s["source_ids"].items())
    lines = [f"{s['name']} ({s['court']} {s['docket_number']})" + (f"  {ids}" if ids else "")]
    if s["paused"]:
        lines.append("  paused          not polled until `docketwatch resume`")
    latest = s["latest_entry"]
    lines += [f"  entries stored  {s['entries']}",
              f"  latest entry    {_entry_line(latest).strip() if latest else '-'}",
              f"  last checked    {s['last_checked'] or 'never'}",
              f"  last success    {s['last_success'] or 'never'}"]
    if s["last_error"]:
        recovered = s["last_success"] and s["last_success"] > s["last_error_at"]
        since = " (since recovered)" if recovered else ""
        lines.append(f"  last error      {s['last_error_at']}{since}: {s['last_error']}")
    if s["last_gap"]:
        gap = s["last_gap"]
        lines.append(f"  last gap        {gap['at']} ({gap['source']}): {gap['summary']}")
    lines.append(f"  pending events  {s['pending_events']}")
    lines += [f"  not watched     {u['source']}: {u['text']}" for u in s["unwatched"]]
    return lines


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--court", help="Court id, when the file does not name it (e.g. cand).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file per line.")
def parse(paths: tuple[str, ...], court: str | None, as_json: bool) -> None:
    """Print what docketwatch reads from saved PACER files; stores nothing."""
    from docketwatch import parsers
    from docketwatch.files import read_page

    failed = False
    for path in paths:
        try:
            parsed = parsers.parse(read_page(Path(path)), court)
        except (parsers.ParseError, ValueError, OSError) as e:
            click.echo(f"{path}: {e}", err=True)
            failed = True
            continue
        if as_json:
            click.echo(json.dumps({"path": path, "kind": parsed.kind, "layout": parsed.layout, "court": parsed.court,
                                   "dockets": [_docket_json(d) for d in parsed.dockets]}))
            continue
        entries = sum(len(d.entries) for d in parsed.dockets)
        kind = f"{parsed.kind} ({parsed.layout})" if parsed.layout else parsed.kind
        click.echo(f"{path}: {kind}, court {parsed.court or '?'}, "
                   f"{len(parsed.dockets)} docket(s), {entries} entries")
        if parsed.entry_types:
            click.echo(f"  feed carries: {parsed.entry_types}")
        for d in parsed.dockets:
            count = f"{len(d.entries)} entries" if d.entries else "no entries yet"
            click.echo(f"  {d.docket_number}  {d.case_name or ''}  ({count})")
            for entry in d.entries:
                click.echo(f"    {_entry_line(entry.view().as_json())}")
    if failed:
        sys.exit(EXIT_FAILED)


def _docket_json(d: ParsedDocket) -> dict[str, Any]:
    return {
        "docket_number": d.docket_number, "case_name": d.case_name, "pacer_case_id": d.pacer_case_id,
        "entries": [{"document_number": e.entry_number,
                     "date_filed": e.date_filed.isoformat() if e.date_filed else None,
                     "date_entered": e.date_entered.isoformat() if e.date_entered else None,
                     "description": e.description, "short_description": e.short_description,
                     "pacer_doc_id": e.pacer_doc_id} for e in d.entries],
    }


@cli.command(name="import")
@click.argument("location", metavar="PATH|URL")
@click.option("--case", "case", help="The configured case to import into (default: matched by docket number).")
@click.option("--court", help="Court id, when the file does not name it.")
@click.pass_obj
def import_(obj: _Context, location: str, case: str | None, court: str | None) -> None:
    """Backfill a case from a saved docket report: its history quietly, a filing the polls missed since the
    watch began as new; entries already stored are only filled in."""
    from docketwatch import store
    from docketwatch.http import HttpError
    from docketwatch.pipeline import imports
    from docketwatch.settings import ConfigError

    cfg = obj.load()
    try:
        content = imports.read(location, cfg)
        results = imports.import_report(cfg, store.open_engine(cfg.database.url), content, case=case, court=court)
    except ConfigError as e:
        raise click.UsageError(str(e)) from None
    except (FileNotFoundError, IsADirectoryError) as e:  # the argument, not the file's content
        what = "no such file" if isinstance(e, FileNotFoundError) else "is a folder, not a saved docket page"
        raise click.BadParameter(f"{location}: {what}", param_hint="'PATH|URL'") from None
    except (OSError, ValueError, HttpError) as e:
        click.echo(f"{location}: {e.strerror if isinstance(e, OSError) and e.strerror else e}", err=True)
        sys.exit(EXIT_FAILED)
    for r in results:
        if not r.entries:
            click.echo(f"{r.case.name} ({r.case.court} {r.case.docket_number}): no entries yet in the {r.kind}; "
                       "nothing to import")
            continue
        click.echo(f"{r.case.name} ({r.case.court} {r.case.docket_number}): {r.entries} entries read from the "
                   f"{r.kind}, {r.added} new to docketwatch, {r.updated} updated"
                   + (f"; {r.reported} filed since docketwatch began watching the case, reported as new"
                      if r.reported else ""))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def cases(obj: _Context, as_json: bool) -> None:
    """The configured cases, with each source's id for the docket where known."""
    from sqlmodel import Session

    from docketwatch import store

    cfg = obj.load()
    with Session(store.open_engine(cfg.database.url)) as session:
        known = {(row.court, row.docket_number): row.source_ids for row in store.find_cases(session, cfg.cases)}
    rows: list[dict[str, Any]] = [
        {"name": c.name, "court": c.court, "docket_number": c.docket_number,
         "source_ids": {**known.get((c.court, c.docket_number), {}), **cfg.pinned_ids(c)}, "sources": c.sources,
         "paused": c.paused}
        for c in cfg.cases
    ]
    if as_json:
        click.echo(json.dumps({"config": str(cfg.path), "cases": rows}, indent=2))
        return
    click.echo(f"config: {cfg.path}")
    for r in rows:
        ids = " ".join(f"{source}:{known}" for source, known in r["source_ids"].items())
        paused = "  (paused)" if r["paused"] else ""
        click.echo(f"{r['court']:<5} {r['docket_number']:<15} {r['name']}" + (f"  ({ids})" if ids else "") + paused)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print what would be sent now; change nothing.")
@click.option("--name", metavar="NAME", help="Only the [[digests]] subscription NAME.")
@click.option("--retry-failed", is_flag=True, help="First make deliveries that failed before due now.")
@click.option("--drop", "drop_ids", metavar="ID", type=ROW_ID, multiple=True,
              help="Give up the undelivered delivery ID (as `status` lists it) and send nothing; repeatable.")
@click.option("--forget", metavar="NAME",
              help="Give up the subscription NAME, no longer configured (as `status` names it): drop its "
                   "pending deliveries and stop naming it.")
@click.pass_obj
def digest(obj: _Context, dry_run: bool, name: str | None, retry_failed: bool, drop_ids: tuple[int, ...],
           forget: str | None) -> None:
    """Build the digests that are due and deliver them (and earlier ones waiting for a retry)."""
    from docketwatch import store
    from docketwatch.pipeline import outbox
    from docketwatch.settings import ConfigError

    if dry_run and (drop_ids or forget is not None):  # each gives something up for good
        raise click.UsageError("--dry-run changes nothing, so it cannot be used with --drop or --forget; "
                               "`docketwatch status` shows what they would give up")
    cfg = obj.load()
    engine = store.open_engine(cfg.database.url)
    if forget is not None:
        try:
            given_up = outbox.forget(cfg, engine, forget)
        except outbox.NotForgettable as e:
            raise click.UsageError(f"--forget: {e}") from None
        gone = _count(given_up.pending, "pending delivery", "pending deliveries")
        click.echo(f"gave up the subscription {forget!r}: {_count(given_up.events, 'event', 'events')} of its "
                   f"cases not sent to it, {gone} dropped")
        return
    if drop_ids:
        try:
            dropped = outbox.drop(engine, list(drop_ids))
        except outbox.NotPending as e:
            raise click.UsageError(f"no undelivered delivery with id {e}; `docketwatch status` lists them") from None
        for delivery, d in dropped:
            click.echo(f"dropped delivery {delivery.id} ({d.subscription} to {delivery.recipient}, "
                       f"{delivery.attempts} attempts): {d.subject}")
        return
    try:
        subs = cfg.subscriptions(name)
    except ConfigError as e:
        raise click.UsageError(str(e)) from None
    if name is None and (admin := cfg.admin_subscription):
        subs.append(admin)  # operator alerts wait in the outbox too
    if dry_run:
        planned = outbox.plan(cfg, engine, subs)
        for d, to, events in planned:
            parts = d.rendered()
            click.echo(f"--- {d.subscription} ({d.channel}) to {', '.join(to)}, {events} events\n"
                       f"Subject: {d.subject}\n")
            click.echo(parts.get("txt") or parts["md"])
        if not planned:
            click.echo("nothing is due")
        return
    if retry_failed:
        click.echo(f"{outbox.retry_failed(engine, subs)} failing deliveries put back in line")
    report = outbox.run(cfg, engine, subs)
    for a in report.attempts:
        d, delivery = a.digest, a.delivery
        if a.ok:
            click.echo(f"{d.subscription}: sent {d.subject!r} to {a.detail}")
        elif delivery.attempts >= cfg.outbox.max_attempts:
            click.echo(f"{d.subscription}: NOT DELIVERED to {delivery.recipient} after {delivery.attempts} attempts "
                       f"(retried every {outbox.MAX_BACKOFF.total_seconds() / 3600:g} h; give it up: "
                       f"docketwatch digest --drop {delivery.id}): {a.detail}")
        else:
            click.echo(f"{d.subscription}: not delivered to {delivery.recipient} (attempt {delivery.attempts} of "
                       f"{cfg.outbox.max_attempts}, next after {delivery.next_attempt_at:%Y-%m-%d %H:%M} UTC): "
                       f"{a.detail}")
    for error in report.errors:
        click.echo(f"error: {error}")
    if not report.attempts and not report.errors:
        click.echo("nothing is due")
    if not report.ok:
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["html", "txt", "md"]), default="html", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of printing.")
@click.pass_obj
def preview(obj: _Context, fmt: str, out: Path | None) -> None:
    """Render a digest of the latest stored events (or of sample entries when there are none)."""
    from sqlmodel import Session

    from docketwatch import store
    from docketwatch.pipeline import digests, render

    cfg = obj.load()
    with Session(store.open_engine(cfg.database.url)) as session:
        text = render.render(cfg, digests.preview(session, cfg), fmt)
    if out is None:
        click.echo(text, nl=False)
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as e:
            click.echo(f"preview --out {out}: cannot write {e.filename or out}: {e.strerror}", err=True)
            sys.exit(EXIT_FAILED)
        click.echo(f"wrote {out}", err=True)


@cli.command()
@click.option("--once", is_flag=True,
              help="Run every job once and exit (for cron and systemd timers); exit 3 when a case failed.")
@click.pass_obj
def run(obj: _Context, once: bool) -> None:
    """Run the scheduler: poll on the plan's intervals, send digests on their schedules."""
    from docketwatch import store
    from docketwatch.ops import lock, service

    cfg = obj.load(default_log_level="INFO")
    try:
        failed = service.run(cfg, store.open_engine(cfg.database.url), once=once, load=obj.reload)
    except lock.AlreadyRunning as e:
        click.echo(f"docketwatch run: {e}", err=True)
        sys.exit(EXIT_FAILED)
    if failed:
        click.echo(f"docketwatch run --once: {len(failed)} case(s) failed: {'; '.join(failed)}", err=True)
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def prune(obj: _Context, dry_run: bool, as_json: bool) -> None:
    """Remove history older than [retention] days, check runs older than check_run_days; keep entries."""
    from docketwatch import store
    from docketwatch.ops import retention
    from docketwatch.store.models import iso

    cfg = obj.load()
    engine = store.open_engine(cfg.database.url)
    result = retention.prune(engine, cfg, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "days": cfg.retention.days, "cutoff": iso(result.cutoff),
                               "check_run_days": cfg.retention.check_run_days,
                               "check_run_cutoff": iso(result.check_run_cutoff), "removed": result.counts()}, indent=2))
        return
    click.echo(f"{'would remove' if dry_run else 'removed'} history from before {iso(result.cutoff)} "
               f"([retention] days = {cfg.retention.days}), check runs from before {iso(result.check_run_cutoff)} "
               f"(check_run_days = {cfg.retention.check_run_days}):")
    for table, count in result.counts().items():
        click.echo(f"  {table.replace('_', ' '):<12} {count:>8}")


@cli.command(name="plan")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def plan_(obj: _Context, as_json: bool) -> None:
    """How often `run` polls each case and feed, what that costs, and how late news can be."""
    from sqlmodel import Session

    from docketwatch import store
    from docketwatch.ops import plan

    cfg = obj.load()
    with Session(store.open_engine(cfg.database.url)) as session:
        report = plan.report(session, cfg)
    rows, unwatched = report.jobs, report.unwatched
    if as_json:
        click.echo(json.dumps({"jobs": [r.as_json() for r in rows], "unwatched": unwatched,
                               "sources": [summary for summary, _ in report.summaries if summary]}, indent=2))
        return
    click.echo(f"{'source':<14} {'case or court':<44} {'every':>7} {'API every':>9} {'req/day':>8} "
               f"{'API/day':>8} {'new seen':>9} {'changes':>8}")
    for r in rows:
        # A job serving several cases (a court's feed, a board's search) is named by its court.
        name = (r.case or f"all {r.court} cases ({len(r.cases)})")[:44]
        click.echo(f"{r.source:<14} {name:<44} {plan.span(r.interval):>7} {plan.span(r.api_interval):>9} "
                   f"{r.requests_per_day:>8.1f} {r.budgeted_per_day:>8.1f} {plan.span(r.new_filing_delay):>9} "
                   f"{plan.span(r.change_delay):>8}")
    for _, lines in report.summaries:
        if lines:
            click.echo("")
        for line in lines:
            click.echo(line)
    if unwatched:
        click.echo("\nnot watched:")
        for u in unwatched:
            click.echo(f"  {u['case']} ({u['source']}): {u['text']}")


# -- the watchlist from the command line --------------------------------------------


def _edit_failed(e: Exception) -> None:
    """A watchlist edit that could not be made: the file or the arguments (exit 2), or a lookup (exit 3)."""
    from docketwatch import redact, watchlist

    click.echo(f"docketwatch: {redact.scrub(str(e))}", err=True)
    sys.exit(EXIT_FAILED if isinstance(e, watchlist.LookupFailed) else 2)


@cli.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def init(obj: _Context, path: Path | None) -> None:
    """Write a starter configuration with comments to PATH (default: --config, else ./docketwatch.toml)."""
    from docketwatch import watchlist
    from docketwatch.settings import ConfigError

    target = path or Path(obj.config_path or "docketwatch.toml")
    try:
        watchlist.init(target)
    except ConfigError as e:
        _edit_failed(e)
    click.echo(f"wrote {target}; add cases with: docketwatch --config {target} add URL|ID|COURT DOCKET_NUMBER")


@cli.command()
@click.argument("reference", nargs=-1, metavar="URL|ID|COURT DOCKET_NUMBER")
@click.option("--name", help="The case's name (default: CourtListener's, or court and number).")
@click.option("--court", help="Court id (e.g. cand): for a docket URL or id read without a token, "
                               "or with a docket number.")
@click.option("--suggestion", "suggestion_id", type=ROW_ID, metavar="ID",
              help="Watch a suggested docket instead (`docketwatch suggestions` lists them).")
@click.pass_obj
def add(obj: _Context, reference: tuple[str, ...], name: str | None, court: str | None,
        suggestion_id: int | None) -> None:
    """Add a case to the configuration file, keeping its comments: a CourtListener docket
    URL or id (looked up), or a court id and a docket number (no lookup; one written
    without its office, like 24-cv-5417, is completed from CourtListener with a token),
    or a suggested docket (--suggestion ID)."""
    from docketwatch import watchlist
    from docketwatch.settings import ConfigError

    if suggestion_id is not None:
        if reference or name or court:
            raise click.UsageError("--suggestion ID takes no URL, id, court, docket number or --name")
        _accept_suggestion(obj, suggestion_id)
        return
    if not reference:
        raise click.UsageError("give a CourtListener docket URL or id, a court and a docket number, "
                               "or --suggestion ID")
    cfg = obj.load()
    try:
        added = watchlist.add(cfg, list(reference), name=name, court=court)
    except (ConfigError, watchlist.LookupFailed) as e:
        _edit_failed(e)
    c = added.case
    pinned = "".join(f", {key.replace('_', ' ')} {value}" for key, value in added.keys.items())
    click.echo(f"added {c.name!r} ({c.court} {c.docket_number}{pinned}) to {cfg.path}")
    click.echo(f"  {added.how}" if added.how else "  as given (no lookup)")


@cli.command()
@click.argument("case", shell_complete=_complete_case)
@click.pass_obj
def remove(obj: _Context, case: str) -> None:
    """Remove CASE from the configuration file (its stored entries stay in the database)."""
    from docketwatch import watchlist
    from docketwatch.settings import ConfigError

    cfg = obj.load()
    try:
        removed = watchlist.remove(cfg, case)
    except ConfigError as e:
        _edit_failed(e)
    click.echo(f"removed {removed.label} from {cfg.path}")


@cli.command()
@click.argument("case", shell_complete=_complete_case)
@click.pass_obj
def pause(obj: _Context, case: str) -> None:
    """Stop polling CASE (`paused = true` in the file); `resume` starts again."""
    _pause(obj, case, True)


@cli.command()
@click.argument("case", shell_complete=_complete_case)
@click.pass_obj
def resume(obj: _Context, case: str) -> None:
    """Poll a paused CASE again."""
    _pause(obj, case, False)


def _pause(obj: _Context, case: str, paused: bool) -> None:
    from docketwatch import watchlist
    from docketwatch.settings import ConfigError

    cfg = obj.load()
    try:
        changed = watchlist.pause(cfg, case, paused)
    except ConfigError as e:
        _edit_failed(e)
    click.echo(f"{'paused' if paused else 'resumed'} {changed.label} in {cfg.path}")


@cli.command()
@click.argument("case", shell_complete=_complete_case)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only entries filed on or after this day (entered, for those with no date filed).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def entries(obj: _Context, case: str, since: datetime | None, as_json: bool) -> None:
    """The entries stored for CASE, newest first."""
    from docketwatch import store
    from docketwatch.ops import status as status_mod

    cfg = obj.load()
    chosen = obj.select(cfg, (case,))
    engine = store.open_engine(cfg.database.url)
    found = {c.label: status_mod.entries(cfg, engine, c, since.date() if since else None) for c in chosen}
    if as_json:
        click.echo(json.dumps({"cases": [{"name": c.name, "court": c.court, "docket_number": c.docket_number,
                                          "entries": found[c.label]} for c in chosen]}, indent=2))
        return
    for c in chosen:
        click.echo(f"{c.label}: {len(found[c.label])} entries stored")
        for e in found[c.label]:
            click.echo(f"  {_entry_line(e)}")


@cli.command(name="test-notify")
@click.argument("subscription")
@click.pass_obj
def test_notify(obj: _Context, subscription: str) -> None:
    """Send a test message through SUBSCRIPTION's channel, to each of its recipients, and
    print what the server said (nothing is stored)."""
    from docketwatch.pipeline import outbox
    from docketwatch.settings import ConfigError

    cfg = obj.load()
    try:
        sub = cfg.subscriptions(subscription)[0]
    except ConfigError as e:
        raise click.UsageError(str(e)) from None
    results = outbox.test_message(cfg, sub)
    for r in results:
        click.echo(f"{sub.name} ({sub.channel}) to {r.recipient}: {'sent' if r.ok else 'FAILED'}: {r.detail}")
    if not all(r.ok for r in results):
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--all", "all_", is_flag=True, help="List answered suggestions too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def suggestions(obj: _Context, all_: bool, as_json: bool) -> None:
    """Dockets suggested by a watched case's links (appeals, transfers) or by [[discover]]
    rules; `add --suggestion ID` watches one."""
    import dataclasses

    from docketwatch import store
    from docketwatch.pipeline import follow

    cfg = obj.load()
    listed = follow.suggestions(store.open_engine(cfg.database.url), all_=all_)
    if as_json:
        click.echo(json.dumps({"suggestions": [dataclasses.asdict(s) for s in listed]}, indent=2))
        return
    if not listed:
        click.echo("no suggestions waiting" + ("" if all_ else " (--all lists answered ones)"))
    for s in listed:
        why = f"[[discover]] {s.rule}" if s.rule else s.reason
        where = " ".join(filter(None, [s.court, s.docket_number])) or "no docket number yet"
        click.echo(f"{s.id:>4}  {s.status:<9}  {where:<22}  {why:<10}  {s.name or ''}")


def _accept_suggestion(obj: _Context, suggestion_id: int) -> None:
    from docketwatch import store
    from docketwatch.pipeline import follow

    cfg = obj.load()
    try:
        accepted = follow.accept_suggestion(cfg, store.open_engine(cfg.database.url), suggestion_id)
    except follow.FollowError as e:
        raise click.UsageError(str(e)) from None
    except OSError as e:
        click.echo(f"docketwatch: cannot write {cfg.path}: {e.strerror}; add the case by hand", err=True)
        raise SystemExit(EXIT_FAILED) from None
    what = "added to" if accepted.added else "already in"
    click.echo(f"{accepted.name} ({accepted.court} {accepted.docket_number}): {what} {accepted.path}; "
               "polled from the next check or start of `run`")


def _web_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An http(s) URL, by the rule the configuration's URLs follow (settings.check_http_url)."""
    if value is None:
        return None
    from docketwatch.settings import check_http_url

    try:
        return check_http_url(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL", ctx, param) from None


@cli.command()
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into: cases/<case>.atom|json, subscriptions/<name>.atom|json.")
@click.option("--base-url", callback=_web_url, metavar="URL",
              help="Where the folder is published (https://example.org/feeds): each feed names its own URL.")
@click.pass_obj
def feeds(obj: _Context, out: Path, base_url: str | None) -> None:
    """Write an Atom feed and a JSON Feed per case and per subscription (what `serve` serves)."""
    from docketwatch import store
    from docketwatch.pipeline import feeds as feeds_mod

    cfg = obj.load()
    try:
        written = feeds_mod.write(cfg, store.open_engine(cfg.database.url), out, base_url)
    except OSError as e:
        click.echo(f"feeds --out {out}: cannot write {e.filename or out}: {e.strerror}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(f"wrote {len(written)} feeds to {out}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; any but loopback needs DOCKETWATCH_WEB_TOKEN in the environment.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.pass_obj
def serve(obj: _Context, host: str, port: int) -> None:
    """Serve a read-only status page, the feeds and /healthz until stopped."""
    import os

    from docketwatch.ops import web

    cfg = obj.load()
    try:
        server = web.server(cfg, host, port, os.environ)
    except web.WebError as e:
        raise ConfigException(str(e)) from None
    click.echo(f"docketwatch: serving {server.url} (Ctrl-C stops)", err=True)
    server.run()


@cli.command()
@click.argument("query", required=False)
@click.option("--refresh", is_flag=True, help="Read the court list again from CourtListener first (no token needed).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def courts(obj: _Context, query: str | None, refresh: bool, as_json: bool) -> None:
    """Court ids and names (QUERY: part of either), with what each court's RSS feed carries."""
    from docketwatch import bootstrap
    from docketwatch.http import HttpClient, HttpError

    cfg = obj.load()
    http = HttpClient(cfg.http)
    lists = []
    for source in bootstrap.every_source(cfg).values():  # before any case uses it, too
        try:
            found = source.courts(http, refresh)
        except HttpError as e:
            click.echo(f"docketwatch courts: {e}", err=True)
            sys.exit(EXIT_FAILED)
        if found is not None:
            lists.append(found)
    needle = (query or "").casefold()
    chosen = [(found, [c for c in found.courts if needle in c.court.casefold() or needle in c.name.casefold()])
              for found in lists]
    if as_json:
        click.echo(json.dumps({"sources": [{"source": found.source, "origin": found.origin,
                                            "courts": [c.details for c in matched]}
                                           for found, matched in chosen]}, indent=2))
        return
    if not lists:
        click.echo("no registered source lists courts")
    for found, courts_found in chosen:
        click.echo(f"{found.source}: {found.origin}")
        for c in courts_found:
            click.echo(f"  {c.court:<8} {c.name[:58]:<58} {c.coverage}")
        if not courts_found:
            click.echo(f"  no court matches {query!r}")


@cli.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the .ics files (created if missing).")
@click.pass_obj
def calendar(obj: _Context, out: Path) -> None:
    """Write hearings, conferences, trials and deadlines read from the docket text as .ics
    calendars: one per case and one per subscription."""
    from sqlmodel import Session

    from docketwatch import store
    from docketwatch.pipeline import calendar as calendars

    cfg = obj.load()
    try:
        with Session(store.open_engine(cfg.database.url)) as session:
            written = calendars.write_calendars(session, cfg, out)
    except OSError as e:
        click.echo(f"docketwatch: cannot write calendars to {out}: {e.strerror or e}", err=True)
        sys.exit(EXIT_FAILED)
    for w in written:
        cancelled = f" ({w.cancelled} cancelled)" if w.cancelled else ""
        click.echo(f"{w.path.name}: {w.events} events{cancelled}  {w.what}")


def main() -> None:
    cli()
