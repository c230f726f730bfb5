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
