"""The `reportkit` command: a thin face over the library.

Commands parse arguments, call the library (`reportkit.app`, one function per command) and map
its errors to exit codes (0 ok, 1 a run failed, 2 invalid input, 3 `run`: a check of severity
fail failed). Heavy modules are imported inside commands, so `reportkit --help` loads click and
nothing else. One module per group of commands: `definitions` (validate, plan, catalog, diff),
`running` (run, send, render), `store` (demo, import, export), `servers` (emulate, preview).
"""

from __future__ import annotations

import click

from reportkit import __version__
from reportkit.cli import definitions, running, servers, store
from reportkit.cli.common import CONTEXT_SETTINGS, Group, Interrupted

__all__ = ["Interrupted", "cli", "main"]


@click.group(cls=Group, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="reportkit")
def cli() -> None:
    """Declarative, YAML-driven reports over CleverTap-style event analytics.

    \b
    Example:
      reportkit validate reports/
      reportkit run reports/weekly-ecommerce.yaml --as-of 2026-11-30
    """


for _command in (
    definitions.validate,
    definitions.plan,
    definitions.catalog_command,
    definitions.diff_command,
    running.run,
    running.send,
    running.render_command,
    store.demo_command,
    store.import_command,
    store.export_command,
    servers.emulate,
    servers.preview,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="reportkit")
