"""The command line: parse arguments, call the core, print. Nothing else lives here.

Exit codes: 0 every case checked, 3 some case failed (the others still stored) or a
database operation failed, 2 usage or configuration error.

Each command imports the core it calls when it runs, so `docketwatch --help` (and
importing this module) loads neither the database layer nor HTTP, parsing or templates.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from docketwatch import __version__

if TYPE_CHECKING:
    from datetime import timedelta

    from docketwatch.domain.snapshot import ParsedDocket
    from docketwatch.pipeline.poll import CaseResult
    from docketwatch.settings import CaseConfig, Config

EXIT_FAILED = 3


class ConfigException(click.ClickException):
    """A configuration error: exit code 2, like any other usage error."""

    exit_code = 2


class _Context:
    def __init__(self, config_path: str | None, log_level: str | None):
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
        return cfg

    def select(self, cfg: Config, fragments: tuple[str, ...] | list[str]) -> list[CaseConfig]:
        from docketwatch.settings import ConfigError

        try:
            return cfg.select(fragments)
        except ConfigError as e:
            raise click.UsageError(str(e)) from None


class _Cli(click.Group):
    """The command group; a database that cannot be used ends any command with one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as e:
            from docketwatch.store import StoreError  # imported already, if the command opened a database

            if not isinstance(e, StoreError):
                raise
            click.echo(f"docketwatch: {e}", err=True)
            sys.exit(e.exit_code)


@click.group(cls=_Cli)
@click.option("--config", "config_path", metavar="PATH",
              help="Configuration file (default: $DOCKETWATCH_CONFIG, else the bundled AI-copyright watchlist).")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Log level for stderr (default: the configuration's log_level; "
                   "else INFO for run, WARNING otherwise).")
@click.version_option(__version__, prog_name="docketwatch")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str | None) -> None:
    """Watch public court dockets and report what is new."""
    ctx.obj = _Context(config_path, log_level)


@cli.command()
@click.argument("case", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--notify-baseline", is_flag=True,
              help="Report a case's first poll as new entries instead of a quiet baseline.")
@click.pass_obj
def check(obj: _Context, case: tuple[str, ...], as_json: bool, notify_baseline: bool) -> None:
    """Poll CASEs (default: all) now, store, and print what is new and changed."""
    from docketwatch import store
    from docketwatch.pipeline import poll

    cfg = obj.load()
    chosen = obj.select(cfg, case)
    results = poll.check(cfg, store.open_engine(cfg.database.url), chosen, notify_baseline=notify_baseline)
    if as_json:
        click.echo(json.dumps({"cases": [_result_json(r) for r in results]}, indent=2))
    else:
        for r in results:
            _print_result(r)
    if not all(r.ok for r in results):
        sys.exit(EXIT_FAILED)


def _result_json(r: CaseResult) -> dict[str, Any]:
    return {
        "name": r.case.name, "court": r.case.court, "docket_number": r.case.docket_number,
        "ok": r.ok, "error": "; ".join(r.errors) or None, "baseline": r.baseline,
        "new": r.new, "changed": r.changed, "case_changes": r.case_changes,
        "gaps": r.gaps, "warnings": r.warnings, "no_entries": r.no_entries,
    }


def _print_result(r: CaseResult) -> None:
    head = f"{r.case.name} ({r.case.court} {r.case.docket_number})"
    if r.no_entries:
        summary = "no entries yet"
    elif r.baseline:
        summary = f"baseline recorded ({r.baseline_entries} entries)"
    else:
        summary = f"{len(r.new)} new, {len(r.changed)} changed" if (r.new or r.changed) else "nothing new"
    click.echo(f"{head}: {summary}" if r.ok else f"{head}: FAILED")
    for e in r.new:
        click.echo(f"  new      {_entry_line(e)}")
    for e in r.changed:
        click.echo(f"  changed  {_entry_line(e)}  [{'; '.join(e['changes'])}]")
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
    return f"{number:>8}  {e['date_filed'] or '????-??-??'}  {text}"


@cli.command()
@click.argument("case", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--refresh", is_flag=True, help="Poll first.")
@click.option("--health", is_flag=True,
              help="Exit 1 unless `docketwatch run` is alive, not stuck, and no source keeps failing "
                   "(for HEALTHCHECK).")
@click.pass_obj
def status(obj: _Context, case: str | None, as_json: bool, refresh: bool, health: bool) -> None:
    """Per case: entries stored, latest entry, last check and success, last error, events pending."""
    from docketwatch import store
    from docketwatch.ops import status as status_mod
    from docketwatch.pipeline import poll

    cfg = obj.load()
    chosen = obj.select(cfg, (case,) if case else ())
    engine = store.open_engine(cfg.database.url)
    if refresh:
        poll.check(cfg, engine, chosen)
    report = status_mod.status(cfg, engine, chosen)
    if health:
        for reason in report["unhealthy"]:
            click.echo(f"unhealthy: {reason}", err=True)
        if report["unhealthy"]:
            sys.exit(1)
        click.echo("healthy")
        return
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"database: {report['database']}")
    for s in report["cases"]:
        click.echo(f"\n{s['name']} ({s['court']} {s['docket_number']})  "
                   f"courtlistener id {s['courtlistener_id'] or '-'}")
        latest = s["latest_entry"]
        click.echo(f"  entries stored  {s['entries']}")
        click.echo(f"  latest entry    {_entry_line(latest).strip() if latest else '-'}")
        click.echo(f"  last checked    {s['last_checked'] or 'never'}")
        click.echo(f"  last success    {s['last_success'] or 'never'}")
        if s["last_error"]:
            recovered = s["last_success"] and s["last_success"] > s["last_error_at"]
            since = " (since recovered)" if recovered else ""
            click.echo(f"  last error      {s['last_error_at']}{since}: {s['last_error']}")
        if s["last_gap"]:
            gap = s["last_gap"]
            click.echo(f"  last gap        {gap['at']} ({gap['source']}): {gap['summary']}")
        click.echo(f"  pending events  {s['pending_events']}")
        for u in s["unwatched"]:
            click.echo(f"  not watched     {u['source']}: {u['text']}")
    for d in report["failed_digests"]:
        click.echo(f"\n{d['what']}: not delivered after {d['attempts']} attempts: {d['subject']}")
        click.echo(f"  last error      {d['last_error']}")
        click.echo(f"  next attempt    {d['next_attempt']} (or now: docketwatch digest --retry-failed; "
                   f"give it up: docketwatch digest --drop {d['id']})")
    if report["jobs"]:
        click.echo("\npoll jobs (last success, failures in a row, next run):")
        for j in report["jobs"]:
            click.echo(f"  {j['job']:<40} {j['last_success'] or 'never':<26} "
                       f"{j['consecutive_failures']:>3}  {j['next_run']}")
    for record in report["sources"]:
        click.echo()
        for line in cfg.source_plugins[record["source"]].status_lines(record):
            click.echo(line)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--court", help="Court id, when the file does not name it (e.g. cand).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file per line.")
def parse(paths: tuple[str, ...], court: str | None, as_json: bool) -> None:
    """Print what docketwatch reads from saved PACER files; stores nothing."""
    from docketwatch import parsers
    from docketwatch.pipeline import poll

    failed = False
    for path in paths:
        try:
            parsed = parsers.parse(Path(path).read_bytes(), court)
        except parsers.ParseError as e:
            click.echo(f"{path}: {e}", err=True)
            failed = True
            continue
        if as_json:
            click.echo(json.dumps({"path": path, "kind": parsed.kind, "court": parsed.court,
                                   "dockets": [_docket_json(d) for d in parsed.dockets]}))
            continue
        entries = sum(len(d.entries) for d in parsed.dockets)
        click.echo(f"{path}: {parsed.kind}, court {parsed.court or '?'}, "
                   f"{len(parsed.dockets)} docket(s), {entries} entries")
        if parsed.entry_types:
            click.echo(f"  feed carries: {parsed.entry_types}")
        for d in parsed.dockets:
            click.echo(f"  {d.docket_number}  {d.case_name or ''}  ({len(d.entries)} entries)")
            for entry in d.entries:
                click.echo(f"    {_entry_line(poll.entry_view(entry))}")
    if failed:
        sys.exit(EXIT_FAILED)


def _docket_json(d: ParsedDocket) -> dict[str, Any]:
    return {
        "docket_number": d.docket_number, "case_name": d.case_name, "pacer_case_id": d.pacer_case_id,
        "entries": [{"document_number": e.entry_number,
                     "date_filed": e.date_filed.isoformat() if e.date_filed else None,
                     "description": e.description, "short_description": e.short_description,
                     "pacer_doc_id": e.pacer_doc_id} for e in d.entries],
    }


@cli.command(name="import")
@click.argument("location", metavar="PATH|URL")
@click.option("--case", "case", help="The configured case to import into (default: matched by docket number).")
@click.option("--court", help="Court id, when the file does not name it.")
@click.pass_obj
def import_(obj: _Context, location: str, case: str | None, court: str | None) -> None:
    """Backfill a case from a saved docket report (stored quietly, without "new" events)."""
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
    except (OSError, ValueError, HttpError) as e:
        click.echo(f"{location}: {e}", err=True)
        sys.exit(EXIT_FAILED)
    for r in results:
        click.echo(f"{r.case.name} ({r.case.court} {r.case.docket_number}): {r.entries} entries read from the "
                   f"{r.kind}, {r.added} new to docketwatch, {r.updated} updated")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def cases(obj: _Context, as_json: bool) -> None:
    """The configured cases with their resolved CourtListener ids."""
    from sqlmodel import Session

    from docketwatch import store

    cfg = obj.load()
    with Session(store.open_engine(cfg.database.url)) as session:
        stored = [store.find_case(session, c) for c in cfg.cases]
    rows = [
        {"name": c.name, "court": c.court, "docket_number": c.docket_number,
         "courtlistener_id": (row.courtlistener_id if row else None) or c.courtlistener_id, "sources": c.sources}
        for c, row in zip(cfg.cases, stored, strict=True)
    ]
    if as_json:
        click.echo(json.dumps({"config": str(cfg.path), "cases": rows}, indent=2))
        return
    click.echo(f"config: {cfg.path}")
    for r in rows:
        click.echo(f"{r['court']:<5} {r['docket_number']:<15} {str(r['courtlistener_id'] or '-'):>9}  {r['name']}")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print what would be sent now; change nothing.")
@click.option("--name", metavar="NAME", help="Only the [[digests]] subscription NAME.")
@click.option("--retry-failed", is_flag=True, help="First make deliveries that failed before due now.")
@click.option("--drop", "drop_ids", metavar="ID", type=int, multiple=True,
              help="Give up the undelivered delivery ID (as `status` lists it) and send nothing; repeatable.")
@click.pass_obj
def digest(obj: _Context, dry_run: bool, name: str | None, retry_failed: bool, drop_ids: tuple[int, ...]) -> None:
    """Build the digests that are due and deliver them (and earlier ones waiting for a retry)."""
    from docketwatch import store
    from docketwatch.pipeline import outbox
    from docketwatch.settings import ConfigError

    cfg = obj.load()
    engine = store.open_engine(cfg.database.url)
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
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


@cli.command()
@click.option("--once", is_flag=True, help="Run every job once and exit (for cron and systemd timers).")
@click.pass_obj
def run(obj: _Context, once: bool) -> None:
    """Run the scheduler: poll on the plan's intervals, send digests on their schedules."""
    from docketwatch import store
    from docketwatch.ops import lock, service

    cfg = obj.load(default_log_level="INFO")
    try:
        service.run(cfg, store.open_engine(cfg.database.url), once=once)
    except lock.AlreadyRunning as e:
        click.echo(f"docketwatch run: {e}", err=True)
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def prune(obj: _Context, dry_run: bool, as_json: bool) -> None:
    """Remove history older than [retention] days (check runs, events, delivered digests); keep entries."""
    from docketwatch import store
    from docketwatch.ops import retention
    from docketwatch.store.models import iso

    cfg = obj.load()
    engine = store.open_engine(cfg.database.url)
    result = retention.prune(engine, cfg, retention.cutoff(cfg), dry_run=dry_run)
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "days": cfg.retention.days, "cutoff": iso(result.cutoff),
                               "removed": result.counts()}, indent=2))
        return
    click.echo(f"{'would remove' if dry_run else 'removed'} history from before {iso(result.cutoff)} "
               f"([retention] days = {cfg.retention.days}):")
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
    from docketwatch.store.models import utcnow

    cfg = obj.load()
    with Session(store.open_engine(cfg.database.url)) as session:
        active = plan.active_cases(session, cfg, utcnow().date())
    rows = plan.make_plan(cfg, active)
    unwatched = [u for case in cfg.cases for u in plan.unwatched(cfg, case)]
    summaries = [source.plan_summary([r for r in rows if r.source == name])
                 for name, source in cfg.source_plugins.items()]
    if as_json:
        click.echo(json.dumps({"jobs": [r.as_json() for r in rows], "unwatched": unwatched,
                               "sources": [summary for summary, _ in summaries if summary]}, indent=2))
        return
    click.echo(f"{'source':<14} {'case or court':<44} {'every':>7} {'API every':>9} {'req/day':>8} "
               f"{'API/day':>8} {'new seen':>9} {'changes':>8}")
    for r in rows:
        name = (r.case or f"{r.court} feed ({len(r.cases)} cases)")[:44]
        click.echo(f"{r.source:<14} {name:<44} {_span(r.interval):>7} {_span(r.api_interval):>9} "
                   f"{r.requests_per_day:>8.1f} {r.budgeted_per_day:>8.1f} {_span(r.new_filing_delay):>9} "
                   f"{_span(r.change_delay):>8}")
    for _, lines in summaries:
        if lines:
            click.echo("")
        for line in lines:
            click.echo(line)
    if unwatched:
        click.echo("\nnot watched:")
        for u in unwatched:
            click.echo(f"  {u['case']} ({u['source']}): {u['text']}")


def _span(d: timedelta | None) -> str:
    """A timedelta as 45m, 2.5h, 1.2d; '-' for none."""
    if d is None:
        return "-"
    seconds = d.total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


@cli.command(name="follow")
@click.argument("suggestion_id", metavar="[ID]", type=int, required=False)
@click.option("--all", "all_", is_flag=True, help="List answered suggestions too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def follow_(obj: _Context, suggestion_id: int | None, all_: bool, as_json: bool) -> None:
    """List suggested dockets (linked by a watched case, or found by [[discover]]); with ID, watch one."""
    import dataclasses

    from docketwatch import store
    from docketwatch.pipeline import follow

    cfg = obj.load()
    engine = store.open_engine(cfg.database.url)
    if suggestion_id is None:
        listed = follow.suggestions(engine, all_=all_)
        if as_json:
            click.echo(json.dumps({"suggestions": [dataclasses.asdict(s) for s in listed]}, indent=2))
            return
        if not listed:
            click.echo("no suggestions waiting" + ("" if all_ else " (--all lists answered ones)"))
        for s in listed:
            why = f"[[discover]] {s.rule}" if s.rule else s.reason
            where = " ".join(filter(None, [s.court, s.docket_number])) or "no docket number yet"
            click.echo(f"{s.id:>4}  {s.status:<9}  {where:<22}  {why:<10}  {s.name or ''}")
        return
    try:
        accepted = follow.accept_suggestion(cfg, engine, suggestion_id)
    except follow.FollowError as e:
        raise click.UsageError(str(e)) from None
    except OSError as e:
        click.echo(f"docketwatch: cannot write {cfg.path}: {e.strerror}; add the case by hand", err=True)
        raise SystemExit(EXIT_FAILED) from None
    if as_json:
        click.echo(json.dumps({**dataclasses.asdict(accepted), "path": str(accepted.path)}, indent=2))
        return
    what = "added to" if accepted.added else "already in"
    click.echo(f"{accepted.name} ({accepted.court} {accepted.docket_number}): {what} {accepted.path}; "
               "polled from the next check or start of `run`")


def main() -> None:
    cli()
