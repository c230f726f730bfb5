"""Schema-valid definition data -> a typed `Report`, applying the rules a schema cannot say
(timezones, date order, unique ids, trend sizes, template folders, check expressions), each
violation collected with the path it concerns."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reportkit.errors import WindowError
from reportkit.language.model import (
    FILTER_LISTS,
    OPERATORS,
    PRESENCE_OPERATORS,
    Check,
    DeliverSpec,
    EmailSpec,
    Filter,
    FilterValue,
    Group,
    OutputSpec,
    Query,
    Report,
    SlackSpec,
    WebhookSpec,
    WindowSpec,
)
from reportkit.language.schema_check import schema
from reportkit.language.windows import MAX_TREND_POINTS, fewest_trend_points
from reportkit.language.yamldoc import Doc, PathKey, clip


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _parse_date(value: str | int) -> date:
    text = str(value)
    try:
        if isinstance(value, int):
            return datetime.strptime(text, "%Y%m%d").date()
        return date.fromisoformat(text)
    except ValueError as exc:
        raise WindowError(f"{clip(value)} is not a date: write YYYY-MM-DD or YYYYMMDD") from exc


def window_spec(raw: Any) -> WindowSpec:
    if isinstance(raw, str):
        return WindowSpec(token=raw)
    start, end = _parse_date(raw["from"]), _parse_date(raw["to"])
    if start > end:
        raise WindowError(f"window from {start.isoformat()} is after to {end.isoformat()}")
    return WindowSpec(start=start, end=end)


def check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "Europe", a long name
        hint = difflib.get_close_matches(name, sorted(available_timezones()), n=1)
        suffix = (
            f"; did you mean {hint[0]!r}?" if hint else " (write an IANA name like Europe/Berlin)"
        )
        raise WindowError(f"unknown timezone {clip(name)}{suffix}") from exc


def _as_tuple(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


TEMPLATE_DIRS_ENV = "REPORTKIT_TEMPLATE_DIRS"


def repository_of(definition: Path) -> Path:
    """The repository a definition belongs to: the nearest folder above it holding `.git`, or
    the definition's own folder when it is in no repository."""
    folder = definition.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def template_allowed(
    template: Path,
    definition: Path,
    env: Mapping[str, str] | None = None,
    roots: Sequence[Path] = (),
) -> bool:
    """Whether a definition may use `template` (resolved): a folder inside its repository, or
    inside a folder listed in $REPORTKIT_TEMPLATE_DIRS (separated by os.pathsep). Anything else
    (`/`, a home folder) would let the template and the PDF read files it has no business with."""
    listed = (os.environ if env is None else env).get(TEMPLATE_DIRS_ENV, "")
    allowed = [repository_of(definition), *(Path(root).resolve() for root in roots)]
    allowed += [Path(entry).expanduser().resolve() for entry in listed.split(os.pathsep) if entry]
    return any(template.is_relative_to(root) for root in allowed)


def _wire_value(value: Any) -> FilterValue:
    """A filter value as the API takes it: booleans as "True"/"False", lists as tuples."""
    if isinstance(value, list):
        return tuple(_wire_primitive(v) for v in value)
    return _wire_primitive(value)


def _wire_primitive(value: Any) -> str | int | float:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float | str):
        return value
    return str(value)  # the schema lets only primitives through


MAX_CHARTS = 100
MAX_ROWS = 4_000


class _ReportSize:
    """What a report will draw, counted as its queries are built: charts (one per group
    breakdown and per trend, unless `chart: {show: false}`) and table rows (each group's top_n,
    each trend's fewest points). Drawing is what a report's rendering costs (a chart about 35 ms
    in HTML and 0.25 s in a PDF; a PDF table row about 5 ms), so these bound any valid report's
    time and memory; the schema's own limits (200 queries of 20 groups) alone allowed hours."""

    def __init__(self) -> None:
        self.charts = 0
        self.rows = 0

    def add(self, query: Query, trend_points: int) -> None:
        """Count `query`; `trend_points` is a trend's fewest points (0 for other kinds)."""
        shown = not (query.chart and query.chart.get("show") is False)
        if query.kind == "top":
            self.charts += len(query.groups) if shown else 0
            self.rows += sum(group.top_n for group in query.groups)
        elif query.kind == "trend":
            self.charts += 1 if shown else 0
            # a longer trend has its own error (check_trend_size): one problem, one line
            self.rows += min(trend_points, MAX_TREND_POINTS)

    def over(self) -> str | None:
        if self.charts > MAX_CHARTS:
            return (
                f"with this query the report draws {self.charts:,} charts, more than "
                f"{MAX_CHARTS}: split the report, or set chart: {{show: false}} on some queries"
            )
        if self.rows > MAX_ROWS:
            return (
                f"with this query the report's tables hold up to {self.rows:,} rows, more than "
                f"{MAX_ROWS:,}: split the report, or lower top_n or the trends' lengths"
            )
        return None


class ReportBuilder:
    """Builds a `Report` from schema-valid data, collecting located rule violations."""

    def __init__(self, path: Path, doc: Doc, template_roots: Sequence[Path] = ()) -> None:
        self.path, self.doc = path, doc
        self.template_roots = template_roots
        self.problems: list[tuple[PathKey, str]] = []

    def problem(self, where: PathKey, message: str) -> None:
        self.problems.append((where, message))

    def window(self, raw: Any, where: PathKey) -> WindowSpec:
        try:
            return window_spec(raw)
        except WindowError as exc:
            self.problem(where, str(exc))
            return WindowSpec(token="last_7_days")

    def build(self) -> Report:
        data: dict[str, Any] = self.doc.data
        if isinstance(data["version"], float):  # the schema's const 1 takes 1.0 as well
            self.problem(
                ("version",), f"write version: 1 (a whole number), not {data['version']!r}"
            )
        report_id = data.get("id") or slug(self.path.stem).replace("_", "-") or "report"
        timezone = data.get("timezone", "UTC")
        try:
            check_timezone(timezone)
        except WindowError as exc:
            self.problem(("timezone",), str(exc))
        window = self.window(data.get("window", "last_7_days"), ("window",))
        locale = self.locale(data.get("locale", "en_US"), ("locale",))
        include_today = bool(data.get("include_today", False))
        self.report_where = self.where(data.get("where"), ("where",))
        queries: list[Query] = []
        owners: list[int] = []  # the index in `queries:` each query was written at
        seen: dict[str, tuple[int, str]] = {}  # query id -> (index in queries, event)
        most = schema()["properties"]["queries"]["maxItems"]
        size, size_told = _ReportSize(), False
        for index, raw in enumerate(data["queries"]):
            made = list(self.queries(raw, index, window, include_today))
            if len(queries) <= most < len(queries) + len(made):
                self.problem(
                    ("queries", index, "event"),
                    f"event lists make this report more than {most} queries; split it in two",
                )
            for query in made:
                points = self.check_trend_size(query, raw, index, data.get("week_start", "monday"))
                size.add(query, points)
                if not size_told and (over := size.over()):
                    size_told = True  # one line, at the query that crosses
                    self.problem(("queries", index), over)
                if query.id in seen:
                    self.problem(("queries", index, "id"), self.duplicate(query, index, seen))
                seen.setdefault(query.id, (index, query.event))
                queries.append(query)
                owners.append(index)
        queries = self.query_checks(data["queries"], queries, owners)
        checks = tuple(self.checks(data.get("checks", []), ("checks",), queries, None))
        self.unique_check_ids(checks + tuple(c for q in queries for c in q.checks))
        return Report(
            id=report_id,
            title=data["title"],
            description=data.get("description", ""),
            timezone=timezone,
            week_start=data.get("week_start", "monday"),
            locale=locale,
            window=window,
            include_today=include_today,
            compare=data.get("compare"),
            where=self.report_where,
            queries=tuple(queries),
            output=self.output(data.get("output", {})),
            deliver=self.deliver(data.get("deliver", {})),
            path=self.path,
            checks=checks,
        )

    def check_trend_size(self, query: Query, raw: Any, index: int, week_start: Any) -> int:
        """What `plan` would refuse on any day: a trend with more than MAX_TREND_POINTS points.
        Returns the trend's fewest points on any day (0 for other queries, or when unknown)."""
        if query.kind != "trend" or week_start not in ("monday", "sunday"):
            return 0
        fewest = fewest_trend_points(
            query.window,
            query.granularity,
            week_start=week_start,
            include_today=query.include_today,
        )
        if fewest is None or fewest[0] <= MAX_TREND_POINTS:
            return fewest[0] if fewest else 0
        points, dates = fewest
        own = raw if isinstance(raw, dict) else {}
        where: PathKey = (
            ("queries", index, "window")
            if "window" in own
            else ("window",)
            if "window" in self.doc.data
            else ("queries", index, "granularity")
        )
        self.problem(
            where,
            f"query {query.id!r}: a {query.granularity} trend over {dates} has {points:,} points"
            + ("" if query.window.start is not None else " (at least that many on any day)")
            + f", more than {MAX_TREND_POINTS:,}: choose a shorter window or a coarser"
            " granularity",
        )
        return points

    def query_checks(
        self, raws: list[dict[str, Any]], queries: list[Query], owners: list[int]
    ) -> list[Query]:
        """Attach each query's own checks (they may name any query, so they come last)."""
        out: list[Query] = []
        for query, index in zip(queries, owners, strict=True):
            raw = raws[index].get("checks", [])
            where: PathKey = ("queries", index, "checks")
            out.append(replace(query, checks=tuple(self.checks(raw, where, queries, query))))
        return out

    def checks(
        self, raws: list[dict[str, Any]], where: PathKey, queries: list[Query], own: Query | None
    ) -> Iterator[Check]:
        from reportkit.language.expressions import check_expression, check_message, strip_braces

        known = {q.id: tuple(g.key for g in q.groups) for q in queries}
        own_id = own.id if own else None
        for index, raw in enumerate(raws):
            at: PathKey = (*where, index)
            for problem in check_expression(raw["expect"], known, own_query=own_id):
                self.problem((*at, "expect"), problem)
            if "message" in raw:
                for problem in check_message(raw["message"], known, own_query=own_id):
                    self.problem((*at, "message"), problem)
            yield Check(
                id=raw["id"],
                expect=strip_braces(raw["expect"]),
                message=raw.get("message", ""),
                severity=raw.get("severity", "fail"),
                title=raw.get("title", ""),
                query=own_id,
            )

    def unique_check_ids(self, checks: tuple[Check, ...]) -> None:
        seen: set[tuple[str | None, str]] = set()
        for check in checks:
            key = (check.query, check.id)
            if key in seen:
                where: PathKey = ("checks",)
                self.problem(where, f"duplicate check id {check.id!r}")
            seen.add(key)

    def locale(self, name: str, where: PathKey) -> str:
        from reportkit.language.locales import check_locale

        problem = check_locale(name)
        if problem is not None:
            self.problem(where, problem)
        return name

    def currency(self, raw: dict[str, Any], where: PathKey) -> str | None:
        """`currency:` names an ISO 4217 code and says a trend's summed property is money."""
        code = raw.get("currency")
        if code is None:
            return None
        from reportkit.language.locales import check_currency

        problem = check_currency(code)
        if problem is None and not (raw.get("kind") == "trend" and raw.get("sum_event_prop")):
            problem = (
                "currency says what a trend's sum_event_prop is counted in; this query sums no"
                " property: add kind: trend and sum_event_prop, or remove currency"
            )
        if problem is not None:
            self.problem((*where, "currency"), problem)
            return None
        return str(code)

    def duplicate(self, query: Query, index: int, seen: dict[str, tuple[int, str]]) -> str:
        first, event = seen[query.id]
        if first == index:  # two events of one list that slug alike
            return (
                f"events {clip(event)} and {clip(query.event)} both make query id "
                f"{query.id!r}: list each event once, or split them into two queries"
            )
        line = self.doc.positions.get(("queries", first), (0, 0))[0]
        return f"duplicate query id {query.id!r} (first used at line {line})"

    def queries(
        self, raw: dict[str, Any], index: int, default: WindowSpec, include_today: bool
    ) -> Iterator[Query]:
        where: PathKey = ("queries", index)
        events = raw["event"] if isinstance(raw["event"], list) else [raw["event"]]
        window = self.window(raw["window"], (*where, "window")) if "window" in raw else default
        groups = tuple(
            Group(
                key=key,
                property_type=group["property_type"],
                name=group["name"],
                top_n=int(group.get("top_n", 10)),  # the schema's integer takes 5.0 too
                order=group.get("order", "desc"),
            )
            for key, group in raw.get("groups", {}).items()
        )
        title = raw.get("title", raw["id"])
        where_ = self.report_where + self.where(raw.get("where"), (*where, "where"))
        for event in events:
            many = len(events) > 1
            yield Query(
                id=f"{raw['id']}.{slug(event) or len(event)}" if many else raw["id"],
                title=f"{title}: {event}" if many else title,
                event=event,
                kind=raw.get("kind", "top"),
                window=window,
                include_today=raw.get("include_today", include_today),
                groups=groups,
                unique=raw.get("unique", False),
                granularity=raw.get("granularity", "daily"),
                sum_event_prop=raw.get("sum_event_prop"),
                currency=self.currency(raw, where),
                chart=raw.get("chart"),
                description=raw.get("description", ""),
                where=where_,
            )

    def where(self, raw: Any, where: PathKey) -> tuple[Filter, ...]:
        """`where:` in either form -> Filters, in the order written (the schema checked types)."""
        if raw is None:
            return ()
        out: list[Filter] = []
        if isinstance(raw, dict):
            for scope, conditions in raw.items():
                for name, condition in conditions.items():
                    at: PathKey = (*where, scope, name)
                    if isinstance(condition, dict):
                        out.extend(
                            self.condition(scope, name, op, value, (*at, op))
                            for op, value in condition.items()
                        )
                    else:
                        out.append(self.condition(scope, name, "equals", condition, at))
            return tuple(out)
        for index, item in enumerate(raw):
            at = (*where, index)
            scopes = [k for k in item if k in FILTER_LISTS]
            operators = [k for k in item if k in OPERATORS]
            if len(scopes) != 1:
                self.problem(
                    at,
                    "name the property under exactly one of event:, session: or profile: "
                    "(e.g. {event: Amount, greater_than: 500})"
                    + (f", not {len(scopes)}" if scopes else ""),
                )
                continue
            if len(operators) != 1:
                written = ", ".join(operators)
                self.problem(
                    at,
                    "give exactly one operator (equals, not_equals, contains, does_not_contain, "
                    "exists, does_not_exist, greater_than, ...)"
                    + (
                        f"; this item has {written}: write one item per operator" if written else ""
                    ),
                )
                continue
            scope, operator = scopes[0], operators[0]
            out.append(self.condition(scope, item[scope], operator, item[operator], at))
        return tuple(out)

    def condition(self, scope: str, name: str, operator: str, value: Any, at: PathKey) -> Filter:
        if operator in PRESENCE_OPERATORS:
            return Filter(scope, name, operator)  # type: ignore[arg-type]
        return Filter(scope, name, operator, _wire_value(value))  # type: ignore[arg-type]

    def output(self, raw: dict[str, Any]) -> OutputSpec:
        template = None
        if "template" in raw:
            looked = self.path.parent / raw["template"]
            try:
                template = looked.resolve()
                found = template.is_dir()
            except (OSError, ValueError):  # a NUL byte, a name too long for the file system
                found = False
            if not found:
                missing = (
                    f"template folder {clip(raw['template'])} does not exist"
                    f" (looked for {clip(str(looked.absolute()), 200)}, beside the definition)"
                )
                self.problem(("output", "template"), missing)
            elif template is not None and not template_allowed(
                template, self.path, roots=self.template_roots
            ):
                self.problem(
                    ("output", "template"),
                    f"template folder {clip(raw['template'])} is outside the report's "
                    f"repository {repository_of(self.path)}: keep templates inside it, or list "
                    f"the folder in ${TEMPLATE_DIRS_ENV}",
                )
        return OutputSpec(
            formats=tuple(raw.get("formats", ("html", "pdf", "md"))),
            template=template,
            paper=raw.get("paper", "A4"),
            orientation=raw.get("orientation", "portrait"),
            highlights=bool(raw.get("highlights", True)),
            pdf_archive=bool(raw.get("pdf", {}).get("archive", False)),
        )

    def deliver(self, raw: dict[str, Any]) -> DeliverSpec:
        email = raw.get("email")
        if email is not None:
            subject = email.get("subject")
            if isinstance(subject, str):
                breaks = [c for c in subject if c in _HEADER_BREAKS]
                if breaks:
                    self.problem(
                        ("deliver", "email", "subject"),
                        f"holds U+{ord(breaks[0]):04X}, a line break or control character that"
                        " no mail header may hold: a subject is one line",
                    )
        slack = raw.get("slack")
        webhook = raw.get("webhook")
        return DeliverSpec(
            slack=None
            if slack is None
            else SlackSpec(
                webhook_url_env=slack.get("webhook_url_env"),
                token_env=slack.get("token_env"),
                channel=slack.get("channel"),
                upload_pdf=bool(slack.get("upload_pdf", True)),
                send_if=slack.get("send_if", "always"),
            ),
            webhook=None
            if webhook is None
            else WebhookSpec(
                url=webhook.get("url"),
                url_env=webhook.get("url_env"),
                secret_env=webhook.get("secret_env"),
                send_if=webhook.get("send_if", "always"),
            ),
            email=None
            if email is None
            else EmailSpec(
                to=_as_tuple(email["to"]),
                cc=_as_tuple(email.get("cc")),
                bcc=_as_tuple(email.get("bcc")),
                subject=email.get("subject", "{{ report.title }}"),
                body=email.get("body"),
                attach=tuple(email.get("attach", ("pdf",))),
                body_format=email.get("body_format", "text"),
                send_if=email.get("send_if", "always"),
                on_failure=_as_tuple(email.get("on_failure")),
                locale=(
                    self.locale(email["locale"], ("deliver", "email", "locale"))
                    if "locale" in email
                    else None
                ),
            ),
        )


# What str.splitlines() breaks a line on (and so Python's mail headers refuse), and the other
# control characters, which a subject has no use for.
_HEADER_BREAKS = frozenset([chr(c) for c in range(0x20)] + ["\x7f", "\x85", "\u2028", "\u2029"]) - {
    "\t"
}
