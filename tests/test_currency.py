"""Money: `currency:` on a trend that sums a property writes its values and changes as amounts
of that currency in the report's locale, checked against Babel's own `format_currency` of the
same numbers in HTML, Markdown, the chart (text alternative and axis) and the email subject.
Counts stay counts; a currency where nothing is summed is a located error."""

from __future__ import annotations

import email
import email.policy
import json
import re
from pathlib import Path

import pytest
from babel.numbers import format_currency, format_decimal
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.render import labels
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parent.parent
WEEKLY = (ROOT / "reports" / "weekly-ecommerce.yaml").read_text()
SUBJECT = (
    'subject: "{{ queries.revenue_by_day.points[0].count | money(queries.revenue_by_day.currency) }}'
    ' on day one, {{ queries.orders.total | money(queries.orders.currency) }} orders"'
)


def definition(tmp_path: Path, locale: str, currency: str = "EUR") -> Path:
    text = WEEKLY.replace(
        "    sum_event_prop: Amount\n", f"    sum_event_prop: Amount\n    currency: {currency}\n", 1
    )
    text = text.replace("week_start: monday\n", f"week_start: monday\nlocale: {locale}\n")
    text = text.replace("attach: [pdf]", "attach: [md]")
    text = re.sub(r"subject: >-\n.*\n.*\n", SUBJECT + "\n", text, count=1)
    path = tmp_path / "weekly-ecommerce.yaml"
    path.write_text(text)
    return path


def run(tmp_path: Path, demo_store: Path, defn: Path) -> Path:
    done = CliRunner().invoke(
        cli,
        [
            *("run", str(defn), "--as-of", AS_OF, "--source", f"local:{demo_store}"),
            *("--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")),
            *("--format", "html,md", "--json", "--deliver", "--dry-run"),
        ],
    )
    assert done.exit_code == 0, done.stderr
    return Path(json.loads(done.stdout)[0]["directory"])


def babel_delta(value: int, currency: str, locale: str) -> str:
    text = format_currency(abs(value), currency, locale=locale)
    return text if value == 0 else ("+" if value > 0 else "\u2212") + text


@pytest.mark.parametrize(("locale", "currency"), [("en_US", "USD"), ("de_DE", "EUR")])
def test_a_summed_trend_in_a_currency_is_written_as_money(
    locale: str, currency: str, demo_store: Path, tmp_path: Path
) -> None:
    folder = run(tmp_path, demo_store, definition(tmp_path, locale, currency))
    results = json.loads((folder / "results.json").read_text())
    revenue = results["queries"]["revenue_by_day"]
    assert revenue["currency"] == currency
    html = (folder / "report.html").read_text()
    md = (folder / "report.md").read_text().replace("\\", "")
    points = revenue["trend"]
    assert len(points) == 7 and all(p["previous"] is not None for p in points)
    for point in points:
        for value in (point["count"], point["previous"]):
            money = format_currency(value, currency, locale=locale)
            assert f'<td class="num">{money}</td>' in html, money
            assert f"| {money} |" in md, money
        delta = babel_delta(point["count"] - point["previous"], currency, locale)
        assert f">{delta}</td>" in html, delta
        assert f" {delta} |" in md, delta
    # the chart: its text alternative and its axis write money too
    alt = re.search(r'aria-label="([^",]+, Revenue per day[^"]*)"', html)
    assert alt is not None
    first = format_currency(points[0]["count"], currency, locale=locale)
    assert f": {first} (" in alt.group(1)
    chart = html[alt.start() : html.index("</svg>", alt.start())]
    symbol = "$" if currency == "USD" else "€"
    ticks = re.findall(r"<text[^>]*>([^<]*)</text>", chart)
    assert sum(symbol in t for t in ticks) >= 3, ticks
    # counts stay counts
    orders = results["queries"]["orders"]["count"]
    count = f"{orders:,}" if locale == "en_US" else format_decimal(orders, locale=locale)
    assert f'<div class="value">{count}</div>' in html
    # the email subject: `| money(q.currency) }}`, a plain number without one
    (eml,) = (tmp_path / "out" / "outbox").glob("*.eml")
    subject = str(
        email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)["Subject"]
    )
    assert subject.endswith(f"{first} on day one, {count} orders")


def test_money_and_its_changes_follow_the_locale() -> None:
    assert labels.format_money(1234.5, "EUR") == format_currency(1234.5, "EUR", locale="en_US")
    assert labels.format_money(-5, "USD") == "\u2212$5.00"
    assert labels.format_money(1234, None) == "1,234"  # no currency: a number
    assert labels.format_delta(1234.5, currency="USD") == "+$1,234.50"
    with labels.formatting_locale("de_DE"):
        assert labels.format_money(1234.5, "EUR") == "1.234,50\xa0€"
        assert labels.format_delta(-1234.5, currency="EUR") == "\u22121.234,50\xa0€"
        number, _ = labels.vega_locales("EUR")
        assert number is not None and number["currency"] == ["", "\xa0€"]
    with labels.formatting_locale("hi_IN"):
        assert labels.format_money(1234567, "INR") == format_currency(
            1234567, "INR", locale="hi_IN"
        )
        assert labels.format_money(1234567, "INR") == "₹12,34,567.00"
    assert labels.vega_locales() == (None, None)  # the default without money: as before
    number, time = labels.vega_locales("USD")
    assert number is not None and number["currency"] == ["$", ""] and time is None


def test_currency_is_checked_where_it_is_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\ntitle: T\nqueries:\n"
        "  - id: a\n    event: E\n    kind: count\n    currency: EUR\n"
        "  - id: b\n    event: E\n    kind: trend\n    sum_event_prop: Amount\n    currency: eur\n"
        "  - id: c\n    event: E\n    kind: trend\n    sum_event_prop: Amount\n    currency: EUX\n"
        "  - id: d\n    event: E\n    kind: trend\n    sum_event_prop: Amount\n    currency: QQQ\n"
    )
    done = CliRunner().invoke(cli, ["validate", str(bad)])
    assert done.exit_code == 2
    assert done.stderr.strip().splitlines() == [
        f"{bad}:7:5: queries[0].currency: currency says what a trend's sum_event_prop is counted"
        " in; this query sums no property: add kind: trend and sum_event_prop, or remove currency",
        f"{bad}:12:5: queries[1].currency: unknown currency 'eur'; did you mean 'EUR'?",
        f"{bad}:17:5: queries[2].currency: unknown currency 'EUX'; did you mean 'EUR'?",
        f"{bad}:22:5: queries[3].currency: unknown currency 'QQQ' (write an ISO 4217 code such as"
        " EUR, USD, INR)",
    ]


def test_results_json_keeps_the_currency_and_refuses_a_bad_one() -> None:
    from reportkit.errors import RenderError
    from reportkit.results.codec import _currency

    assert _currency(None) is None and _currency("EUR") == "EUR"
    with pytest.raises(RenderError, match="not an ISO 4217 code"):
        _currency("€<script>")


def test_a_webhook_says_which_totals_are_money() -> None:
    from dataclasses import replace

    from reportkit.deliver.webhook import query_totals
    from tests.report_fixtures import make_report, trend_query

    revenue = replace(trend_query("revenue"), currency="EUR")
    totals = query_totals(replace(make_report(), queries=(revenue, trend_query())))
    assert totals["revenue"]["currency"] == "EUR"
    assert totals["revenue"]["total"] == sum(p.count for p in revenue.trend)
    assert "currency" not in totals["daily-orders"]  # counts: no key, as before
