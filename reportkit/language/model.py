"""The typed report definition: what the loader in `spec.py` builds and every later stage reads.

Plain frozen dataclasses, no behaviour: a `Report` is what a YAML file means once it is valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

QueryKind = Literal["top", "count", "trend"]
Order = Literal["asc", "desc"]
Granularity = Literal["daily", "weekly", "monthly"]
Compare = Literal["previous_period", "previous_year"]
Severity = Literal["fail", "warn"]
SendIf = Literal["always", "results", "changed", "checks_failed"]
FilterScope = Literal["event", "session", "profile"]
Primitive = str | int | float
FilterValue = Primitive | tuple[Primitive, ...]

PROPERTY_TYPES: tuple[str, ...] = (
    "event_properties",
    "session_properties",
    "profile_fields",
    "app_fields",
    "demographics",
    "technographics",
    "reachability",
    "geo_fields",
)


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A window as written: a token such as `last_30_days`, or absolute `start`/`end` dates."""

    token: str | None = None
    start: date | None = None
    end: date | None = None

    def describe(self) -> str:
        if self.token is not None:
            return self.token
        start = self.start.isoformat() if self.start else "?"
        end = self.end.isoformat() if self.end else "?"
        return f"{start}..{end}"


@dataclass(frozen=True, slots=True)
class Group:
    """One property breakdown of a top query, exactly as the Top Property Counts API takes it."""

    key: str
    property_type: str
    name: str
    top_n: int = 10
    order: Order = "desc"


# `where:` filters: the operators the count APIs document, and the body list each scope goes in.
STRING_OPERATORS: tuple[str, ...] = (
    "equals",
    "not_equals",
    "contains",
    "does_not_contain",
    "exists",
    "does_not_exist",
)
NUMBER_OPERATORS: tuple[str, ...] = (
    "greater_than",
    "greater_than_equals",
    "less_than",
    "less_than_equals",
)
OPERATORS: tuple[str, ...] = STRING_OPERATORS + NUMBER_OPERATORS
PRESENCE_OPERATORS: tuple[str, ...] = ("exists", "does_not_exist")  # they take no value
FILTER_LISTS: dict[str, str] = {
    "event": "event_properties",
    "session": "session_properties",
    "profile": "common_profile_properties",
}


@dataclass(frozen=True, slots=True)
class Filter:
    """One `where:` condition, its value already as the API takes it.

    Booleans are the strings "True" / "False"; a list of values is a tuple (any of them);
    `exists` and `does_not_exist` carry no value (None).
    """

    scope: FilterScope
    name: str
    operator: str
    value: FilterValue | None = None

    def wire(self) -> dict[str, Any]:
        """`{"name", "operator", "value"}` as the count APIs take it."""
        out: dict[str, Any] = {"name": self.name, "operator": self.operator}
        if self.value is not None:
            out["value"] = list(self.value) if isinstance(self.value, tuple) else self.value
        return out


def wire_filters(filters: tuple[Filter, ...]) -> dict[str, list[dict[str, Any]]]:
    """The body keys a request carries for `filters`: `event_properties`, `session_properties`,
    `common_profile_properties` (only those that have a filter), in the order written."""
    out: dict[str, list[dict[str, Any]]] = {}
    for item in filters:
        out.setdefault(FILTER_LISTS[item.scope], []).append(item.wire())
    return out


@dataclass(frozen=True, slots=True)
class Check:
    """An expectation on the numbers: `expect` is a Jinja expression over the check context
    (see `reportkit.results.context`); `message` a Jinja template shown when it fails."""

    id: str
    expect: str  # the expression, without `{{ }}`
    message: str = ""
    severity: Severity = "fail"
    title: str = ""  # what the check means when it passes; defaults to the id
    query: str | None = None  # the query a check written under `queries[i].checks` belongs to


@dataclass(frozen=True, slots=True)
class Query:
    id: str
    title: str
    event: str
    kind: QueryKind
    window: WindowSpec
    include_today: bool = False
    groups: tuple[Group, ...] = ()
    unique: bool = False
    granularity: Granularity = "daily"
    sum_event_prop: str | None = None
    currency: str | None = None  # ISO 4217: the summed property is money of this currency
    chart: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    description: str = ""
    checks: tuple[Check, ...] = ()
    where: tuple[Filter, ...] = ()  # the report's filters, then the query's own


@dataclass(frozen=True, slots=True)
class OutputSpec:
    formats: tuple[str, ...] = ("html", "pdf", "md")
    template: Path | None = None
    paper: str = "A4"
    orientation: Literal["portrait", "landscape"] = "portrait"
    highlights: bool = True  # with compare: a "What changed" list at the top
    pdf_archive: bool = False  # output.pdf.archive: PDF/A-3 with results.json and the definition


@dataclass(frozen=True, slots=True)
class EmailSpec:
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = "{{ report.title }}"
    body: str | None = None
    attach: tuple[str, ...] = ("pdf",)
    body_format: Literal["text", "md", "html"] = "text"
    send_if: SendIf = "always"
    on_failure: tuple[str, ...] = ()
    locale: str | None = None  # the recipients' locale; None: the report's


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """POST the report's facts as JSON to `url`, signed with the secret in `secret_env`."""

    url: str | None = None
    url_env: str | None = None  # the URL from this environment variable instead
    secret_env: str | None = None
    send_if: SendIf = "always"


@dataclass(frozen=True, slots=True)
class SlackSpec:
    """An incoming webhook (`webhook_url_env`), or a bot token (`token_env`) posting to
    `channel` with the PDF uploaded."""

    webhook_url_env: str | None = None
    token_env: str | None = None
    channel: str | None = None
    upload_pdf: bool = True
    send_if: SendIf = "always"


@dataclass(frozen=True, slots=True)
class DeliverSpec:
    email: EmailSpec | None = None
    slack: SlackSpec | None = None
    webhook: WebhookSpec | None = None


@dataclass(frozen=True, slots=True)
class Report:
    id: str
    title: str
    queries: tuple[Query, ...]
    description: str = ""
    timezone: str = "UTC"
    week_start: Literal["monday", "sunday"] = "monday"
    locale: str = "en_US"  # how numbers and dates are written (CLDR via Babel)
    window: WindowSpec = WindowSpec(token="last_7_days")
    include_today: bool = False
    compare: Compare | None = None
    where: tuple[Filter, ...] = ()  # inherited by every query (already part of each Query.where)
    output: OutputSpec = OutputSpec()
    deliver: DeliverSpec = DeliverSpec()
    path: Path | None = None
    checks: tuple[Check, ...] = ()

    @property
    def all_checks(self) -> tuple[Check, ...]:
        """The report's checks, then every query's, in definition order."""
        return self.checks + tuple(c for q in self.queries for c in q.checks)
