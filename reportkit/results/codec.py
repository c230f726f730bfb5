"""results.json: a ReportResult as plain JSON data and back, so a published report can be
rendered again, diffed or delivered without asking the source."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from reportkit.errors import RenderError
from reportkit.language.model import FILTER_LISTS, OPERATORS, Filter, FilterValue
from reportkit.language.windows import DateRange
from reportkit.results import (
    CheckResult,
    GroupTable,
    Highlight,
    QueryResult,
    ReportResult,
    Row,
    TrendPoint,
)

RESULTS_FORMAT = 1


def _window(window: DateRange | None) -> dict[str, str] | None:
    if window is None:
        return None
    return {"from": window.start.isoformat(), "to": window.end.isoformat()}


def _row(row: Row) -> dict[str, Any]:
    data: dict[str, Any] = {"type": row.type, "value": row.value, "count": row.count}
    if row.previous is not None:
        data["previous"] = row.previous
    if row.previous_outside_top_n:
        data["previous_outside_top_n"] = True  # previous unknown: not in that window's top N
    return data


def _point(point: TrendPoint) -> dict[str, Any]:
    data: dict[str, Any] = {"period": point.period, "count": point.count}
    if point.previous is not None:
        data["previous"] = point.previous
    return data


def _filter(item: Filter) -> dict[str, Any]:
    data: dict[str, Any] = {"scope": item.scope, **item.wire()}
    return data


def _filter_from(data: Any) -> Filter:
    if (
        not isinstance(data, dict)
        or data.get("scope") not in FILTER_LISTS
        or data.get("operator") not in OPERATORS
        or not isinstance(data.get("name"), str)
    ):
        raise ValueError(f"not a filter: {str(data)[:80]}")
    value: FilterValue | None = data.get("value")
    if isinstance(value, list):
        value = tuple(value)
    return Filter(data["scope"], data["name"], data["operator"], value)


def _query(query: QueryResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": query.title,
        "event": query.event,
        "kind": query.kind,
        "description": query.description,
        "from": query.window.start.isoformat(),
        "to": query.window.end.isoformat(),
        "compare": _window(query.previous_window),
    }
    if query.where:
        data["where"] = [_filter(f) for f in query.where]
    if query.kind == "count":
        data["count"] = query.total
        data["previous_count"] = query.previous_total
    else:
        data["total"] = query.total
        data["previous_total"] = query.previous_total
    data["unique"] = query.unique
    data["previous_unique"] = query.previous_unique
    if query.groups:
        data["groups"] = {
            g.key: {
                "name": g.name,
                "property_type": g.property_type,
                "top_n": g.top_n,
                "order": g.order,
                "rows": [_row(r) for r in g.rows],
            }
            for g in query.groups
        }
    if query.kind == "trend" or query.trend:
        data["granularity"] = query.granularity
        data["measure"] = query.measure
        if query.currency is not None:  # absent without one: files stay as they were
            data["currency"] = query.currency
        data["trend"] = [_point(p) for p in query.trend]
    elif query.granularity is not None:
        data["granularity"] = query.granularity
    if query.chart is not None:
        data["chart"] = query.chart
    return data


def check_to_dict(check: CheckResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": check.id,
        "severity": check.severity,
        "passed": check.passed,
        "message": check.message,
    }
    if check.query is not None:
        data["query"] = check.query
    return data


def _highlight(item: Highlight) -> dict[str, Any]:
    data: dict[str, Any] = {
        "text": item.text,
        "query": item.query_id,
        "count": item.count,
        "previous": item.previous,
        "pct_change": item.pct_change,
    }
    if item.group is not None:
        data["group"] = item.group
        data["value"] = item.value
    return data


def results_to_dict(result: ReportResult) -> dict[str, Any]:
    """results.json's data; `checks` and `highlights` only when the report has any."""
    data = _results_dict(result)
    if result.locale != "en_US":  # absent for the default: en_US files stay as they were
        data["report"]["locale"] = result.locale
    if result.checks:
        data["checks"] = [check_to_dict(c) for c in result.checks]
    if result.highlights:
        data["highlights"] = [_highlight(h) for h in result.highlights]
    return data


def _results_dict(result: ReportResult) -> dict[str, Any]:
    return {
        "format": RESULTS_FORMAT,
        "report": {
            "id": result.report_id,
            "title": result.title,
            "description": result.description,
            "timezone": result.timezone,
            "as_of": result.as_of.isoformat(),
            "generated_at": result.generated_at.isoformat(),
            "source": result.source,
            "demo": result.demo,
            "compare": result.compare,
            "reportkit_version": result.reportkit_version,
        },
        "queries": {q.query_id: _query(q) for q in result.queries},
    }


def _range(data: dict[str, str] | None) -> DateRange | None:
    if data is None:
        return None
    return DateRange(date.fromisoformat(data["from"]), date.fromisoformat(data["to"]))


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _query_from(query_id: str, data: dict[str, Any]) -> QueryResult:
    count_kind = data["kind"] == "count"
    groups = tuple(
        GroupTable(
            key=key,
            name=g["name"],
            property_type=g["property_type"],
            top_n=int(g["top_n"]),
            order=g["order"],
            rows=tuple(
                Row(
                    r["type"],
                    str(r["value"]),
                    int(r["count"]),
                    _opt_int(r.get("previous")),
                    r.get("previous_outside_top_n") is True,
                )
                for r in g["rows"]
            ),
        )
        for key, g in (data.get("groups") or {}).items()
    )
    return QueryResult(
        query_id=query_id,
        title=data["title"],
        event=data["event"],
        kind=data["kind"],
        window=DateRange(date.fromisoformat(data["from"]), date.fromisoformat(data["to"])),
        previous_window=_range(data.get("compare")),
        description=data.get("description", ""),
        groups=groups,
        total=_opt_int(data.get("count") if count_kind else data.get("total")),
        previous_total=_opt_int(
            data.get("previous_count") if count_kind else data.get("previous_total")
        ),
        unique=_opt_int(data.get("unique")),
        previous_unique=_opt_int(data.get("previous_unique")),
        granularity=data.get("granularity"),
        measure=str(data.get("measure") or "Events"),
        currency=_currency(data.get("currency")),
        trend=tuple(
            TrendPoint(str(p["period"]), int(p["count"]), _opt_int(p.get("previous")))
            for p in data.get("trend") or ()
        ),
        chart=data.get("chart"),
        where=tuple(_filter_from(f) for f in data.get("where") or ()),
    )


def _currency(value: Any) -> str | None:
    """A results.json currency as rendering can trust it: an ISO 4217-shaped code, or none."""
    if value is None:
        return None
    if not isinstance(value, str) or not (len(value) == 3 and value.isascii() and value.isupper()):
        raise RenderError(f"results.json: currency {str(value)[:20]!r} is not an ISO 4217 code")
    return value


def results_from_dict(data: dict[str, Any]) -> ReportResult:
    if data.get("format") != RESULTS_FORMAT:
        raise RenderError(
            f"results.json has format {data.get('format')!r}, expected {RESULTS_FORMAT}"
        )
    report = data["report"]
    return ReportResult(
        report_id=report["id"],
        title=report["title"],
        description=report.get("description", ""),
        timezone=report["timezone"],
        as_of=date.fromisoformat(report["as_of"]),
        generated_at=datetime.fromisoformat(report["generated_at"]),
        source=report["source"],
        demo=bool(report["demo"]),
        compare=report.get("compare"),
        queries=tuple(_query_from(qid, q) for qid, q in data["queries"].items()),
        reportkit_version=report.get("reportkit_version", ""),
        locale=str(report.get("locale") or "en_US"),
        checks=tuple(_check_from(c) for c in data.get("checks") or ()),
        highlights=tuple(_highlight_from(h) for h in data.get("highlights") or ()),
    )


def _check_from(data: dict[str, Any]) -> CheckResult:
    severity = data.get("severity", "fail")
    if severity not in ("fail", "warn"):
        raise ValueError(f"check severity {severity!r} is not fail or warn")
    passed = data["passed"]
    if not isinstance(passed, bool):
        raise ValueError(f"check {data.get('id')!r}: passed is not true or false")
    query = data.get("query")
    return CheckResult(
        id=str(data["id"]),
        severity=severity,
        passed=passed,
        message=str(data.get("message", "")),
        query=None if query is None else str(query),
    )


def _highlight_from(data: dict[str, Any]) -> Highlight:
    group = data.get("group")
    value = data.get("value")
    return Highlight(
        text=str(data["text"]),
        query_id=str(data["query"]),
        count=int(data["count"]),
        previous=int(data["previous"]),
        pct_change=float(data["pct_change"]),
        group=None if group is None else str(group),
        value=None if value is None else str(value),
    )
