"""`demo`, `import` and `export`: the local event store."""

from __future__ import annotations

from pathlib import Path

import click

from reportkit.cli.common import (
    warn,
)


@click.command("demo")
@click.option(
    "--events",
    type=click.IntRange(1, 100_000_000),
    default=300_000,
    show_default=True,
    help="About how many events to generate.",
)
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False),
    default=".reportkit/demo.duckdb",
    show_default=True,
    help="The store to (re)build.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same data.")
@click.option(
    "--days",
    type=click.IntRange(1, 3660),
    default=400,
    show_default=True,
    help="How many days of data, ending yesterday.",
)
def demo_command(events: int, db: str, seed: int, days: int) -> None:
    """Build the deterministic e-commerce demo store.

    Same seed, same data on any machine; a given day's events depend only on the seed and the day.

    \b
    Example:
      reportkit demo --events 1000000 --db .reportkit/demo.duckdb
    """
    from reportkit.sources.demo import build_demo

    info = build_demo(db, events=events, seed=seed, days=days)
    click.echo(
        f"built {info.path}: {info.events} events, {info.profiles} profiles,"
        f" {info.start.isoformat()} to {info.end.isoformat()} (seed {info.seed})"
    )


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False),
    required=True,
    help="The store to load into (created when missing).",
)
@click.option(
    "--timezone",
    default=None,
    help="Timezone of YYYYMMDDHHMMSS timestamps (default: the store's; a new store"
    " takes it as its timezone, else UTC).",
)
@click.option("--skip-invalid", is_flag=True, help="Load the good records, report the bad ones.")
@click.option(
    "--allow-duplicate-file",
    is_flag=True,
    help="Load a file even when the store already holds a file with the same content.",
)
@click.option(
    "--max-properties-per-import",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="Refuse an import whose files hold more distinct properties.",
)
@click.option(
    "--max-store-properties",
    type=click.IntRange(1, 100_000),
    default=2000,
    show_default=True,
    help="Refuse an import after which the store would hold more property columns"
    " (one per property and value type).",
)
def import_command(
    files: tuple[str, ...],
    db: str,
    timezone: str | None,
    skip_invalid: bool,
    allow_duplicate_file: bool,
    max_properties_per_import: int,
    max_store_properties: int,
) -> None:
    """Load JSON Lines (or JSON arrays), CSV or Parquet event files into a store, all or nothing.

    A bad record stops the import with FILE:LINE: reason and leaves the store unchanged, unless
    --skip-invalid loads the rest. A file the store already holds (same content) is refused
    unless --allow-duplicate-file.

    \b
    Example:
      reportkit import events.jsonl --db events.duckdb --timezone Europe/Berlin
    """

    from reportkit.store.importer import ImportLimits, import_events

    limits = ImportLimits(
        max_properties_per_import=max_properties_per_import,
        max_store_properties=max_store_properties,
        allow_duplicate_file=allow_duplicate_file,
    )
    summary = import_events(
        db, [Path(f) for f in files], timezone=timezone, skip_invalid=skip_invalid, limits=limits
    )
    click.echo(f"loaded {summary.loaded} events into {db}")
    if summary.skipped:
        click.echo(f"skipped {summary.skipped} invalid records:", err=True)
        for reason in summary.reasons:
            warn(f"  {reason}")


@click.command("export")
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False),
    required=True,
    help="The store to export (demo or imported).",
)
@click.option(
    "--to",
    "to",
    type=click.Path(file_okay=False),
    required=True,
    help="The folder to write TO/events/ into (replaced whole when it exists).",
)
def export_command(db: str, to: str) -> None:
    """Write a local store to Parquet in the flat layout (one events table).

    The folder loads into any warehouse, and answers through --source warehouse:parquet:DIR,
    warehouse:spark:DIR or an ibis URL; reportkit import reads it back.

    \b
    Example:
      reportkit export --db .reportkit/demo.duckdb --to warehouse/
      reportkit run reports/ --source warehouse:spark:warehouse/
    """

    from reportkit.app import export_path

    summary = export_path(Path(db), Path(to))
    click.echo(
        f"wrote {summary.events} events, {len(summary.columns)} columns to {summary.folder}"
        f" (timezone {summary.timezone})"
    )
