"""The `reportkit` command: a thin face over the library.

Commands parse arguments, call the library and map its errors to exit codes
(0 ok, 1 a run failed, 2 invalid input). Heavy modules are imported inside commands.
"""

from __future__ import annotations

import sys
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


def main() -> None:
    cli(prog_name="reportkit")


@cli.command("render", context_settings=CONTEXT_SETTINGS)
@click.argument(
    "folder", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
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
@click.option("--json", "as_json", is_flag=True, help="Print the new manifest as JSON.")
def render_command(
    folder: Path,
    formats: str | None,
    template: Path | None,
    paper: str,
    orientation: str,
    as_json: bool,
) -> None:
    """Render a report folder again from its results.json, without querying.

    FOLDER is OUT/<report id>/<date> as written by `reportkit run`. Handy while working on
    templates: the files are replaced atomically, results.json is kept.
    """
    import json as json_mod

    from reportkit.model import OutputSpec
    from reportkit.outputs import MANIFEST_FILE, rerender_report
    from reportkit.render import FORMATS

    wanted: tuple[str, ...]
    if formats:
        wanted = tuple(f.strip() for f in formats.split(",") if f.strip())
    else:
        wanted = FORMATS
        try:
            previous = json_mod.loads((folder / MANIFEST_FILE).read_text("utf-8"))
            wanted = tuple(previous.get("formats") or FORMATS)
        except (OSError, ValueError, AttributeError):
            pass
    output = OutputSpec(formats=wanted, template=template, paper=paper, orientation=orientation)  # type: ignore[arg-type]
    manifest = rerender_report(folder, output, formats=wanted)
    if as_json:
        click.echo(manifest.to_json(), nl=False)
    else:
        click.echo(f"rendered {folder} ({', '.join(manifest.formats)})")
