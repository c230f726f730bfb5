"""`where:` filters on the demo data: every operator, counted by the engine (directly and through
the emulator and the HTTP client) against counts computed here in plain Python over the same
events read from the store."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reportkit.errors import QueryFailed
from reportkit.language.model import Filter, wire_filters
from reportkit.plan import Request
from reportkit.sources.clevertap import AccountLimiter, CleverTapSource, clevertap_source_from_env
from reportkit.sources.emulator import Emulator, start_emulator
from reportkit.sources.local import LocalEngine
from reportkit.store import EVENT_SCOPES, load_catalog
from reportkit.store.importer import import_events

WINDOW = {"from": 20261101, "to": 20261129}
EVENTS = "/1/counts/events.json"
PROFILES = "/1/counts/profiles.json"
TOP = "/1/counts/top.json"
TRENDS = "/1/counts/trends.json"

Props = dict[tuple[str, str], dict[str, Any]]  # (scope, name) -> {STR|NUMBER|DATE: value}


# -- the events, read from the store, and the rule book in plain Python --------------------------


def read_events(engine: LocalEngine, event: str, start: str, end: str) -> list[tuple[int, Props]]:
    """Every event of `event` in [start, end] with its properties and its profile's."""
    con = engine.connection
    catalog = load_catalog(con)
    columns = [c for cols in catalog.columns.values() for c in cols]
    picks = ", ".join(f"{'e' if c.table == 'events' else 'p'}.{c.col}" for c in columns)
    rows = con.execute(
        f"SELECT e.pid, {picks} FROM events e LEFT JOIN profiles p ON e.pid = p.pid"
        " WHERE e.eid = ? AND e.day BETWEEN ? AND ?",
        [catalog.events[event], start, end],
    ).fetchall()
    out = []
    for pid, *values in rows:
        props: Props = {}
        for column, value in zip(columns, values, strict=True):
            scope = (
                "event"
                if column.scope == "event_properties"
                else "session"
                if column.scope in EVENT_SCOPES
                else "profile"
            )
            props.setdefault((scope, column.name), {})[column.type] = value
        out.append((int(pid), props))
    return out


def holds(props: Props, item: Filter) -> bool:
    typed = props.get((item.scope, item.name), {})
    text = typed.get("STR")
    numbers = [typed[t] for t in ("NUMBER", "DATE") if typed.get(t) is not None]
    present = text is not None or bool(numbers)
    values = item.value if isinstance(item.value, tuple) else (item.value,)

    def equal(value: Any) -> bool:
        if isinstance(value, str):
            if text is None:
                return False
            if value.lower() in ("true", "false"):
                return str(text).lower() == value.lower()
            return bool(text == value)
        return value in numbers

    def inside(value: Any) -> bool:
        return text is not None and value in text

    op = item.operator
    if op == "equals":
        return any(equal(v) for v in values)
    if op == "not_equals":
        return present and not any(equal(v) for v in values)
    if op == "contains":
        return any(inside(v) for v in values)
    if op == "does_not_contain":
        return text is not None and not any(inside(v) for v in values)
    if op == "exists":
        return present
    if op == "does_not_exist":
        return not present
    limit = values[0]
    compare = {
        "greater_than": lambda n: n > limit,
        "greater_than_equals": lambda n: n >= limit,
        "less_than": lambda n: n < limit,
        "less_than_equals": lambda n: n <= limit,
    }[op]
    return any(compare(n) for n in numbers)


def expected(events: list[tuple[int, Props]], filters: tuple[Filter, ...]) -> tuple[int, int]:
    kept = [pid for pid, props in events if all(holds(props, f) for f in filters)]
    return len(kept), len(set(kept))


# -- the cases: every operator, every value shape, every scope -----------------------------------

E, S, P = "event", "session", "profile"
CASES: list[tuple[Filter, ...]] = [
    (Filter(E, "Payment Mode", "equals", "UPI"),),
    (Filter(E, "Payment Mode", "equals", ("UPI", "Wallet")),),
    (Filter(E, "Payment Mode", "not_equals", "UPI"),),
    (Filter(E, "Payment Mode", "not_equals", ("UPI", "Wallet")),),
    (Filter(E, "Product", "contains", "phone"),),
    (Filter(E, "Product", "contains", ("Shoe", "watch")),),
    (Filter(E, "Product", "does_not_contain", "o"),),
    (Filter(E, "Payment Mode", "exists"),),
    (Filter(E, "Payment Mode", "does_not_exist"),),
    (Filter(E, "Amount", "equals", 450),),
    (Filter(E, "Amount", "greater_than", 400),),
    (Filter(E, "Amount", "greater_than_equals", 450),),
    (Filter(E, "Amount", "less_than", 40.5),),
    (Filter(E, "Amount", "less_than_equals", 40),),
    (Filter(E, "Delivery Date", "greater_than", 1_795_000_000),),
    (Filter(S, "utm_source", "equals", "google"),),
    (Filter(S, "utm_campaign", "does_not_exist"),),
    (Filter(P, "Customer Type", "equals", "Gold"),),
    (Filter(P, "City", "not_equals", ("Mumbai", "Delhi")),),
    (Filter(P, "Age", "greater_than", 40),),
    (Filter(P, "Gender", "does_not_exist"),),
    (
        Filter(E, "Payment Mode", "equals", "UPI"),
        Filter(E, "Amount", "greater_than", 100),
        Filter(P, "Customer Type", "not_equals", "Gold"),
    ),
]
IDS = [
    " & ".join(f"{f.name} {f.operator} {f.value if f.value is not None else ''}" for f in case)
    for case in CASES
]


def body_of(filters: tuple[Filter, ...], event: str = "Charged") -> dict[str, Any]:
    return {"event_name": event, **WINDOW, **wire_filters(filters)}


@pytest.fixture(scope="module")
def engine(demo_store: Path) -> Iterator[LocalEngine]:
    local = LocalEngine(demo_store, read_only=True)
    yield local
    local.close()


@pytest.fixture(scope="module")
def charged(engine: LocalEngine) -> list[tuple[int, Props]]:
    return read_events(engine, "Charged", "2026-11-01", "2026-11-29")


@pytest.fixture(scope="module")
def emulator(engine: LocalEngine) -> Iterator[Emulator]:
    emu = start_emulator(engine, account_id="F", passcode="filters-pass", string_req_ids=True)
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def client(emulator: Emulator) -> Iterator[CleverTapSource]:
    env = {
        "CLEVERTAP_ACCOUNT_ID": "F",
        "CLEVERTAP_PASSCODE": "filters-pass",
        "CLEVERTAP_BASE_URL": emulator.url,
    }
    source = clevertap_source_from_env(
        env, poll_interval=0.005, query_timeout=10.0, limiter=AccountLimiter(3)
    )
    yield source
    source.close()


def test_the_cases_are_not_trivial(charged: list[tuple[int, Props]]) -> None:
    """Each case keeps some events and drops some, so a filter ignored would fail its test."""
    total = len(charged)
    assert total > 1000
    for case, name in zip(CASES, IDS, strict=True):
        kept, _ = expected(charged, case)
        assert 0 < kept < total, name


@pytest.mark.parametrize("filters", CASES, ids=IDS)
def test_local_engine_counts_like_the_rule_book(
    engine: LocalEngine, charged: list[tuple[int, Props]], filters: tuple[Filter, ...]
) -> None:
    count, unique = expected(charged, filters)
    status, events = engine.answer(EVENTS, body_of(filters))
    assert (status, events) == (200, {"status": "success", "count": count})
    status, profiles = engine.answer(PROFILES, body_of(filters))
    assert status == 200
    assert (profiles["count"], profiles["tcount"]) == (unique, count)


@pytest.mark.parametrize("filters", CASES, ids=IDS)
def test_emulator_and_client_count_like_the_rule_book(
    client: CleverTapSource, charged: list[tuple[int, Props]], filters: tuple[Filter, ...]
) -> None:
    count, unique = expected(charged, filters)
    answer = client.execute(Request(EVENTS, body_of(filters)))
    assert answer["count"] == count
    answer = client.execute(Request(PROFILES, body_of(filters)))
    assert (answer["count"], answer["tcount"]) == (unique, count)


def test_top_and_trend_answers_obey_the_filters(
    engine: LocalEngine, client: CleverTapSource, charged: list[tuple[int, Props]]
) -> None:
    filters = (Filter(P, "Customer Type", "equals", "Gold"), Filter(S, "utm_source", "exists"))
    kept = [props for _, props in charged if all(holds(props, f) for f in filters)]
    by_mode = Counter(props.get((E, "Payment Mode"), {}).get("STR") or "-1" for props in kept)
    top = {
        **body_of(filters),
        "groups": {"pm": {"property_type": "event_properties", "name": "Payment Mode"}},
    }
    trend = {**body_of(filters), "groups": {"daily": {"trend_type": "daily"}}}
    for answer in (engine.answer(TOP, top)[1], client.execute(Request(TOP, top))):
        assert answer["pm"]["STR"] == dict(by_mode)
    for answer in (engine.answer(TRENDS, trend)[1], client.execute(Request(TRENDS, trend))):
        assert sum(answer["daily"].values()) == len(kept)


@pytest.mark.parametrize(
    ("filters", "named"),
    [
        ({"event_properties": [{"name": "Nope", "operator": "equals", "value": "x"}]}, "'Nope'"),
        (
            {"event_properties": [{"name": "Amount", "operator": "between", "value": 1}]},
            "unknown operator 'between'",
        ),
        (
            {"event_properties": [{"name": "Payment Mode", "operator": "less_than", "value": 3}]},
            "'Payment Mode' less_than 3: the property never holds a number",
        ),
        (
            {"event_properties": [{"name": "Amount", "operator": "contains", "value": "5"}]},
            "'Amount' contains '5': the property never holds text",
        ),
        (
            {"event_properties": [{"name": "Amount", "operator": "greater_than", "value": "5"}]},
            "greater_than takes one number",
        ),
        (
            {"session_properties": [{"name": "time_of_day", "value": ["13:00", "14:00"]}]},
            "time_of_day filters are not supported",
        ),
        ({"advanced_query": {"x": 1}}, "advanced_query is not supported"),
        ({"event_properties": {"name": "Amount"}}, "event_properties must be a list"),
    ],
)
def test_a_filter_that_cannot_be_applied_is_refused_naming_it(
    engine: LocalEngine, client: CleverTapSource, filters: dict[str, Any], named: str
) -> None:
    body = {"event_name": "Charged", **WINDOW, **filters}
    status, answer = engine.answer(EVENTS, body)
    assert status == 400
    assert answer["error"].startswith("Invalid filter : ")
    assert named in answer["error"]
    with pytest.raises(QueryFailed) as caught:
        client.execute(Request(EVENTS, body))
    assert named in str(caught.value)  # the recorded fail form, its error list unpacked


def test_booleans_match_as_true_and_false_strings(tmp_path: Path) -> None:
    lines = [
        {
            "event_name": "Charged",
            "ts": 20261120100000 + i,
            "profile": {"identity": f"u{i % 4}", "profileData": {"Premium": i % 4 == 0}},
            "event_props": {"Gift": i % 3 == 0, "Amount": i},
        }
        for i in range(30)
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    db = tmp_path / "bool.duckdb"
    import_events(db, [events])
    engine = LocalEngine(db, read_only=True)
    try:
        rows = read_events(engine, "Charged", "2026-11-20", "2026-11-20")
        for filters in [
            (Filter(E, "Gift", "equals", "True"),),
            (Filter(E, "Gift", "equals", "False"),),
            (Filter(E, "Gift", "not_equals", "True"),),
            (Filter(P, "Premium", "equals", "True"), Filter(E, "Amount", "less_than", 20)),
        ]:
            count, _ = expected(rows, filters)
            assert 0 < count < len(rows) == 30
            body = {"event_name": "Charged", "from": 20261120, "to": 20261120}
            status, answer = engine.answer(EVENTS, {**body, **wire_filters(filters)})
            assert (status, answer["count"]) == (200, count), filters
        gifts = sum(1 for i in range(30) if i % 3 == 0)  # what the lines above hold
        assert expected(rows, (Filter(E, "Gift", "equals", "True"),))[0] == gifts
    finally:
        engine.close()
