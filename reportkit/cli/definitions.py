"""`validate`, `plan`, `catalog` and `diff`: commands about definitions, before or beside a run."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from reportkit.cli.common import (
    AS_OF,
    PATHS,
    STATE_DIR,
    warn,
)
from reportkit.text import inert_text


@click.command()
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


@click.command()
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
    from reportkit.language.model import FILTER_LISTS

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


@click.command("catalog")
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


@click.command("diff")
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
            warn(problem)
    if review.invalid:
        sys.exit(2)
    if review.failed:
        sys.exit(1)
    if fail_on_change and review.numbers_changed:
        sys.exit(3)
