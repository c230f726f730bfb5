"""Realistic ReportResult objects for render and output tests (and bench/render.py).

E-commerce shaped: products and categories (STR), order amounts in NUMBER buckets "0-100" ..
"900-1000", first-purchase DATE buckets as epoch "lo-hi", "-1" for not set, previous values when
compared. Deterministic: the same arguments give the same report.
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from reportkit.language.windows import DateRange
from reportkit.results import NOT_SET, GroupTable, QueryResult, ReportResult, Row, TrendPoint

AS_OF = date(2026, 11, 30)
WINDOW = DateRange(date(2026, 11, 23), date(2026, 11, 29))
PREVIOUS = DateRange(date(2026, 11, 16), date(2026, 11, 22))
HOSTILE = "<script>alert(1)</script>"
JINJA = "{{ 7*7 }}"
PIPE = "Shoes | Sandals\nand more"

PRODUCTS = [
    "Trail Runner 2",
    "Everyday Tee",
    "Merino Hoodie",
    "Canvas Tote",
    "Rain Shell",
    "Wool Socks (3-pack)",
    "Leather Belt",
    "Denim Jacket",
    "Linen Shirt",
    "Cap",
    "Chelsea Boots",
    "Puffer Vest",
]
CATEGORIES = ["Footwear", "Tops", "Outerwear", "Accessories", "Bottoms"]


def _rows(
    rng: random.Random, values: list[str], typ: str, compare: bool, top: int
) -> tuple[Row, ...]:
    counts = sorted((rng.randint(300, 9000) for _ in values), reverse=True)
    rows = [
        Row(typ, v, c, (max(0, c + rng.randint(-900, 900)) if compare else None))
        for v, c in zip(values, counts, strict=True)
    ]
    return tuple(rows[:top])


def top_query(
    query_id: str = "top-products",
    *,
    compare: bool = True,
    hostile: bool = False,
    rows: int = 10,
    seed: int = 1,
) -> QueryResult:
    rng = random.Random(seed)
    values = [*PRODUCTS]
    values.insert(3, NOT_SET)
    if rows > len(values):
        values += [f"Product {i:03d}" for i in range(rows - len(values))]
    if hostile:
        values[0:3] = [HOSTILE, JINJA, PIPE]
    product_rows = _rows(rng, values[:rows], "STR", compare, rows)
    category_rows = _rows(rng, CATEGORIES, "STR", compare, 5)
    total = sum(r.count for r in product_rows) + 4321
    return QueryResult(
        query_id=query_id,
        title="Most viewed products" if not hostile else f"Products {HOSTILE}",
        event="Product Viewed",
        kind="top",
        window=WINDOW,
        previous_window=PREVIOUS if compare else None,
        description="Which products people looked at, and in which categories.",
        groups=(
            GroupTable("product", "Product", "event_properties", rows, "desc", product_rows),
            GroupTable("category", "Category", "event_properties", 5, "desc", category_rows),
        ),
        total=total,
        previous_total=total - 2100 if compare else None,
    )


def amount_query(
    query_id: str = "order-value", *, compare: bool = True, seed: int = 2
) -> QueryResult:
    rng = random.Random(seed)
    buckets = [f"{lo}-{lo + 100}" for lo in range(0, 1000, 100)]
    rng.shuffle(buckets)  # the API answers in count order; the report shows range order
    rows = (
        *(
            Row("NUMBER", b, rng.randint(200, 5000), rng.randint(200, 5000) if compare else None)
            for b in buckets
        ),
        Row("NUMBER", NOT_SET, 57, 61 if compare else None),
    )
    return QueryResult(
        query_id=query_id,
        title="Order value",
        event="Charged",
        kind="top",
        window=WINDOW,
        previous_window=PREVIOUS if compare else None,
        description="Orders by amount, in buckets of 100.",
        groups=(GroupTable("amount", "Amount", "event_properties", 11, "desc", rows),),
        total=sum(r.count for r in rows),
        previous_total=sum(r.previous or 0 for r in rows) if compare else None,
    )


def dates_query(
    query_id: str = "first-purchase", *, compare: bool = False, seed: int = 3
) -> QueryResult:
    rng = random.Random(seed)
    start = int(datetime(2026, 11, 23, tzinfo=UTC).timestamp())
    rows = [
        Row("DATE", f"{start + d * 86400}-{start + (d + 1) * 86400}", rng.randint(50, 900))
        for d in range(7)
    ]
    rng.shuffle(rows)
    return QueryResult(
        query_id=query_id,
        title="First purchase date",
        event="Charged",
        kind="top",
        window=WINDOW,
        groups=(GroupTable("first", "First purchase", "profile_fields", 7, "desc", tuple(rows)),),
        total=sum(r.count for r in rows),
    )


def count_query(query_id: str = "orders", *, compare: bool = True) -> QueryResult:
    return QueryResult(
        query_id=query_id,
        title="Orders placed",
        event="Charged",
        kind="count",
        window=WINDOW,
        previous_window=PREVIOUS if compare else None,
        total=48213,
        previous_total=45110 if compare else None,
        unique=9120,
        previous_unique=9301 if compare else None,
    )


def trend_query(
    query_id: str = "daily-orders", *, compare: bool = True, seed: int = 4
) -> QueryResult:
    rng = random.Random(seed)
    points = []
    for i in range(WINDOW.days):
        day = WINDOW.start + timedelta(days=i)
        count = rng.randint(5800, 7900)
        points.append(
            TrendPoint(
                day.strftime("%Y%m%d"), count, count + rng.randint(-800, 500) if compare else None
            )
        )
    return QueryResult(
        query_id=query_id,
        title="Orders per day",
        event="Charged",
        kind="trend",
        window=WINDOW,
        previous_window=PREVIOUS if compare else None,
        granularity="daily",
        trend=tuple(points),
        total=sum(p.count for p in points),
    )


def make_report(
    *,
    demo: bool = True,
    compare: bool = True,
    hostile: bool = False,
    long_rows: int = 0,
    queries: tuple[QueryResult, ...] | None = None,
    report_id: str = "weekly-ecommerce",
) -> ReportResult:
    """A report of every query kind; `long_rows` adds a top query with that many product rows."""
    if queries is None:
        built = [
            count_query(compare=compare),
            top_query(compare=compare, hostile=hostile),
            amount_query(compare=compare),
            dates_query(),
            trend_query(compare=compare),
        ]
        if long_rows:
            built.append(top_query("all-products", compare=compare, rows=long_rows, seed=9))
        queries = tuple(built)
    return ReportResult(
        report_id=report_id,
        title="Weekly e-commerce" if not hostile else f"Weekly {HOSTILE} {JINJA}",
        description="Orders, products and order values for the week, against the week before.",
        timezone="UTC",
        as_of=AS_OF,
        generated_at=datetime(2026, 11, 30, 7, 0, tzinfo=UTC),
        source="demo" if demo else "local:events.duckdb",
        demo=demo,
        compare="previous_period" if compare else None,
        queries=queries,
        reportkit_version="0.1.0",
    )


def twenty_query_report() -> ReportResult:
    """The bench report: 20 queries of every kind."""
    queries: list[QueryResult] = []
    for i in range(5):
        queries += [
            top_query(f"top-products-{i}", seed=10 + i),
            amount_query(f"order-value-{i}", seed=20 + i),
            count_query(f"orders-{i}"),
            trend_query(f"daily-orders-{i}", seed=30 + i),
        ]
    return make_report(queries=tuple(queries), report_id="bench-20")


def long_way_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A chart spec as drawn before labels lost their limits: every axis label measured against
    its pixel limit (220, histogram bars 160), legend labels against Vega's default."""
    spec = copy.deepcopy(spec)

    def walk(node: Any, limit: int) -> None:
        if isinstance(node, dict):
            if node.get("labelLimit") == 0:
                node["labelLimit"] = limit
            for key, value in node.items():
                histogram = key == "x" and isinstance(value, dict) and value.get("field") == "label"
                walk(value, 160 if histogram else limit)
        elif isinstance(node, list):
            for value in node:
                walk(value, limit)

    spec["config"]["legend"].pop("labelLimit", None)
    walk(spec, 220)
    return spec
