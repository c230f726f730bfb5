"""`run`, `send` and `render`: reports made, delivered and remade."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from reportkit.cli.common import (
    AS_OF,
    CONTEXT_SETTINGS,
    PATHS,
    SMTP_URL,
    STATE_DIR,
    Seconds,
    warn,
)


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


@click.command()
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
    type=Seconds(3600),
    default=30.0,
    show_default=True,
    help="Seconds between polls of an asynchronous CleverTap query.",
)
@click.option(
    "--query-timeout",
    type=Seconds(86400),
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
    type=Seconds(600, zero=True),
    default=2.0,
    show_default=True,
    help="Seconds before the first retry of a CleverTap request, doubling after (with jitter).",
)
@click.option(
    "--rate-limit-backoff",
    type=Seconds(600, zero=True),
    default=30.0,
    show_default=True,
    help="Seconds a retry waits at least after 429 Too many concurrent requests.",
)
@click.option(
    "--render-workers",
    type=click.IntRange(0, 64),
    default=None,
    help="Reports rendered at once in worker processes when several PDFs are made "
    "(default: by cores and memory; 0: one after another in this process).",
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
    render_workers: int | None,
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
        render_workers=render_workers,
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
            warn(f"  {failure}")
        if outcome.error:
            warn(f"  {outcome.error}")
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
            warn(f"{mark} {outcome.report.id}: {where}: {check.message}")


def _tell_carried_over(manifest: Any) -> None:
    """What a rerun with fewer formats did with the files of the earlier report."""
    if manifest.kept:
        click.echo(f"        kept from the earlier run (same numbers): {', '.join(manifest.kept)}")
    if manifest.removed:
        warn(f"        removed (built from other numbers): {', '.join(manifest.removed)}")


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
            warn(f"FAILED  {outcome.report_id}: delivery: {outcome.error}")
        elif not quiet:
            d = outcome.delivery
            to = f" to {', '.join(d.recipients)}" if d.recipients and d.action != "skipped" else ""
            if d.action == "skipped" and d.channel != "email":
                to = f" on {d.channel}"
            detail = f" ({d.detail})" if d.detail else ""
            click.echo(f"{d.action:<7} {d.report_id}{to}{detail}")
    return failed


@click.command()
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


@click.command("render", context_settings=CONTEXT_SETTINGS)
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
