"""The errors reportkit raises, each carrying the exit code the CLI uses.

    ReportkitError                 exit 1  (base; a run failed)
    ├── InvalidInput               exit 2  (the user's input is wrong; nothing was run)
    │   ├── SpecError              a report definition breaks the schema or a rule (file:line:col)
    │   ├── WindowError            a window resolves to no day, or `from` is after `to`
    │   └── DataImportError        an event file has a bad record (file and line)
    ├── SourceError                a query could not be answered
    │   ├── QueryFailed            the source answered `fail` (names the request)
    │   ├── AuthError              401: account id, passcode or region is wrong
    │   ├── QueryTimeout           polling ran out of time (names the req_id)
    │   └── TransportError         connection errors, 5xx and 429 after every retry
    ├── RenderError                a template, chart or PDF could not be made
    └── DeliveryError              email could not be sent (names refused addresses)

Besides these, `reportkit run` exits 3 when every report was written (and delivered) but a check
of severity fail failed (`CHECKS_FAILED_EXIT`); --no-fail-on-checks makes that 0.

Every message is one line a user can act on. Foreign exceptions are translated where they enter,
with `raise ... from exc`, so no traceback reaches the terminal.
"""

from __future__ import annotations


def one_line(text: str) -> str:
    """`text` with every non-printable character escaped as repr() would: one line, always.

    Messages echo what users wrote (ids, event names, paths); a newline or an escape sequence
    in one of them must not break the one-line-per-problem output or drive the terminal.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


CHECKS_FAILED_EXIT = 3


class ReportkitError(Exception):
    """Base of every error reportkit raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(ReportkitError):
    """The input (definitions, arguments, data files) is wrong; exit 2."""

    exit_code = 2


class SpecError(InvalidInput):
    """One or more problems in a report definition, each located as FILE:LINE:COLUMN."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class WindowError(InvalidInput):
    """A date window cannot be resolved."""


class DataImportError(InvalidInput):
    """An event file holds a record that cannot be loaded."""


class SourceError(ReportkitError):
    """A query could not be answered by the source."""


class QueryFailed(SourceError):
    """The source answered `fail` for a request."""


class AuthError(SourceError):
    """The source refused the credentials."""


class QueryTimeout(SourceError):
    """An asynchronous query did not finish within its time budget."""


class TransportError(SourceError):
    """The source could not be reached, or kept failing after every retry."""


class RenderError(ReportkitError):
    """A report could not be rendered."""


class DeliveryError(ReportkitError):
    """A report could not be delivered."""
