"""The reader's locale: the demo report in en_US, de_DE, fr_FR and hi_IN, every number and date
checked against Babel's own formatting of the same values, in HTML, Markdown, chart text
alternatives and the email subject; the default stays exactly as before."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_interval, format_skeleton
from babel.numbers import format_decimal, format_percent
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.language.windows import DateRange
from reportkit.render import labels
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parent.parent
WEEKLY = (ROOT / "reports" / "weekly-ecommerce.yaml").read_text()
# a monthly revenue sum reaches hundreds of thousands: lakh grouping shows in hi_IN
MONTHLY = """
  - id: revenue_by_month
    title: Revenue per month
    event: Charged
    kind: trend
    granularity: monthly
    sum_event_prop: Amount
    window: last_3_months
"""


def definition(tmp_path: Path, locale: str | None) -> Path:
    text = WEEKLY.replace("\nqueries:\n", "\nqueries:\n" + MONTHLY.lstrip("\n"), 1)
    text = text.replace("attach: [pdf]", "attach: [md]")  # no PDF: WeasyPrint is slow
    if locale is not None:
        text = text.replace("week_start: monday\n", f"week_start: monday\nlocale: {locale}\n")
    path = tmp_path / "weekly-ecommerce.yaml"
    path.write_text(text)
    return path


def run(tmp_path: Path, demo_store: Path, defn: Path, formats: str = "html,md") -> Path:
    done = CliRunner().invoke(
        cli,
        [
            *("run", str(defn), "--as-of", AS_OF, "--source", f"local:{demo_store}"),
            *("--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")),
            *("--format", formats, "--json", "--deliver", "--dry-run"),
        ],
    )
    assert done.exit_code == 0, done.stderr
    return Path(json.loads(done.stdout)[0]["directory"])


def numbers(results: dict[str, Any]) -> list[int]:
    found = []
    for query in results["queries"].values():
        found += [query.get(k) for k in ("count", "total", "unique") if query.get(k)]
        found += [p["count"] for p in query.get("trend", [])]
        for group in (query.get("groups") or {}).values():
            found += [r["count"] for r in group["rows"]]
    return [n for n in found if isinstance(n, int)]


@pytest.mark.parametrize("locale", ["en_US", "de_DE", "fr_FR", "hi_IN"])
def test_the_demo_report_writes_numbers_and_dates_as_babel_does(
    locale: str, demo_store: Path, tmp_path: Path
) -> None:
    folder = run(tmp_path, demo_store, definition(tmp_path, locale))
    results = json.loads((folder / "results.json").read_text())
    html = (folder / "report.html").read_text()
    md = (folder / "report.md").read_text().replace("\\", "")
    values = numbers(results)
    assert max(values) >= 100_000  # big enough for lakh grouping
    for value in values:
        # en_US: reportkit's own formatting, as before locales
        expected = f"{value:,}" if locale == "en_US" else format_decimal(value, locale=locale)
        assert expected in html, (locale, value, expected)
        assert expected in md, (locale, value, expected)
    if locale == "hi_IN":
        big = max(values)
        assert re.fullmatch(r"\d{1,2}(,\d\d)*,\d{3}", format_decimal(big, locale=locale))
        assert format_decimal(big, locale=locale) != f"{big:,}"
    # dates and month and weekday names
    orders = results["queries"]["orders"]
    start, end = date.fromisoformat(orders["from"]), date.fromisoformat(orders["to"])
    if locale == "en_US":
        assert f"{start.isoformat()} – {end.isoformat()}" in html
        assert '<html lang="en">' in html and "locale" not in results["report"]
    else:
        assert format_interval(start, end, "yMMMd", locale=locale) in html
        day = date.fromisoformat(orders["from"])
        assert format_skeleton("yMMMEd", day, locale=locale) in html  # weekday names
        month = date.fromisoformat(results["queries"]["revenue_by_month"]["to"]).replace(day=1)
        assert format_skeleton("yMMM", month, locale=locale) in html  # month names
        assert f'<html lang="{locale.replace("_", "-")}">' in html
        assert results["report"]["locale"] == locale
    # the chart's text alternative uses the same numbers
    alt = re.search(
        r'aria-label="([^",]+, What sold: Product\.[^"]*)"', html
    )  # "Balkendiagramm, ..."
    assert alt is not None
    top = results["queries"]["purchases"]["groups"]["product"]["rows"][0]["count"]
    shown = f"{top:,}" if locale == "en_US" else format_decimal(top, locale=locale)
    assert f": {shown}" in alt.group(1)
    # the email subject: `{{ queries.orders.total | number }} orders`
    (eml,) = (tmp_path / "out" / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    total = shown_total = orders["count"]
    shown_total = f"{total:,}" if locale == "en_US" else format_decimal(total, locale=locale)
    assert f"{shown_total} orders" in str(message["Subject"])


def test_percentages_follow_the_locale() -> None:
    def babel(value: float, locale: str) -> str:
        return format_percent(value, locale=locale, decimal_quantization=False)

    with labels.formatting_locale("de_DE"):
        assert labels.format_percent(12.5) == babel(0.125, "de_DE") == "12,5\xa0%"
        assert labels.format_delta(-12.5, 1, "%") == "−" + babel(0.125, "de_DE")
        assert labels.format_number(1234567) == "1.234.567"
    with labels.formatting_locale("fr_FR"):
        assert labels.format_percent(12.5) == babel(0.125, "fr_FR")
    with labels.formatting_locale("hi_IN"):
        assert labels.format_number(1234567) == "12,34,567"
    assert labels.format_percent(12.5) == "12.5%"  # outside the block: as before
    window = DateRange(date(2026, 11, 28), date(2026, 11, 28))
    with labels.formatting_locale("de_DE"):
        assert labels.format_daterange(window) == "28. Nov. 2026"


def test_an_unknown_locale_is_a_located_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\ntitle: T\nlocale: xx_YY\nqueries:\n  - id: a\n    event: E\n    kind: count\n"
        "deliver:\n  email:\n    to: [a@example.com]\n    locale: zz\n"
    )
    done = CliRunner().invoke(cli, ["validate", str(bad)])
    assert done.exit_code == 2
    lines = done.stderr.strip().splitlines()
    advice = "write a CLDR locale such as en_US, de_DE, fr_FR, hi_IN"
    assert lines == [
        f"{bad}:3:1: locale: unknown locale 'xx_YY': {advice}",
        f"{bad}:11:5: deliver.email.locale: unknown locale 'zz': {advice}",
    ]


def test_week_start_follows_week_start_not_the_locale(tmp_path: Path) -> None:
    from reportkit.language.spec import load_report
    from reportkit.plan import plan_requests

    defn = definition(tmp_path, "en_US")  # en_US weeks start on Sunday in CLDR
    report = load_report(defn)
    assert report.week_start == "monday"
    window = plan_requests(report, date(2026, 11, 30)).window_of("orders").current
    assert window.start.weekday() == 0  # last_week: Monday to Sunday
    de = load_report(definition(tmp_path, "de_DE"))
    assert plan_requests(de, date(2026, 11, 30)).window_of("orders").current == window
