"""The `reportkit` command: a thin face over the library.

Commands parse arguments, call the library and map its errors to exit codes
(0 ok, 1 a run failed, 2 invalid input, 3 `run`: a check of severity fail failed). Heavy
modules are imported inside commands.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from reportkit import __version__
from reportkit.errors import ReportkitError, SpecError
from reportkit.language.model import FILTER_LISTS
from reportkit.text import inert_text

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into `Interrupted` while a command runs, so that it unwinds as Ctrl-C does:
    every `finally` on the way out runs (staging folders go, the source is closed). Only the
    first signal raises; a second one does not cut that clean-up short."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    fired = False

    def interrupt(signum: int, frame: object) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise Interrupted(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _sigterm_interrupts():
                return super().invoke(ctx)
        except ReportkitError as exc:
            _fail(exc)
        except KeyboardInterrupt as exc:
            how = f" ({exc})" if isinstance(exc, Interrupted) else ""
            click.echo(f"error: interrupted{how}", err=True)
            sys.exit(1)


def _warn(text: str) -> None:
    """A problem on stderr, one line. Messages quote data (event names, values, a server's
    answer): an ESC or a BEL in them would be a command to the terminal, so control characters
    are replaced, and a line break is shown as \\n so that one problem stays one line."""
    click.echo(inert_text(text.replace("\r", "\\r").replace("\n", "\\n")), err=True)


def _fail(exc: ReportkitError) -> NoReturn:
    # Located problems (FILE:LINE:COLUMN: ...) stand alone, one per line, as linters print them.
    if isinstance(exc, SpecError):
        for problem in exc.problems:  # each already one line: values are escaped where echoed
            _warn(problem)
    else:
        _warn(f"error: {exc}")
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


AS_OF = click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the report is run on, YYYY-MM-DD. Default: today in the report's timezone.",
)
STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=Path(".reportkit"),
    show_default=True,
    help="Where the demo store, the answer cache and the record of sent mail live.",
)
SMTP_URL = click.option(
    "--smtp-url", help="SMTP server, e.g. smtp://user:pass@host:587 (default: $REPORTKIT_SMTP_URL)."
)


class _Seconds(click.FloatRange):
    """A finite number of seconds from 0 (or just above, unless `zero`) to `most`.

    FloatRange alone lets "nan" through, since every comparison with nan is false.
    """

    name = "number"

    def __init__(self, most: float, *, zero: bool = False) -> None:
        super().__init__(min=0, max=most, min_open=not zero)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


PATHS = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=False)
)


@cli.command()
@PATHS
@click.option(
    "--source",
    "source_text",
    default=None,
    help="Also check every event and property name against this source's catalog: demo,"
    " local:PATH or clevertap (what the answer cache shows).",
)
@STATE_DIR
def validate(paths: tuple[Path, ...], source_text: str | None, state_dir: Path) -> None:
    """Check report definitions (files or folders) against the schema.

    Prints one line FILE:LINE:COLUMN: path: message for every problem and exits 2 when there is
    any; exits 0 when every definition is valid. With --source, a name the source does not hold
    is a problem too, with the name it most likely meant.

    \b
    Example:
      reportkit validate reports/
      reportkit validate reports/ --source local:events.duckdb
    """
    from reportkit.app import validate_paths

    reports = validate_paths(list(paths), source=source_text, state_dir=state_dir)
    noun = "definition is" if len(reports) == 1 else "definitions are"
    click.echo(f"ok: {len(reports)} report {noun} valid")


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@AS_OF
@click.option("--json", "as_json", is_flag=True, help="Print the requests as a JSON array.")
def plan(path: Path, as_of: datetime | None, as_json: bool) -> None:
    """Show the resolved windows and the API requests a report would send.

    Groups of one event and window are merged into one request, and identical requests are
    listed once, as they would be sent.

    \b
    Example:
      reportkit plan reports/weekly-ecommerce.yaml --as-of 2026-11-30 --json
    """
    import json  # plan's output quotes request bodies; --help does not need it

    from reportkit.app import plan_path

    report, day, planned = plan_path(path, as_of.date() if as_of else None)
    if as_json:
        rows = [request.describe() for request in planned.requests]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo(f"{report.id}: {report.title}")
    click.echo(f"as of {day.isoformat()} ({report.timezone}), compare: {report.compare or 'none'}")
    click.echo("")
    click.echo("windows:")
    width = max(len(q.id) for q in report.queries)
    for query, window in zip(report.queries, planned.windows, strict=True):
        previous = f"  vs {window.previous}" if window.previous else ""
        click.echo(
            f"  {query.id:<{width}}  {query.window.describe():<16} {window.current}"
            f"  ({window.current.days} days){previous}"
        )
    click.echo("")
    click.echo(f"requests: {len(planned.requests)}")
    for request in planned.requests:
        body = request.body
        groups = ", ".join(body.get("groups", {}))
        serves = sorted(
            {
                f"{s.query_id}" + ("" if s.role == "current" else " (previous)")
                for s in request.serves
            }
        )
        click.echo(
            f"  POST {request.endpoint:<24} {body['event_name']!r} {body['from']}-{body['to']}"
            + (f" groups: {groups}" if groups else "")
        )
        for key in FILTER_LISTS.values():
            if key in body:  # exactly as the body carries them
                click.echo(f"       {key}: {json.dumps(body[key], ensure_ascii=False)}")
        click.echo(f"       serves {', '.join(serves)}")


@cli.command("catalog")
@click.option(
    "--source",
    "source_text",
    default="demo",
    show_default=True,
    help="demo, local:PATH (a DuckDB store) or clevertap (what earlier answers in the cache show).",
)
@click.option(
    "--window",
    default="last_30_days",
    show_default=True,
    help="Count over this window (any relative window a report may name), or `all`.",
)
@AS_OF
@STATE_DIR
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
def catalog_command(
    source_text: str, window: str, as_of: datetime | None, state_dir: Path, as_json: bool
) -> None:
    """List the events a source holds and their properties (event, session, profile), with the
    value type and how many events (or profiles) have a value.

    \b
    Example:
      reportkit catalog --source local:events.duckdb --window last_7_days
      reportkit catalog --source clevertap --json
    """
    import json

    from reportkit.app import source_catalog
    from reportkit.language.model import WindowSpec
    from reportkit.language.windows import is_window_token, resolve_window

    span = None
    if window != "all":
        if not is_window_token(window):
            raise click.BadParameter(
                f"{window!r}: write a relative window such as last_30_days, or all",
                param_hint="--window",
            )
        day = as_of.date() if as_of else datetime.now().date()
        resolved = resolve_window(WindowSpec(token=window), day)
        span = (resolved.start, resolved.end)
    found = source_catalog(source_text, state_dir=state_dir, window=span)
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
        return
    over = f"{span[0].isoformat()} .. {span[1].isoformat()}" if span else "all days"
    if not found.complete:
        over = "names seen in earlier answers, not counted; a name missing here may still exist"
    click.echo(f"{found.source}: {over}")

    def count(value: int | None) -> str:
        return "" if value is None else f"{value:,}"

    rows: list[tuple[str, str, str, str]] = []
    for event in found.events:
        rows.append((event.name, "event", "", count(event.count)))
        rows += [(f"  {p.name}", p.scope, p.type, count(p.count)) for p in event.properties]
    if found.profile:
        rows.append(("(profiles)", "", "", ""))
        rows += [(f"  {p.name}", p.scope, p.type, count(p.count)) for p in found.profile]
    if not rows:
        click.echo("  (no events)")
        return
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for name, scope, typ, number in rows:
        line = f"{name:<{widths[0]}}  {scope:<{widths[1]}}  {typ:<{widths[2]}}  {number:>10}"
        click.echo(inert_text(line.rstrip()))


def _parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        index, total = (int(part) for part in text.split("/"))
    except ValueError:
        raise click.BadParameter("write I/N, e.g. 1/4", param_hint="--shard") from None
    if total < 1:
        raise click.BadParameter(f"{text}: N must be at least 1", param_hint="--shard")
    if not 1 <= index <= total:
        raise click.BadParameter(f"{text}: I must be between 1 and N", param_hint="--shard")
    return index, total


def _parse_formats(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    formats = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in formats if f not in ("html", "pdf", "md")]
    if unknown or not formats:
        raise click.BadParameter(
            f"{','.join(unknown) or text!r}: choose from html, pdf, md", param_hint="--format"
        )
    return formats


@cli.command()
@PATHS
@AS_OF
@click.option(
    "--source",
    "source_text",
    default="demo",
    show_default=True,
    help="demo (built-in demo data), local:PATH (a DuckDB store), clevertap (your account)"
    " or warehouse:URL (spark:DIR, parquet:DIR or an ibis URL; see docs/warehouse.md).",
)
@click.option(
    "--format", "format_text", help="Comma-separated formats: html,pdf,md (default: the report's)."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Reports go to OUT/<report id>/<window end>/.",
)
@STATE_DIR
@click.option(
    "--no-cache",
    is_flag=True,
    help="Ask the source again even for cached answers, and refresh the cache with the new ones.",
)
@click.option(
    "--shard",
    "shard_text",
    metavar="I/N",
    help="Run only the I-th of N disjoint shares of the reports.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifests as JSON on stdout.")
@click.option(
    "--region",
    help="CleverTap region (eu1, in1, sg1, us1, aps3, mec1); default $CLEVERTAP_REGION or eu1.",
)
@click.option(
    "--poll-interval",
    type=_Seconds(3600),
    default=30.0,
    show_default=True,
    help="Seconds between polls of an asynchronous CleverTap query.",
)
@click.option(
    "--query-timeout",
    type=_Seconds(86400),
    default=900.0,
    show_default=True,
    help="Seconds a CleverTap query may take as a whole: requests, reads, retries, polls.",
)
@click.option(
    "--deliver",
    is_flag=True,
    help="Deliver each report as its deliver section says (email, Slack, webhook).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="With --deliver: write each message to OUT/outbox/ (.eml, .json) instead of sending.",
)
@click.option(
    "--no-fail-on-checks",
    is_flag=True,
    help="Exit 0, not 3, when a check of severity fail failed (the report is written either way).",
)
@SMTP_URL
@click.option(
    "--max-in-flight",
    type=click.IntRange(1, 50),
    default=3,
    show_default=True,
    help="CleverTap requests in flight at once per account.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="Tries of one CleverTap request when the answer is transient (5xx, 429, a reset).",
)
@click.option(
    "--backoff",
    type=_Seconds(600, zero=True),
    default=2.0,
    show_default=True,
    help="Seconds before the first retry of a CleverTap request, doubling after (with jitter).",
)
@click.option(
    "--rate-limit-backoff",
    type=_Seconds(600, zero=True),
    default=30.0,
    show_default=True,
    help="Seconds a retry waits at least after 429 Too many concurrent requests.",
)
def run(
    paths: tuple[Path, ...],
    as_of: datetime | None,
    source_text: str,
    format_text: str | None,
    out: Path,
    state_dir: Path,
    no_cache: bool,
    shard_text: str | None,
    quiet: bool,
    as_json: bool,
    region: str | None,
    poll_interval: float,
    query_timeout: float,
    max_in_flight: int,
    max_attempts: int,
    backoff: float,
    rate_limit_backoff: float,
    deliver: bool,
    dry_run: bool,
    no_fail_on_checks: bool,
    smtp_url: str | None,
) -> None:
    """Run reports and write them as HTML, PDF and Markdown.

    Each report goes to OUT/<report id>/<window end>/ with results.json and manifest.json. A
    failing query fails its report (exit 1) while the other reports still complete. When
    nothing else went wrong and a check of severity fail failed, the exit code is 3 (the reports
    are still written and delivered); --no-fail-on-checks makes it 0.

    \b
    Example:
      reportkit run reports/ --as-of 2026-11-30 --out out
      reportkit run reports/weekly-ecommerce.yaml --source local:events.duckdb --format pdf
    """
    from reportkit.app import DeliverOptions, RunOptions, check_delivery_paths, run_and_deliver
    from reportkit.sources.factory import CleverTapOptions

    delivery = DeliverOptions(smtp_url=smtp_url, dry_run=dry_run)
    if deliver:
        # a missing SMTP URL, webhook URL or token is an error before any query
        check_delivery_paths(list(paths), delivery)

    options = RunOptions(
        as_of=as_of.date() if as_of else None,
        source=source_text,
        formats=_parse_formats(format_text),
        out=out,
        state_dir=state_dir,
        use_cache=not no_cache,
        shard=_parse_shard(shard_text),
        clevertap=CleverTapOptions(
            region=region,
            poll_interval=poll_interval,
            query_timeout=query_timeout,
            max_in_flight=max_in_flight,
            max_attempts=max_attempts,
            backoff=backoff,
            rate_limit_backoff=rate_limit_backoff,
        ),
    )
    show = not quiet and not as_json and sys.stderr.isatty()
    started = time.monotonic()
    outcomes, sent = run_and_deliver(
        list(paths),
        options,
        delivery if deliver else None,
        progress=show,
        on_finished=None if quiet else lambda source: _tell_traffic(source, started),
    )
    failed = checks_failed = False
    manifests = []
    for outcome in outcomes:
        if outcome.ok and outcome.manifest is not None:
            manifests.append(outcome.manifest.to_dict())
            if not as_json:
                click.echo(f"ok      {outcome.report.id}  {outcome.out_dir}")
                _tell_carried_over(outcome.manifest)
            _tell_checks(outcome)
            checks_failed = checks_failed or bool(outcome.failed_checks)
            continue
        failed = True
        click.echo(f"FAILED  {outcome.report.id}", err=True)
        for failure in outcome.failures:
            _warn(f"  {failure}")
        if outcome.error:
            _warn(f"  {outcome.error}")
    if as_json:
        import json

        click.echo(json.dumps(manifests, indent=2, ensure_ascii=False))
    if deliver:
        failed = _report_deliveries(sent, quiet=as_json) or failed
    if failed:
        sys.exit(1)
    if checks_failed and not no_fail_on_checks:
        sys.exit(3)


def _tell_checks(outcome: Any) -> None:
    """One line on stderr per failed check: fail checks as CHECK, warn checks as WARNING."""
    result = outcome.result
    for check in result.checks if result else ():
        if not check.passed:
            mark = "CHECK  " if check.severity == "fail" else "WARNING"
            where = f"{check.query}.{check.id}" if check.query else check.id
            _warn(f"{mark} {outcome.report.id}: {where}: {check.message}")


def _tell_carried_over(manifest: Any) -> None:
    """What a rerun with fewer formats did with the files of the earlier report."""
    if manifest.kept:
        click.echo(f"        kept from the earlier run (same numbers): {', '.join(manifest.kept)}")
    if manifest.removed:
        _warn(f"        removed (built from other numbers): {', '.join(manifest.removed)}")


def _tell_traffic(source: object, started: float) -> None:
    """One line on what a CleverTap run cost: requests, POSTs, polls, retries and time."""
    from reportkit.sources.clevertap import CleverTapSource

    if isinstance(source, CleverTapSource):
        seconds = time.monotonic() - started
        click.echo(f"{source.name}: {source.stats} in {seconds:.1f} s", err=True)


def _report_deliveries(outcomes: Any, *, quiet: bool = False) -> bool:
    """Print what delivery did; True when any delivery failed."""
    failed = False
    for outcome in outcomes:
        if outcome.error:
            failed = True
            _warn(f"FAILED  {outcome.report_id}: delivery: {outcome.error}")
        elif not quiet:
            d = outcome.delivery
            to = f" to {', '.join(d.recipients)}" if d.recipients and d.action != "skipped" else ""
            if d.action == "skipped" and d.channel != "email":
                to = f" on {d.channel}"
            detail = f" ({d.detail})" if d.detail else ""
            click.echo(f"{d.action:<7} {d.report_id}{to}{detail}")
    return failed


@cli.command()
@click.argument(
    "folders", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False)
)
@click.option(
    "--reports",
    "definitions",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where the report definitions (with their deliver section) are.",
)
@STATE_DIR
@click.option(
    "--dry-run", is_flag=True, help="Write .eml and .json files to --outbox instead of sending."
)
@click.option(
    "--outbox",
    type=click.Path(path_type=Path),
    default=Path("out/outbox"),
    show_default=True,
    help="Where --dry-run writes .eml and .json files.",
)
@SMTP_URL
def send(
    folders: tuple[Path, ...],
    definitions: Path,
    state_dir: Path,
    dry_run: bool,
    outbox: Path,
    smtp_url: str | None,
) -> None:
    """Deliver reports that are already built, as their definitions' deliver section says.

    \b
    Example:
      reportkit send out/weekly-ecommerce/2026-11-29 --dry-run
    """
    from reportkit.app import DeliverOptions, send_folders

    options = DeliverOptions(smtp_url=smtp_url, dry_run=dry_run)
    outcomes = send_folders(
        list(folders), [definitions], options, state_dir=state_dir, outbox=outbox
    )
    if _report_deliveries(outcomes):
        sys.exit(1)


@cli.command("demo")
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


@cli.command("import")
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
@click.option(
    "--memory-limit",
    default="300MB",
    show_default=True,
    help="DuckDB's memory for the import; past it, work spills to STORE.tmp beside the store.",
)
def import_command(
    files: tuple[str, ...],
    db: str,
    timezone: str | None,
    skip_invalid: bool,
    allow_duplicate_file: bool,
    max_properties_per_import: int,
    max_store_properties: int,
    memory_limit: str,
) -> None:
    """Load JSON Lines (or JSON arrays), CSV or Parquet event files into a store, all or nothing.

    A bad record stops the import with FILE:LINE: reason and leaves the store unchanged, unless
    --skip-invalid loads the rest. A file the store already holds (same content) is refused
    unless --allow-duplicate-file.

    \b
    Example:
      reportkit import events.jsonl --db events.duckdb --timezone Europe/Berlin
    """
    from pathlib import Path

    from reportkit.store.importer import ImportLimits, import_events

    limits = ImportLimits(
        max_properties_per_import=max_properties_per_import,
        max_store_properties=max_store_properties,
        allow_duplicate_file=allow_duplicate_file,
        memory_limit=memory_limit,
    )
    summary = import_events(
        db, [Path(f) for f in files], timezone=timezone, skip_invalid=skip_invalid, limits=limits
    )
    click.echo(f"loaded {summary.loaded} events into {db}")
    if summary.skipped:
        click.echo(f"skipped {summary.skipped} invalid records:", err=True)
        for reason in summary.reasons:
            _warn(f"  {reason}")


@cli.command("export")
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
    from pathlib import Path

    from reportkit.app import export_path

    summary = export_path(Path(db), Path(to))
    click.echo(
        f"wrote {summary.events} events, {len(summary.columns)} columns to {summary.folder}"
        f" (timezone {summary.timezone})"
    )


@cli.command("render", context_settings=CONTEXT_SETTINGS)
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "formats",
    default=None,
    metavar="LIST",
    help="Comma-separated formats: html,pdf,md (default: those the report was made with).",
)
@click.option(
    "--template",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A template folder that overrides the bundled templates file by file.",
)
@click.option("--paper", default="A4", show_default=True, help="PDF paper size (CSS page size).")
@click.option(
    "--orientation",
    type=click.Choice(["portrait", "landscape"]),
    default="portrait",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("out"),
    show_default=True,
    help="For an archival PDF: the report folder goes to OUT/<report id>/<window end>/.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the new manifest as JSON.")
def render_command(
    folder: Path,
    formats: str | None,
    template: Path | None,
    paper: str,
    orientation: str,
    out: Path,
    as_json: bool,
) -> None:
    """Render a report folder again from its results.json, without querying.

    FOLDER is OUT/<report id>/<date> as written by `reportkit run`. Handy while working on
    templates: the files are replaced atomically, results.json is kept.

    FOLDER may also be an archival PDF (made with output.pdf.archive: true): the results and
    definition it carries become a report folder under --out again, the PDF kept as it is and
    the other formats rebuilt.

    \b
    Example:
      reportkit render out/weekly-ecommerce/2026-11-29 --template my-templates --format pdf
      reportkit render archive/weekly-2026-11-29.pdf --out restored
    """
    from reportkit.app import rebuild_from_pdf, rerender_folder

    if folder.is_file():
        manifest = rebuild_from_pdf(
            folder,
            out,
            formats=_parse_formats(formats),
            template=template,
            paper=paper,
            orientation=orientation,  # type: ignore[arg-type]
        )
        where = manifest.directory
    else:
        manifest = rerender_folder(
            folder,
            formats=_parse_formats(formats),
            template=template,
            paper=paper,
            orientation=orientation,  # type: ignore[arg-type]
        )
        where = folder
    if as_json:
        click.echo(manifest.to_json(), nl=False)
    else:
        click.echo(f"rendered {where} ({', '.join(manifest.formats)})")
        _tell_carried_over(manifest)


@cli.command("diff")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--base", required=True, help="The git revision to compare with (branch, tag, SHA).")
@click.option(
    "--head", default=None, help="The git revision with the change. Default: the work tree."
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="The day both revisions are run on, YYYY-MM-DD.",
)
@click.option(
    "--source",
    "source_text",
    default="demo",
    show_default=True,
    help="demo, local:PATH (a DuckDB store) or clevertap; the same source for both revisions.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "md"]),
    default="text",
    show_default=True,
    help="md: a summary sized for a pull-request comment (at most 65,536 characters).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole diff as JSON.")
@click.option(
    "--fail-on-change", is_flag=True, help="Exit 3 when any number changed, as a failed check."
)
@STATE_DIR
@click.option("--no-cache", is_flag=True, help="Ask the source again even for cached answers.")
@click.option(
    "--region",
    help="CleverTap region (eu1, in1, sg1, us1, aps3, mec1); default $CLEVERTAP_REGION or eu1.",
)
def diff_command(
    paths: tuple[Path, ...],
    base: str,
    head: str | None,
    as_of: datetime,
    source_text: str,
    fmt: str,
    as_json: bool,
    fail_on_change: bool,
    state_dir: Path,
    no_cache: bool,
    region: str | None,
) -> None:
    """Show what a change to report definitions does to their numbers.

    Every report under PATHS (default: reports/) whose definition or template files differ
    between --base and --head is run at both revisions on the same day and source, through the
    answer cache. Prints queries added and removed, windows changed, totals before -> after and
    group rows that appeared, disappeared or changed; or "No number changed." Exits 0 (3 with
    --fail-on-change when a number changed), 2 when a definition is invalid at either side,
    1 when a query failed.

    \b
    Example:
      reportkit diff reports/ --base origin/main --as-of 2026-11-30 --format md > diff.md
    """
    from reportkit.app import DiffOptions, diff_revisions
    from reportkit.review.summary import render_review
    from reportkit.sources.factory import CleverTapOptions

    review = diff_revisions(
        list(paths),
        DiffOptions(
            base=base,
            head=head,
            as_of=as_of.date(),
            source=source_text,
            state_dir=state_dir,
            use_cache=not no_cache,
            clevertap=CleverTapOptions(region=region),
        ),
    )
    click.echo(render_review(review, "json" if as_json else fmt), nl=False)
    for item in review.reports:
        for problem in item.problems:
            _warn(problem)
    if review.invalid:
        sys.exit(2)
    if review.failed:
        sys.exit(1)
    if fail_on_change and review.numbers_changed:
        sys.exit(3)


@cli.command()
@click.option(
    "--db",
    "db",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The DuckDB store to answer from (reportkit demo or import builds one).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0: any free."
)
@click.option("--account-id", help="Accept only this X-CleverTap-Account-Id (default: any).")
@click.option("--passcode", help="Accept only this X-CleverTap-Passcode (default: any).")
@click.option(
    "--partial-polls",
    type=click.IntRange(0),
    default=1,
    show_default=True,
    help="Answer `partial` this many times (the POST included) before `success`; 0 answers at"
    " once (rare on the real service).",
)
@click.option(
    "--in-progress",
    type=click.Choice(["partial", "code2", "202", "text"]),
    default="partial",
    show_default=True,
    help="How a poll says `not yet`: a partial body, a fail body with code 2, HTTP 202, or the"
    " plain text `still in progress`.",
)
@click.option(
    "--string-req-ids", is_flag=True, help="Hand out req_ids as strings (r123...), not integers."
)
@click.option(
    "--fail-form",
    type=click.Choice(["200", "400"]),
    default="200",
    show_default=True,
    help="Ordinary failures as recorded (HTTP 200, error '[\"Invalid event : X\"]') or"
    " as HTTP 400.",
)
@click.option(
    "--overfill",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Answer top.json with this many values more than top_n per type, as the service may.",
)
@click.option(
    "--latency",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Seconds every request takes.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="Requests in flight before 429 Too many concurrent requests.",
)
@click.option(
    "--faults",
    default="",
    metavar="SPEC",
    help="Inject faults, e.g. 500:0.1,429:0.05,reset:0.02,slow:0.05,garbage:0.02,fail200:0.02"
    " (also expire: a poll's req_id is forgotten; 405: a POST is refused, to be asked by GET).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fault draws.")
@click.option(
    "--req-ttl",
    type=click.FloatRange(0),
    default=600.0,
    show_default=True,
    help="Seconds a req_id stays pollable; a later poll is told it is unknown or expired.",
)
@click.option(
    "--slow-seconds",
    type=click.FloatRange(0),
    default=3.0,
    show_default=True,
    help="Extra seconds a `slow` fault adds.",
)
def emulate(
    db: Path,
    host: str,
    port: int,
    account_id: str | None,
    passcode: str | None,
    partial_polls: int,
    in_progress: str,
    string_req_ids: bool,
    fail_form: str,
    overfill: int,
    latency: float,
    concurrency: int,
    faults: str,
    seed: int,
    req_ttl: float,
    slow_seconds: float,
) -> None:
    """Serve the CleverTap query API from a local store, for offline development and tests.

    Serves POST /1/counts/top.json, events.json, profiles.json and trends.json as the real service
    does: auth headers, `partial` answers polled by GET ?req_id=, failures as HTTP 200 fail bodies,
    the concurrency limit, the trend limits (one year, 5 groups), and faults injected with a seed.
    Logs one line per request; Ctrl-C stops it. The modes are described in docs/emulator.md.

    \b
    Example:
      reportkit emulate --db .reportkit/demo.duckdb --port 8765 --partial-polls 2
      CLEVERTAP_BASE_URL=http://127.0.0.1:8765 CLEVERTAP_ACCOUNT_ID=x CLEVERTAP_PASSCODE=y \\
        reportkit run reports/ --source clevertap --poll-interval 1
    """
    import logging
    import threading

    from reportkit.app import serving_emulator
    from reportkit.sources.emulator import parse_faults

    try:
        fault_rates = parse_faults(faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("reportkit.emulator")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with serving_emulator(
            db,
            host,
            port,
            account_id=account_id,
            passcode=passcode,
            partial_polls=partial_polls,
            in_progress=in_progress,
            string_req_ids=string_req_ids,
            fail_form=fail_form,
            overfill=overfill,
            latency=latency,
            concurrency=concurrency,
            faults=fault_rates,
            seed=seed,
            req_ttl=req_ttl,
            slow_seconds=slow_seconds,
        ) as emulator:
            click.echo(f"emulating CleverTap at {emulator.url} from {db} (Ctrl-C stops)", err=True)
            click.echo(f"export CLEVERTAP_BASE_URL={emulator.url}")
            sys.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    finally:
        logger.removeHandler(handler)
    click.echo("emulator stopped", err=True)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0: any free."
)
@AS_OF
@click.option(
    "--source",
    "source_text",
    default="demo",
    show_default=True,
    help="demo (built-in demo data), local:PATH (a DuckDB store) or clevertap (your account).",
)
@STATE_DIR
@click.option("--no-cache", is_flag=True, help="Ask the source again on every redraw.")
def preview(
    path: Path,
    host: str,
    port: int,
    as_of: datetime | None,
    source_text: str,
    state_dir: Path,
    no_cache: bool,
) -> None:
    """Serve a report (or a folder of reports) and redraw it in the browser on every save.

    The page redraws when the definition or a file of its template folder changes; answers come
    through the cache, so only changed queries are asked again. A definition with errors shows
    them in the page. Ctrl-C stops the server.

    \b
    Example:
      reportkit preview reports/weekly-ecommerce.yaml --as-of 2026-11-30
      reportkit preview reports/ --source local:events.duckdb --port 8001
    """
    from reportkit.app import serving_preview

    with serving_preview(
        path,
        host,
        port,
        as_of=as_of.date() if as_of else None,
        source=source_text,
        state_dir=state_dir,
        use_cache=not no_cache,
    ) as server:
        click.echo(f"previewing {path} at {server.url} (Ctrl-C stops)", err=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    click.echo("preview stopped", err=True)


def main() -> None:
    cli(prog_name="reportkit")
