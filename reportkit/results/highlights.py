""" "What changed": the largest moves against the compare window, as short sentences.

Candidates are every query's total (and unique profiles), a trend's sum over its periods and every
group row that has a previous count. Small numbers move a lot by chance, so a candidate counts only
when it or its previous value reaches `min_count`; the rest are ranked by the size of their %
change (then of their absolute change) and the first `limit` kept. Pure: no I/O, no templates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from reportkit.results import NOT_SET, Highlight, QueryResult, ReportResult

MIN_COUNT = 20
LIMIT = 5


@dataclass(frozen=True, slots=True)
class _Move:
    subject: str  # what moved, as the sentence names it
    query_id: str
    count: int
    previous: int
    group: str | None = None
    value: str | None = None

    @property
    def pct(self) -> float:
        return (self.count - self.previous) / self.previous * 100.0


def _number(value: int) -> str:
    return f"{value:,}"


def quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _moves(query: QueryResult) -> Iterator[_Move]:
    title = quote(query.title or query.query_id)
    if query.total is not None and query.previous_total is not None:
        what = title if query.kind == "count" else f"{title} ({quote(query.event)} events)"
        yield _Move(what, query.query_id, query.total, query.previous_total)
    if query.unique is not None and query.previous_unique is not None:
        yield _Move(
            f"{title} (unique profiles)", query.query_id, query.unique, query.previous_unique
        )
    points = [p for p in query.trend if p.previous is not None]
    if points:
        yield _Move(
            f"{title} ({quote(query.measure).lower()}, all periods)",
            query.query_id,
            sum(p.count for p in points),
            sum(p.previous or 0 for p in points),
        )
    for group in query.groups:
        for row in group.rows:
            if row.previous is None:
                continue
            label = "(not set)" if row.value == NOT_SET else f"“{quote(row.value, 40)}”"
            yield _Move(
                f"{quote(group.name, 40)} {label} in {title}",
                query.query_id,
                row.count,
                row.previous,
                group=group.key,
                value=row.value,
            )


def _sentence(move: _Move) -> str:
    verb = "rose" if move.count > move.previous else "fell"
    pct = abs(move.pct)
    return (
        f"{move.subject} {verb} {pct:,.1f}% to {_number(move.count)} "
        f"(from {_number(move.previous)})."
    )


def find_highlights(
    result: ReportResult, *, min_count: int = MIN_COUNT, limit: int = LIMIT
) -> tuple[Highlight, ...]:
    """The `limit` largest moves of `result` against its compare window, largest first."""
    moves = [
        m
        for q in result.queries
        for m in _moves(q)
        if m.previous > 0 and m.count != m.previous and max(m.count, m.previous) >= min_count
    ]
    moves.sort(key=lambda m: (-abs(m.pct), -abs(m.count - m.previous), m.subject))
    return tuple(
        Highlight(
            text=_sentence(m),
            query_id=m.query_id,
            count=m.count,
            previous=m.previous,
            pct_change=round(m.pct, 4),
            group=m.group,
            value=m.value,
        )
        for m in moves[:limit]
    )
