"""The `reportkit` command: a thin face over the library.

Commands parse arguments, call the library and map its errors to exit codes
(0 ok, 1 a run failed, 2 invalid input). Heavy modules are imported inside commands.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
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


def _today_in(timezone: str) -> date:
    from datetime import UTC

    from reportkit.windows import local_date

    return local_date(datetime.now(UTC), timezone)


AS_OF = click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the report is run on, YYYY-MM-DD. Default: today in the report's timezone.",
)
PATHS = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=False)
)


@cli.command()
@PATHS
def validate(paths: tuple[Path, ...]) -> None:
    """Check report definitions (files or folders) against the schema.

    Prints one line FILE:LINE:COLUMN: path: message for every problem and exits 2 when there is
    any; exits 0 when every definition is valid.

    \b
    Example:
      reportkit validate reports/
    """
    from reportkit.spec import load_reports

    reports = load_reports(list(paths))
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
    from reportkit.plan import plan_requests
    from reportkit.spec import load_report

    report = load_report(path)
    day = as_of.date() if as_of else _today_in(report.timezone)
    planned = plan_requests(report, day)
    if as_json:
        rows = [
            {
                "endpoint": request.endpoint,
                "body": request.body,
                "serves": [
                    {
                        k: v
                        for k, v in (
                            ("query", s.query_id),
                            ("window", s.role),
                            ("measure", s.measure),
                            ("group", s.group),
                            ("request_key", s.request_key),
                        )
                        if v is not None
                    }
                    for s in request.serves
                ],
            }
            for request in planned.requests
        ]
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
        click.echo(f"       serves {', '.join(serves)}")


def main() -> None:
    cli(prog_name="reportkit")
