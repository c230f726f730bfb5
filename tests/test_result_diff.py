"""The pure core of `reportkit diff`: two ReportResults in, the numbers that differ out; and the
Markdown summary that must fit in a pull-request comment."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from reportkit.language.windows import DateRange
from reportkit.results import GroupTable, Row
from reportkit.results.diff import diff_results
from reportkit.review import ReportReview, Review
from reportkit.review.summary import NO_CHANGE, render_json, render_markdown, render_text
from tests.report_fixtures import HOSTILE, PIPE, count_query, make_report, top_query


def test_the_same_numbers_under_new_titles_are_no_change() -> None:
    before = make_report()
    after = replace(
        before,
        title="Another title",
        queries=tuple(replace(q, title=q.title + "!", description="new") for q in before.queries),
    )
    diff = diff_results(before, after)
    assert not diff.numbers_changed
    assert diff == diff_results(before, before)


def test_totals_windows_queries_and_rows_are_each_reported() -> None:
    before = make_report()
    orders = count_query()
    products = top_query()
    table = products.groups[0]
    first, second, *rest = table.rows
    new_rows = (replace(first, count=first.count + 7), *rest, Row("STR", "Brand new", 3))
    after = make_report(
        queries=(
            replace(
                orders,
                total=orders.total + 5,  # type: ignore[operator]
                window=DateRange(date(2026, 11, 16), date(2026, 11, 29)),
            ),
            replace(products, groups=(replace(table, rows=new_rows),)),
            count_query("signups"),
        )
    )
    diff = diff_results(before, after)
    assert diff.queries_added == ("signups",)
    assert set(diff.queries_removed) == {q.query_id for q in before.queries[2:]}
    assert [(w.query_id, w.after.days) for w in diff.windows] == [("orders", 14)]
    assert [(t.query_id, t.measure, t.change) for t in diff.totals] == [("orders", "total", 5)]
    kinds = {(r.value, r.kind, r.before, r.after) for r in diff.rows}
    assert (first.value, "changed", first.count, first.count + 7) in kinds
    assert (second.value, "disappeared", second.count, None) in kinds
    assert ("Brand new", "appeared", None, 3) in kinds
    assert diff.numbers_changed


def test_a_new_group_is_a_group_added() -> None:
    before = make_report(queries=(top_query(),))
    tables = before.queries[0].groups
    extra = GroupTable("city", "City", "geo_fields", 5, "desc", (Row("STR", "Pune", 4),))
    after = make_report(queries=(replace(top_query(), groups=(*tables, extra)),))
    diff = diff_results(before, after)
    assert [(g.group, g.kind) for g in diff.groups] == [("city", "added")]
    assert diff.rows == ()


def _review(diff_rows: int) -> Review:
    before = make_report(queries=(top_query(rows=1),))
    table = before.queries[0].groups[0]
    rows = tuple(Row("STR", f"{PIPE} {HOSTILE} {i}", i + 1) for i in range(diff_rows))
    after = make_report(queries=(replace(top_query(rows=1), groups=(replace(table, rows=rows),)),))
    item = ReportReview(
        "changed",
        "weekly-ecommerce",
        "Weekly",
        "reports/w.yaml",
        "reports/w.yaml",
        definition_changed=True,
        diff=diff_results(before, after),
    )
    return Review("main", "work tree", date(2026, 11, 30), "demo", (item,) * 3)


def test_markdown_fits_a_comment_and_says_what_it_left_out() -> None:
    review = _review(3000)
    full = render_text(review)
    assert full.count(" appeared: ") == 3 * 3000
    text = render_markdown(review)
    assert len(text) <= 65_536
    assert "left out to fit a comment" in text
    shown = text.count("| appeared |")
    assert 0 < shown < 3 * 3000
    small = render_markdown(review, limit=3000)
    assert len(small) <= 3000 and "left out" in small


def test_markdown_escapes_values_from_data() -> None:
    text = render_markdown(_review(2))
    assert "<script>" not in text
    assert "Shoes \\| Sandals and more" in text  # one table cell, one line


def test_no_change_is_one_line_and_json_carries_everything() -> None:
    before = make_report()
    item = ReportReview(
        "changed", "w", "W", "r.yaml", "r.yaml", True, False, diff_results(before, before)
    )
    review = Review("main", "work tree", date(2026, 11, 30), "demo", (item,))
    assert NO_CHANGE in render_markdown(review)
    assert not review.numbers_changed
    data = __import__("json").loads(render_json(_review(4)))
    assert data["numbers_changed"] is True
    assert len(data["reports"][0]["diff"]["rows"]) == 4 + 1  # 4 appeared, 1 disappeared
