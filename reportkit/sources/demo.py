"""Deterministic e-commerce demo data, generated in bulk by DuckDB SQL.

Every random choice is drawn from MD5 (a fixed, portable function; never Python's or DuckDB's
`hash()`) of a key made of the seed and what the value belongs to: "seed:d:EPOCHDAY:i" for the
i-th event of a day, "seed:p:PID" for a profile. So the events of a calendar date depend only on
(seed, date, events/days), and two stores built on different days agree on the days they share.
One MD5 gives 128 bits, cut into eight 12-bit uniforms u0..u7 and one 32-bit uniform.

Shape: App Launched > Product Viewed > Added To Cart > Charged (a funnel), skewed product and
category popularity, weekends busier, evenings busier, a slow growth trend (+40 % a year around
2026-01-01, clamped), seasonal campaigns, and a few missing values so that "-1" shows up.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from reportkit import store

EVENTS = ("App Launched", "Product Viewed", "Added To Cart", "Charged")
# product -> (category, price, popularity weight)
PRODUCTS = {
    "Running Shoes": ("Fashion", 80, 14),
    "Denim Jacket": ("Fashion", 65, 9),
    "Cotton T-Shirt": ("Fashion", 15, 16),
    "Sunglasses": ("Fashion", 40, 5),
    "Smartphone": ("Electronics", 450, 10),
    "Headphones": ("Electronics", 120, 9),
    "Smartwatch": ("Electronics", 220, 5),
    "Laptop": ("Electronics", 950, 3),
    "Coffee Maker": ("Home", 90, 4),
    "Desk Lamp": ("Home", 30, 3),
    "Bed Sheets": ("Home", 45, 3),
    "Novel": ("Books", 12, 6),
    "Cookbook": ("Books", 25, 2),
    "Face Cream": ("Beauty", 22, 4),
    "Perfume": ("Beauty", 60, 2),
    "Yoga Mat": ("Sports", 28, 3),
    "Football": ("Sports", 20, 1),
}
PAYMENT = {"Credit Card": 35, "UPI": 30, "Debit Card": 15, "Cash on Delivery": 12, "Wallet": 5}
SOURCES = {"google": 38, "direct": 22, "facebook": 15, "instagram": 10, "email": 8, "": 7}
CUSTOMER = {"Bronze": 50, "Silver": 30, "Gold": 15, "Platinum": 5}
GENDER = {"M": 48, "F": 47, "": 5}
CITIES = {
    "Mumbai|India": 16,
    "Bengaluru|India": 14,
    "Delhi|India": 12,
    "Pune|India": 6,
    "New York|United States": 8,
    "San Francisco|United States": 5,
    "London|United Kingdom": 7,
    "Berlin|Germany": 4,
    "Singapore|Singapore": 5,
    "Dubai|United Arab Emirates": 3,
}
OS_DEVICE = {
    "Android|Mobile": 50,
    "iOS|Mobile": 30,
    "iOS|Tablet": 6,
    "Windows|Desktop": 9,
    "macOS|Desktop": 5,
}
HOURS = [1, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 7, 6, 5, 5, 6, 7, 9, 11, 12, 11, 7, 3]
WEEKDAY = [0.95, 0.9, 0.92, 0.97, 1.08, 1.22, 1.12]  # Monday first
ANCHOR = date(2026, 1, 1)
# Bounds of a demo build: profile identities have 7 digits (events // 30 profiles), and a day
# count beyond ten years only makes a long wait.
MAX_EVENTS = 100_000_000
MAX_DAYS = 3660
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9999, 12, 1)


def check_demo_size(*, events: int, days: int, end: date) -> None:
    """Refuse a demo the generator cannot make, in one line (InvalidInput, exit code 2)."""
    from reportkit.errors import InvalidInput

    if not 1 <= events <= MAX_EVENTS:
        raise InvalidInput(f"demo events must be between 1 and {MAX_EVENTS:,}, not {events:,}")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"demo days must be between 1 and {MAX_DAYS:,}, not {days:,}")
    if not FIRST_DAY + timedelta(days=days - 1) <= end <= LAST_DAY:
        raise InvalidInput(
            f"demo data ending on {end.isoformat()} over {days} days would leave"
            f" {FIRST_DAY.isoformat()} .. {LAST_DAY.isoformat()}"
        )


@dataclass(frozen=True, slots=True)
class DemoInfo:
    """What a demo build made."""

    path: str
    seed: int
    events: int
    profiles: int
    start: date
    end: date


def _u(k: int, h: str = "h") -> str:
    """The k-th 12-bit uniform in [0, 1) cut from the 128-bit MD5 column `h`."""
    return f"((({h} >> {12 * k}) & 4095) / 4096.0)"


def _u32(h: str = "h") -> str:
    """A 32-bit uniform in [0, 1) from the top bits of the MD5 column `h`."""
    return f"((({h} >> 96) & 4294967295) / 4294967296.0)"


def _pick(weights: dict[str, int] | list[int], u: str) -> str:
    """A weighted choice as a list lookup: each value repeated by its weight."""
    items = list(weights.items()) if isinstance(weights, dict) else list(enumerate(weights))
    flat = [value for value, weight in items for _ in range(weight)]
    body = store.quote_literals(flat) if isinstance(weights, dict) else ", ".join(map(str, flat))
    return f"([{body}])[1 + floor({u} * {len(flat)})::INTEGER]"


def build_demo(
    path: str | Path,
    *,
    events: int = 300_000,
    seed: int = 42,
    end: date | None = None,
    days: int = 400,
) -> DemoInfo:
    """Build a demo store at `path` (replacing it) with about `events` events over `days` days
    ending on `end` (default yesterday, UTC)."""
    end = end or date.today() - timedelta(days=1)
    check_demo_size(events=events, days=days, end=end)
    start = end - timedelta(days=days - 1)
    target = str(path)
    if target != ":memory:":
        temp = Path(target + ".building")
        temp.unlink(missing_ok=True)
        con = store.connect(temp)
    else:
        con = store.connect(target)
    built = False
    try:
        profiles = _fill(con, events=events, seed=seed, start=start, end=end, days=days)
        row = con.execute("SELECT count(*) FROM events").fetchone()
        total = int(row[0]) if row else 0
        built = True
    finally:
        con.close()
        if not built and target != ":memory:":  # nothing half-built stays behind
            for leftover in (temp, Path(f"{temp}.wal")):
                leftover.unlink(missing_ok=True)
    if target != ":memory:":
        os.replace(temp, target)
        Path(str(temp) + ".wal").unlink(missing_ok=True)
    return DemoInfo(target, seed, total, profiles, start, end)


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """Hold an advisory lock on `folder` (no lock file left behind); a no-op without flock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # a filesystem without flock: go on unlocked
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure_demo(path: str | Path, as_of: date) -> None:
    """Build the demo store on first use, or again when it does not cover the day before as_of.

    Two runs starting at once on a fresh state folder take turns: the second finds the store
    the first built instead of building over it."""
    folder = Path(path).absolute().parent
    folder.mkdir(parents=True, exist_ok=True)
    with _exclusive(folder):
        _ensure_demo(path, as_of)


def _ensure_demo(path: str | Path, as_of: date) -> None:
    needed = as_of - timedelta(days=1)
    if Path(path).is_file():
        con = store.connect(path, read_only=True)
        try:
            first = store.get_meta(con, "demo_start") if store.is_initialized(con) else None
            last = store.get_meta(con, "demo_end") if first else None
        finally:
            con.close()
        if first and last and date.fromisoformat(first) <= needed <= date.fromisoformat(last):
            return
    build_demo(path, end=needed)


def fill_demo(con: object, *, events: int, seed: int, start: date, days: int) -> int:
    """Fill an open, empty connection with demo data (tests use an in-memory engine)."""
    end = start + timedelta(days=days - 1)
    return _fill(con, events=events, seed=seed, start=start, end=end, days=days)


def _decimal_literal(value: float) -> str:
    """`value` as an exact SQL decimal wide enough for the arithmetic it enters: DuckDB types a
    long literal (3448.2758620689656) as DECIMAL(18, 13), and multiplying that overflowed
    whenever the events did not divide evenly by the days."""
    text = repr(value)
    if "e" in text or "inf" in text or "nan" in text:
        raise ValueError(f"demo density {text} out of range")
    scale = len(text.partition(".")[2])
    return f"CAST({text} AS DECIMAL(38, {scale}))"


def _fill(con, *, events: int, seed: int, start: date, end: date, days: int) -> int:  # type: ignore[no-untyped-def]
    con.execute("SET enable_progress_bar = false")
    store.ensure_schema(con, "UTC")
    density = _decimal_literal(events / days)
    n_profiles = max(50, events // 30)
    cols = {
        key: store.add_column(con, scope, name, typ).col
        for key, (scope, name, typ) in {
            "product": ("event_properties", "Product", "STR"),
            "category": ("event_properties", "Category", "STR"),
            "amount": ("event_properties", "Amount", "NUMBER"),
            "payment": ("event_properties", "Payment Mode", "STR"),
            "delivery": ("event_properties", "Delivery Date", "DATE"),
            "source": ("session_properties", "utm_source", "STR"),
            "medium": ("session_properties", "utm_medium", "STR"),
            "campaign": ("session_properties", "utm_campaign", "STR"),
            "customer": ("profile_fields", "Customer Type", "STR"),
            "gender": ("demographics", "Gender", "STR"),
            "age": ("demographics", "Age", "NUMBER"),
            "city": ("geo_fields", "City", "STR"),
            "country": ("geo_fields", "Country", "STR"),
            "os": ("technographics", "OS", "STR"),
            "device": ("technographics", "Device", "STR"),
        }.items()
    }
    con.execute(
        "INSERT INTO event_names SELECT i + 1, ([" + store.quote_literals(EVENTS) + "])[i + 1]"
        f" FROM range({len(EVENTS)}) t(i)"
    )
    con.execute(
        f"INSERT INTO identities SELECT i, 'cust-' || lpad(i::VARCHAR, 7, '0')"
        f" FROM range(1, {n_profiles + 1}) t(i)"
    )
    products = {name: weight for name, (_, _, weight) in PRODUCTS.items()}
    category = (
        "CASE product "
        + " ".join(f"WHEN '{p}' THEN '{c}'" for p, (c, _, _) in PRODUCTS.items())
        + " END"
    )
    price = (
        "CASE product "
        + " ".join(f"WHEN '{p}' THEN {v}" for p, (_, v, _) in PRODUCTS.items())
        + " END"
    )
    weekday = "[" + ", ".join(map(str, WEEKDAY)) + "]"
    anchor = (ANCHOR - date(1970, 1, 1)).days
    day0 = (start - date(1970, 1, 1)).days
    c = cols
    day_noise = _u(0, f"md5_number(concat({seed}, ':day:', dnum))")
    con.execute(
        f"""
        INSERT INTO events (eid, day, ts, pid, hour, {c["product"]}, {c["category"]},
            {c["amount"]}, {c["payment"]}, {c["delivery"]}, {c["source"]}, {c["medium"]},
            {c["campaign"]})
        WITH days AS (
            SELECT dnum, (DATE '1970-01-01' + dnum::INTEGER) AS day,
                   round({density} * {weekday}[isodow(DATE '1970-01-01' + dnum::INTEGER)]
                         * greatest(0.5, least(2.0, 1 + 0.4 * (dnum - {anchor}) / 365.0))
                         * (0.9 + 0.2 * {day_noise})
                   )::INTEGER AS n
            FROM range({day0}, {day0 + days}) t(dnum)
        ), raw AS (
            SELECT dnum, day, i, md5_number(concat({seed}, ':d:', dnum, ':', i)) AS h
            FROM (SELECT dnum, day, unnest(range(n)) AS i FROM days)
        ), picked AS (
            SELECT day, dnum, h,
                   CASE WHEN {_u(0)} < 0.42 THEN 1 WHEN {_u(0)} < 0.76 THEN 2
                        WHEN {_u(0)} < 0.90 THEN 3 ELSE 4 END AS eid,
                   1 + floor(pow({_u32()}, 1.7) * {n_profiles})::INTEGER AS pid,
                   {_pick(HOURS, _u(2))} AS hour,
                   {_pick(products, _u(3))} AS product,
                   {_pick(SOURCES, _u(5))} AS source
            FROM raw
        )
        SELECT eid, day, dnum * 86400 + hour * 3600 + floor({_u(4)} * 3600)::BIGINT AS ts,
               pid, hour,
               CASE WHEN eid > 1 THEN product END,
               CASE WHEN eid > 1 THEN {category} END,
               CASE WHEN eid = 4 THEN round({price} * (0.85 + 0.3 * {_u(6)})
                                       * (1 + floor(pow({_u(7)}, 3) * 3))) END,
               CASE WHEN eid = 4 AND {_u(8)} >= 0.03 THEN {_pick(PAYMENT, _u(6))} END,
               CASE WHEN eid = 4 THEN (dnum + 2 + floor({_u(1)} * 6)::INTEGER) * 86400 END,
               nullif(source, ''),
               CASE source WHEN 'google' THEN (CASE WHEN {_u(1)} < 0.6 THEN 'cpc'
                                               ELSE 'organic' END)
                           WHEN 'facebook' THEN 'social' WHEN 'instagram' THEN 'social'
                           WHEN 'email' THEN 'email' END,
               CASE WHEN source IN ('', 'direct') THEN NULL
                    WHEN month(day) IN (10, 11) AND {_u(8)} < 0.5 THEN 'diwali_sale'
                    WHEN month(day) IN (6, 7) AND {_u(8)} < 0.4 THEN 'summer_sale'
                    WHEN {_u(8)} < 0.25 THEN 'retargeting'
                    WHEN {_u(8)} < 0.45 THEN 'brand' END
        FROM picked
        ORDER BY eid, day
        """
    )
    city = _pick(CITIES, _u(3))
    osdev = _pick(OS_DEVICE, _u(4))
    con.execute(
        f"""
        INSERT INTO profile_history (pid, ts, {c["customer"]}, {c["gender"]}, {c["age"]},
            {c["city"]}, {c["country"]}, {c["os"]}, {c["device"]})
        SELECT pid, {day0}::BIGINT * 86400, {_pick(CUSTOMER, _u(0))},
               nullif({_pick(GENDER, _u(1))}, ''),
               CASE WHEN {_u(5)} >= 0.04 THEN 18 + floor(pow({_u(2)}, 1.5) * 52) END,
               split_part({city}, '|', 1), split_part({city}, '|', 2),
               split_part({osdev}, '|', 1), split_part({osdev}, '|', 2)
        FROM (SELECT i AS pid, md5_number(concat({seed}, ':p:', i)) AS h
              FROM range(1, {n_profiles + 1}) t(i))
        """
    )
    store.refresh_profiles(con)
    for key, value in {
        "demo_seed": seed,
        "demo_start": start.isoformat(),
        "demo_end": end.isoformat(),
        "demo_events": events,
    }.items():
        store.set_meta(con, key, str(value))
    return n_profiles
