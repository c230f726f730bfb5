"""A `Review` as words: Markdown for a pull-request comment, plain text for a terminal, JSON.

GitHub refuses a comment longer than 65,536 characters, so the Markdown shortens itself to fit:
first the per-row tables get fewer rows, then whole reports are left out, and a note says what
was left out and how to see it all (`--json`). Values come from data (product names, cities):
they are escaped so that a `|` or a `<script>` in one stays text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from reportkit.language.windows import DateRange
from reportkit.results.diff import ReportDiff, RowChange, TotalChange
from reportkit.review import ReportReview, Review

COMMENT_LIMIT = 65_536
NO_CHANGE = "No number changed."
_ROW_STEPS: tuple[int | None, ...] = (None, 500, 200, 100, 50, 20, 10, 5, 0)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def _md(text: str) -> str:
    """Data as inert Markdown text on one line."""
    one_line = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", one_line).replace("&", "&amp;")


def _code(text: str) -> str:
    """Data as an inline code span: literal inside, so only a backtick needs care."""
    return "`" + " ".join(str(text).split()).replace("`", "'") + "`"


def _number(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _change(change: TotalChange | RowChange) -> str:
    if change.before is None or change.after is None:
        return ""
    delta = change.after - change.before
    if delta == 0 and isinstance(change, RowChange):
        # the count held; the compare window's count is what moved
        return (
            f"compared with: {_number(change.previous_before)} -> {_number(change.previous_after)}"
        )
    text = f"{delta:+,}"
    if change.before:
        text += f" ({delta / change.before * 100:+.1f}%)"
    return text


def _span(window: DateRange | None) -> str:
    if window is None:
        return "none"
    return f"{window.start.isoformat()}..{window.end.isoformat()}"


def _status_line(review: ReportReview) -> str:
    if review.status == "added":
        return f"added in {review.head_path}"
    if review.status == "removed":
        return f"removed (was {review.base_path})"
    what = []
    if review.status == "renamed":
        what.append(f"renamed {review.base_path} -> {review.head_path}")
    else:
        what.append(str(review.head_path))
    changed = [
        name
        for name, flag in (
            ("definition", review.definition_changed),
            ("template", review.template_changed),
        )
        if flag
    ]
    if changed:
        what.append(" and ".join(changed) + " changed")
    return ", ".join(what)


# ---------------------------------------------------------------------------- text


def _gap(lines: list[str]) -> list[str]:
    """A blank line before a table, unless there is one already (or nothing at all)."""
    return [""] if lines and lines[-1] != "" else []


def _diff_lines(diff: ReportDiff, *, rows: int | None, md: bool) -> tuple[list[str], int]:
    """The lines of one report's diff and how many row changes were left out."""
    esc = _md if md else (lambda s: " ".join(str(s).split()))
    code = (lambda s: f"`{s}`") if md else (lambda s: s)
    bullet = "- " if md else "  "
    lines: list[str] = []
    for query_id in diff.queries_added:
        lines.append(f"{bullet}query added: {code(query_id)}")
    for query_id in diff.queries_removed:
        lines.append(f"{bullet}query removed: {code(query_id)}")
    for window in diff.windows:
        text = f"{bullet}window of {code(window.query_id)}: {_span(window.before)} -> "
        text += _span(window.after)
        if window.previous_before != window.previous_after:
            text += (
                f" (compared with {_span(window.previous_before)} -> "
                f"{_span(window.previous_after)})"
            )
        lines.append(text)
    for group in diff.groups:
        lines.append(f"{bullet}group {group.kind}: {code(group.query_id)} {code(group.group)}")
    if diff.totals:
        if md:
            lines += [
                *_gap(lines),
                "| Query | Measure | Before | After | Change |",
                "|---|---|--:|--:|--:|",
            ]
            for total in diff.totals:
                lines.append(
                    f"| `{total.query_id}` | {total.measure} | {_number(total.before)} "
                    f"| {_number(total.after)} | {_change(total)} |"
                )
            lines.append("")
        else:
            for total in diff.totals:
                lines.append(
                    f"  {total.query_id} {total.measure}: {_number(total.before)} -> "
                    f"{_number(total.after)} {_change(total)}".rstrip()
                )
    shown = diff.rows if rows is None else diff.rows[:rows]
    left_out = len(diff.rows) - len(shown)
    if shown:
        if md:
            lines += [
                *_gap(lines),
                "| Query | Group | Value | Row | Before | After | Change |",
                "|---|---|---|---|--:|--:|--:|",
            ]
        for row in shown:
            if md:
                lines.append(
                    f"| `{row.query_id}` | `{row.group}` | {esc(row.value)} | {row.kind} "
                    f"| {_number(row.before)} | {_number(row.after)} | {_change(row)} |"
                )
            else:
                lines.append(
                    f"  {row.query_id} {row.group} {esc(row.value)!r} {row.kind}: "
                    f"{_number(row.before)} -> {_number(row.after)} {_change(row)}".rstrip()
                )
    if left_out:
        note = f"{left_out} more changed rows left out"
        lines.append(f"\n_{note}._" if md else f"  ({note})")
    if md and lines and lines[-1] == "":
        lines.pop()
    return lines, left_out


def _report_lines(review: ReportReview, *, rows: int | None, md: bool) -> tuple[list[str], int]:
    esc = _md if md else (lambda s: " ".join(str(s).split()))
    if md:
        head = f"#### `{review.report_id}` {esc(review.title)}"
        lines = [head, "", f"_{esc(_status_line(review))}_", ""]
    else:
        lines = [f"{review.report_id}: {esc(review.title)} ({_status_line(review)})"]
    for problem in review.problems:
        lines.append(f"- **error:** {esc(problem)}" if md else f"  error: {problem}")
    left_out = 0
    if review.diff is not None:
        more, left_out = _diff_lines(review.diff, rows=rows, md=md)
        if review.diff.numbers_changed:
            lines += more
        else:
            lines.append(NO_CHANGE if md else f"  {NO_CHANGE}")
    elif review.status == "added" and not review.problems:
        lines.append("New report: every number is new." if md else "  new report")
    elif review.status == "removed":
        lines.append("Report removed: its numbers are gone." if md else "  report removed")
    return lines, left_out


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _headline(review: Review) -> str:
    if not review.reports:
        return "no report definition changed"
    changed = sum(1 for r in review.reports if r.numbers_changed)
    broken = sum(1 for r in review.reports if r.problems)
    of = f"{_plural(len(review.reports), 'changed definition')}"
    if broken:
        return f"{_plural(broken, 'report')} could not be compared ({of}, see the errors)"
    if not changed:
        return f"{of}, no number changed"
    return f"numbers changed in {_plural(changed, 'report')} of {of}"


def _heading(review: Review, md: bool) -> list[str]:
    if md:
        return [
            f"### reportkit diff: {_headline(review)}",
            "",
            f"Base {_code(review.base)}, head {_code(review.head)}, as of "
            f"{review.as_of.isoformat()} on {_code(review.source)}.",
            "",
        ]
    return [
        f"reportkit diff {review.base} -> {review.head}, as of {review.as_of.isoformat()} "
        f"on {review.source}: {_headline(review)}"
    ]


def _assemble(review: Review, rows: int | None, reports: int, md: bool) -> str:
    lines = _heading(review, md)
    left_rows = 0
    for item in review.reports[:reports]:
        more, left = _report_lines(item, rows=rows, md=md)
        left_rows += left
        lines += [*more, ""] if md else more
    missing = review.reports[reports:]
    if missing:
        names = ", ".join(r.report_id for r in missing[:20]) + (" ..." if len(missing) > 20 else "")
        lines.append(
            f"_{len(missing)} more changed reports left out to fit a comment: {_md(names)}. "
            "Run `reportkit diff --json` for everything._"
        )
    elif md and left_rows:
        lines.append(
            f"_{left_rows} changed rows left out to fit a comment; "
            "run `reportkit diff --json` for all of them._"
        )
    return "\n".join(lines).rstrip() + "\n"


def render_markdown(review: Review, *, limit: int = COMMENT_LIMIT) -> str:
    """The review as Markdown of at most `limit` characters."""
    for rows in _ROW_STEPS:
        text = _assemble(review, rows, len(review.reports), md=True)
        if len(text) <= limit:
            return text
    for count in range(len(review.reports) - 1, -1, -1):
        text = _assemble(review, 0, count, md=True)
        if len(text) <= limit:
            return text
    return text[: limit - 2] + "\n"


def render_text(review: Review) -> str:
    return _assemble(review, None, len(review.reports), md=False)


# ---------------------------------------------------------------------------- JSON


def _window(window: DateRange | None) -> dict[str, str] | None:
    if window is None:
        return None
    return {"from": window.start.isoformat(), "to": window.end.isoformat()}


def _diff_dict(diff: ReportDiff) -> dict[str, Any]:
    return {
        "numbers_changed": diff.numbers_changed,
        "queries_added": list(diff.queries_added),
        "queries_removed": list(diff.queries_removed),
        "windows": [
            {
                "query": w.query_id,
                "before": _window(w.before),
                "after": _window(w.after),
                "compare_before": _window(w.previous_before),
                "compare_after": _window(w.previous_after),
            }
            for w in diff.windows
        ],
        "totals": [
            {
                "query": t.query_id,
                "measure": t.measure,
                "before": t.before,
                "after": t.after,
                "change": t.change,
            }
            for t in diff.totals
        ],
        "groups": [{"query": g.query_id, "group": g.group, "kind": g.kind} for g in diff.groups],
        "rows": [
            {
                "query": r.query_id,
                "group": r.group,
                "value": r.value,
                "kind": r.kind,
                "before": r.before,
                "after": r.after,
                "previous_before": r.previous_before,
                "previous_after": r.previous_after,
            }
            for r in diff.rows
        ],
    }


def review_to_dict(review: Review) -> dict[str, Any]:
    return {
        "base": review.base,
        "head": review.head,
        "as_of": review.as_of.isoformat(),
        "source": review.source,
        "numbers_changed": review.numbers_changed,
        "invalid": review.invalid,
        "failed": review.failed,
        "reports": [_report_dict(r) for r in review.reports],
    }


def _report_dict(review: ReportReview) -> dict[str, Any]:
    return {
        "id": review.report_id,
        "title": review.title,
        "status": review.status,
        "base_path": review.base_path,
        "head_path": review.head_path,
        "definition_changed": review.definition_changed,
        "template_changed": review.template_changed,
        "numbers_changed": review.numbers_changed,
        "problems": list(review.problems),
        "diff": _diff_dict(review.diff) if review.diff is not None else None,
    }


def render_json(review: Review) -> str:
    return json.dumps(review_to_dict(review), indent=2, ensure_ascii=False) + "\n"


def render_review(review: Review, fmt: str) -> str:
    """`fmt`: md, text or json."""
    renderers = {"md": render_markdown, "text": render_text, "json": render_json}
    return renderers[fmt](review)


__all__: Sequence[str] = [
    "COMMENT_LIMIT",
    "NO_CHANGE",
    "render_json",
    "render_markdown",
    "render_review",
    "render_text",
    "review_to_dict",
]
