"""The command line: parse arguments, call the core, print. Nothing else lives here.

Exit codes: 0 every case checked, 3 some case failed (the others still stored),
2 usage or configuration error.
"""

from __future__ import annotations

import json
import logging
import sys

import click
from sqlmodel import Session

from docketwatch import __version__, checks, config as config_mod, status as status_mod, store
from docketwatch.checks import CaseResult

EXIT_FAILED = 3


class ConfigException(click.ClickException):
    """A configuration error: exit code 2, like any other usage error."""

    exit_code = 2


class _Context:
    def __init__(self, config_path: str | None):
        self.config_path = config_path

    def load(self) -> config_mod.Config:
        try:
            return config_mod.load(config_mod.resolve_path(self.config_path))
        except config_mod.ConfigError as e:
            raise ConfigException(str(e)) from None

    def select(self, cfg: config_mod.Config, fragments) -> list[config_mod.CaseConfig]:
        try:
            return cfg.select(fragments)
        except config_mod.ConfigError as e:
            raise click.UsageError(str(e)) from None


@click.group()
@click.option("--config", "config_path", metavar="PATH", help="Configuration file (default: $DOCKETWATCH_CONFIG, else the bundled AI-copyright watchlist).")
@click.option("--log-level", default="WARNING", show_default=True, type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.version_option(__version__, prog_name="docketwatch")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str) -> None:
    """Watch public court dockets and report what is new."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = _Context(config_path)


@cli.command()
@click.argument("case", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--notify-baseline", is_flag=True, help="Report a case's first poll as new entries instead of a quiet baseline.")
@click.pass_obj
def check(obj: _Context, case: tuple[str, ...], as_json: bool, notify_baseline: bool) -> None:
    """Poll CASEs (default: all) now, store, and print what is new and changed."""
    cfg = obj.load()
    chosen = obj.select(cfg, case)
    results = checks.check(cfg, store.open_engine(cfg.database.url), chosen, notify_baseline=notify_baseline)
    if as_json:
        click.echo(json.dumps({"cases": [_result_json(r) for r in results]}, indent=2))
    else:
        for r in results:
            _print_result(r)
    if not all(r.ok for r in results):
        sys.exit(EXIT_FAILED)


def _result_json(r: CaseResult) -> dict:
    return {
        "name": r.case.name, "court": r.case.court, "docket_number": r.case.docket_number,
        "ok": r.ok, "error": "; ".join(r.errors) or None, "baseline": r.baseline,
        "new": r.new, "changed": r.changed, "case_changes": r.case_changes,
        "gaps": r.gaps, "warnings": r.warnings,
    }


def _print_result(r: CaseResult) -> None:
    head = f"{r.case.name} ({r.case.court} {r.case.docket_number})"
    if r.baseline:
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


def _entry_line(e: dict) -> str:
    number = f"#{e['entry_number']}" if e["entry_number"] else "(minute)"
    text = e["description"]
    text = text if len(text) <= 100 else text[:97] + "..."
    return f"{number:>8}  {e['date_filed'] or '????-??-??'}  {text}"


@cli.command()
@click.argument("case", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--refresh", is_flag=True, help="Poll first.")
@click.pass_obj
def status(obj: _Context, case: str | None, as_json: bool, refresh: bool) -> None:
    """Per case: entries stored, latest entry, last check and success, last error, events pending."""
    cfg = obj.load()
    chosen = obj.select(cfg, (case,) if case else ())
    engine = store.open_engine(cfg.database.url)
    if refresh:
        checks.check(cfg, engine, chosen)
    report = status_mod.status(cfg, engine, chosen)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"database: {report['database']}")
    for s in report["cases"]:
        click.echo(f"\n{s['name']} ({s['court']} {s['docket_number']})  courtlistener id {s['courtlistener_id'] or '-'}")
        latest = s["latest_entry"]
        click.echo(f"  entries stored  {s['entries']}")
        click.echo(f"  latest entry    {_entry_line(latest).strip() if latest else '-'}")
        click.echo(f"  last checked    {s['last_checked'] or 'never'}")
        click.echo(f"  last success    {s['last_success'] or 'never'}")
        if s["last_error"]:
            recovered = s["last_success"] and s["last_success"] > s["last_error_at"]
            click.echo(f"  last error      {s['last_error_at']}{' (since recovered)' if recovered else ''}: {s['last_error']}")
        click.echo(f"  pending events  {s['pending_events']}")
    for src in report["sources"]:
        line = f"\n{src['source']}: {src['mode']} mode, {src['requests_24h']} API requests in the last 24 h"
        if src["mode"] == "api":
            line += f" of {src['daily_request_budget']} (about {src['api_polls_per_case_per_day']} API polls per case a day)"
        click.echo(line)
        if src["budget_limits_freshness"]:
            click.echo(f"  the request budget is spent: cases are polled through the 30-entry feed until {src['budget_frees_at']}")
        if src["throttled_until"]:
            click.echo(f"  throttled by the server until {src['throttled_until']}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def cases(obj: _Context, as_json: bool) -> None:
    """The configured cases with their resolved CourtListener ids."""
    cfg = obj.load()
    with Session(store.open_engine(cfg.database.url)) as session:
        stored = [store.find_case(session, c) for c in cfg.cases]
    rows = [
        {"name": c.name, "court": c.court, "docket_number": c.docket_number,
         "courtlistener_id": (row.courtlistener_id if row else None) or c.courtlistener_id, "sources": c.sources}
        for c, row in zip(cfg.cases, stored)
    ]
    if as_json:
        click.echo(json.dumps({"config": str(cfg.path), "cases": rows}, indent=2))
        return
    click.echo(f"config: {cfg.path}")
    for r in rows:
        click.echo(f"{r['court']:<5} {r['docket_number']:<15} {str(r['courtlistener_id'] or '-'):>9}  {r['name']}")


def main() -> None:
    cli()
