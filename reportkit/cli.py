"""The `reportkit` command: a thin face over the library.

Commands parse arguments, call the library and map its errors to exit codes
(0 ok, 1 a run failed, 2 invalid input). Heavy modules are imported inside commands.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from reportkit import __version__
from reportkit.errors import ReportkitError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReportkitError as exc:
            _fail(exc)


def _fail(exc: ReportkitError) -> NoReturn:
    click.echo(f"error: {exc}" if "\n" not in str(exc) else str(exc), err=True)
    sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="reportkit")
def cli() -> None:
    """Declarative, YAML-driven reports over CleverTap-style event analytics.

    \b
    Example:
      reportkit validate reports/
      reportkit run reports/weekly-ecommerce.yaml --as-of 2026-11-30
    """


def main() -> None:
    cli(prog_name="reportkit")


@cli.command("demo")
@click.option("--events", type=click.IntRange(min=1), default=300_000, show_default=True,
              help="About how many events to generate.")
@click.option("--db", "db", type=click.Path(dir_okay=False), default=".reportkit/demo.duckdb",
              show_default=True, help="The store to (re)build.")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same data.")
@click.option("--days", type=click.IntRange(min=1), default=400, show_default=True,
              help="How many days of data, ending yesterday.")
def demo_command(events: int, db: str, seed: int, days: int) -> None:
    """Build the deterministic e-commerce demo store."""
    from reportkit.sources.demo import build_demo

    info = build_demo(db, events=events, seed=seed, days=days)
    click.echo(
        f"built {info.path}: {info.events} events, {info.profiles} profiles,"
        f" {info.start.isoformat()} to {info.end.isoformat()} (seed {info.seed})"
    )


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--db", "db", type=click.Path(dir_okay=False), required=True,
              help="The store to load into (created when missing).")
@click.option("--timezone", default=None,
              help="Timezone of YYYYMMDDHHMMSS timestamps (default: the store's; a new store"
              " takes it as its timezone, else UTC).")
@click.option("--skip-invalid", is_flag=True, help="Load the good records, report the bad ones.")
def import_command(files: tuple[str, ...], db: str, timezone: str | None, skip_invalid: bool) -> None:
    """Load JSON Lines, CSV or Parquet event files into a local store, all or nothing."""
    from pathlib import Path

    from reportkit.importer import import_events

    summary = import_events(
        db, [Path(f) for f in files], timezone=timezone, skip_invalid=skip_invalid
    )
    click.echo(f"loaded {summary.loaded} events into {db}")
    if summary.skipped:
        click.echo(f"skipped {summary.skipped} invalid records:", err=True)
        for reason in summary.reasons:
            click.echo(f"  {reason}", err=True)
