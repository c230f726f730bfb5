"""What every command shares: the group class that maps errors and signals to exit codes,
one-line warnings, and the options several commands take."""

from __future__ import annotations

import math
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from reportkit.errors import ReportkitError, SpecError
from reportkit.text import inert_text

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


@contextmanager
def sigterm_interrupts() -> Iterator[Callable[[], str]]:
    """Turn SIGTERM into `Interrupted` while a command runs, so that it unwinds as Ctrl-C does:
    every `finally` on the way out runs (staging folders go, the source is closed). Only the
    first signal raises; a second one does not cut that clean-up short. Yields a function giving
    the signal's name once one came ("" before)."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: ""  # signal handlers belong to the main thread
        return
    fired = ""

    def interrupt(signum: int, frame: object) -> None:
        nonlocal fired
        if not fired:
            fired = signal.Signals(signum).name
            raise Interrupted(fired)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield lambda: fired
    finally:
        signal.signal(signal.SIGTERM, previous)


class Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            with sigterm_interrupts() as signalled:
                try:
                    return super().invoke(ctx)
                except Exception:
                    # A library may turn the signal into an error of its own (DuckDB stops the
                    # query it runs and raises "Query interrupted"): the signal is the cause.
                    if signalled():
                        raise Interrupted(signalled()) from None
                    raise
        except ReportkitError as exc:
            fail(exc)
        except KeyboardInterrupt as exc:
            how = f" ({exc})" if isinstance(exc, Interrupted) else ""
            click.echo(f"error: interrupted{how}", err=True)
            sys.exit(1)


def warn(text: str) -> None:
    """A problem on stderr, one line. Messages quote data (event names, values, a server's
    answer): an ESC or a BEL in them would be a command to the terminal, so control characters
    are replaced, and a line break is shown as \\n so that one problem stays one line."""
    click.echo(inert_text(text.replace("\r", "\\r").replace("\n", "\\n")), err=True)


def fail(exc: ReportkitError) -> NoReturn:
    # Located problems (FILE:LINE:COLUMN: ...) stand alone, one per line, as linters print them.
    if isinstance(exc, SpecError):
        for problem in exc.problems:  # each already one line: values are escaped where echoed
            warn(problem)
    else:
        warn(f"error: {exc}")
    sys.exit(exc.exit_code)


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


class Seconds(click.FloatRange):
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
